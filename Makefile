# The course's commands.  `make book` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# nbgrader runs helper programs (alembic) by name: the environment's bin/ comes first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
ASSIGNMENTS := $(notdir $(patsubst %/,%,$(wildcard solutions/*/)))
# The course's own modules, compiled to bytecode before a command that starts many Python processes (every grading
# kernel, grader and worker imports them). Where PYTHONDONTWRITEBYTECODE is set, as in many containers, no process
# writes it, and each would compile the same sources again: about 20 ms a kernel, 50 ms a grader. Up-to-date files are
# skipped; the sandbox reads the result, it cannot write it. A checkout this user cannot write to only loses the saving
# (a syntax error still fails where the module is imported).
BYTECODE = $(BIN)/python -m compileall -q softcap_course tests >/dev/null || true

.PHONY: book test release publish grade grading-benchmark postgres postgres-stop clean benchmark benchmark-smoke benchmark-triton-cpu benchmark-gpu benchmark-vocab-parallel stability

# The virtual environment, re-made when requirements.txt or pyproject.toml change.
$(VENV)/.installed: requirements.txt pyproject.toml softcap_course/grading/nbgrader_anywhere.py
	@# Grading runs student code in a bubblewrap sandbox: install Debian's package when it is missing (as root),
	@# or say how to.
	@command -v bwrap >/dev/null || { if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bubblewrap; \
		else echo "note: grading needs bubblewrap (sudo apt-get install bubblewrap)"; fi; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	@# jupyter-events pulls in rfc3987-syntax (jsonschema's optional IRI check), which builds a parser on every import:
	@# 3 s added to each nbgrader command and notebook validation. Nothing here checks IRIs; jsonschema skips it when absent.
	$(BIN)/pip uninstall --quiet --yes rfc3987-syntax
	$(BIN)/pip install --quiet --no-deps -e .
	@# nbgrader reads the environment's etc/jupyter/nbgrader_config.py wherever it runs: below the course root it refuses
	@# instructor commands instead of making an empty gradebook there.
	mkdir -p $(VENV)/etc/jupyter && cp softcap_course/grading/nbgrader_anywhere.py $(VENV)/etc/jupyter/nbgrader_config.py
	touch $@

# Pyodide's runtime for the book's in-browser exercises, from the npm registry, pinned and checked: the tarball's
# SHA-256 must match. Only what the runtime needs is kept (softcap_course/book/tryit.py copies it into the site).
PYODIDE_VERSION := 314.0.7
PYODIDE_SHA256 := 66b7949e5a0cba2250b586d7e368bf12fb482800748d182c4618254b685ffaa0
PYODIDE := .vendor/pyodide-$(PYODIDE_VERSION)
$(PYODIDE)/.complete:
	@command -v npm >/dev/null || { echo "error: the book's in-browser exercises need Pyodide, fetched with npm:" \
		"install Node.js and npm (sudo apt-get install nodejs npm) and run make again" >&2; exit 1; }
	rm -rf $(PYODIDE) .vendor/tmp && mkdir -p .vendor/tmp
	cd .vendor/tmp && npm pack --silent pyodide@$(PYODIDE_VERSION) >/dev/null
	echo "$(PYODIDE_SHA256)  .vendor/tmp/pyodide-$(PYODIDE_VERSION).tgz" | sha256sum --check --quiet
	tar -xzf .vendor/tmp/pyodide-$(PYODIDE_VERSION).tgz -C .vendor/tmp
	mkdir -p $(PYODIDE)
	cd .vendor/tmp/package && cp pyodide.mjs pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip pyodide-lock.json \
		package.json ../../pyodide-$(PYODIDE_VERSION)/
	rm -rf .vendor/tmp
	touch $@

## book: build the HTML book in English into _build/html and in Spanish into _build/html/es (every page executed in
##       each language; any warning or failing cell is an error). One edition only: make book BOOK_LANGUAGE=en (or es)
BOOK_LANGUAGE ?= all
book: $(VENV)/.installed $(PYODIDE)/.complete
	$(BYTECODE)
	$(BIN)/python -m softcap_course.book.editions --language $(BOOK_LANGUAGE)

## publish: build the book and push _build/html to the gh-pages branch of the remote `origin` (GitHub Pages'
##        "Deploy from a branch"; the workflow in .github/workflows/publish.yml does the same on every push to main)
publish: book
	$(BIN)/ghp-import --no-jekyll --no-history --force --push --message "the book, built by make publish" _build/html

## test: the whole test suite (helpers, nbval of the solutions, grading, book build)
# Two pytest-xdist workers, one per core; tests/conftest.py groups what shares a set-up (its scheduler replaces
# loadscope's) and orders the longest groups first.
TEST_WORKERS ?= 2
test: $(VENV)/.installed $(PYODIDE)/.complete
	$(BYTECODE)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

## stability: the softcap/z-loss stability sweep (learning rates x seeds x output variants, float32 and bfloat16
##            autocast) into benchmarks/stability/; resumes where it stopped
stability: $(VENV)/.installed
	$(BIN)/python -m softcap_course.stability

## release: regenerate notebooks/ (what students get) from solutions/ with nbgrader
release: $(VENV)/.installed
	for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment "$$a" --force || exit 1; done

## benchmark: chapter 6's loss benchmark at the CPU target size, results committed under benchmarks/ (takes minutes)
benchmark: $(VENV)/.installed
	$(BIN)/python -m softcap_course.benchmark --n 2048 --d 512 --v 65536 --dtype float32 --device cpu --repeats 3 --rounds 2 \
		--out benchmarks/cpu-n2048-d512-v65536-float32

## benchmark-triton-cpu: every variant, chapter 7's Triton kernel included (through the interpreter), at a size the
##        interpreter manages on a CPU; results committed under benchmarks/
benchmark-triton-cpu: $(VENV)/.installed
	$(BIN)/python -m softcap_course.benchmark --n 512 --d 256 --v 8192 --dtype float32 --device cpu --repeats 3 --rounds 2 \
		--chunk-size 128 --out benchmarks/cpu-n512-d256-v8192-float32

## benchmark-gpu: on a GPU, every variant at Gemma's shape (8 192 tokens, D = 2 304, V = 262 144, bfloat16);
##        Liger-Kernel and Cut Cross-Entropy run only if installed (pip install liger-kernel cut-cross-entropy)
benchmark-gpu: $(VENV)/.installed
	$(BIN)/python -m softcap_course.benchmark --n 8192 --d 2304 --v 262144 --dtype bfloat16 --device cuda --repeats 5 \
		--rounds 2 --chunk-size 1024 --out benchmarks/cuda-n8192-d2304-v262144-bfloat16

## benchmark-vocab-parallel: chapter 8's scaling: per-process peak memory and time for 1, 2 and 4 gloo processes at a
##        fixed N and V on the CPU, results committed under benchmarks/
benchmark-vocab-parallel: $(VENV)/.installed
	$(BIN)/python -m softcap_course.vocab_parallel_benchmark --n 2048 --v 65536 --processes 1,2,4 --repeats 3 \
		--out benchmarks/vocab-parallel-cpu-n2048-v65536-float32

## benchmark-smoke: the same benchmark at a tiny size (seconds), into the git-ignored benchmarks/tmp/
benchmark-smoke: $(VENV)/.installed
	$(BIN)/python -m softcap_course.benchmark --n 64 --d 16 --v 512 --repeats 2 --chunk-size 16 --out benchmarks/tmp/smoke

## grade: one grading round (check submitted/, autograde, feedback, export grades.csv) with progress and a report
##        of every problem found; `make grade ASSIGNMENT=01-softmax` grades one assignment only; submissions are
##        graded N at a time with `make grade --jobs N` (or JOBS=N; default: one per core); FORCE=1 regrades all
# make's own --jobs/-j N reaches the recipe in MAKEFLAGS as -jN.
JOBS ?= $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS)))
grade: $(VENV)/.installed
	$(BYTECODE)
	$(BIN)/python -m softcap_course.grading.instructor $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) $(ASSIGNMENT)

## grading-benchmark: a synthetic class of 30 through every assignment, graded by 1 and 2 workers over SQLite and a
##        throw-away PostgreSQL: submissions per minute and seconds per submission (about 100 minutes on 2 cores)
grading-benchmark: $(VENV)/.installed
	$(BYTECODE)
	$(BIN)/python -m softcap_course.grading.benchmark --students 30 --jobs 1,2 --databases sqlite,postgresql \
		--out benchmarks/grading/class-of-30-parallel

## postgres: a lasting PostgreSQL gradebook server in DIR (no sudo, no system service; root is fine), prints the
##        NBGRADER_DB_URL to export; `make postgres-stop DIR=...` stops it
DIR ?= $(HOME)/softcap-gradebook
postgres: $(VENV)/.installed
	$(BIN)/python -m softcap_course.grading.postgres start $(DIR)
postgres-stop: $(VENV)/.installed
	$(BIN)/python -m softcap_course.grading.postgres stop $(DIR)

clean:
	rm -rf _build gradebook.db

# The course's commands.  `make book` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# nbgrader runs helper programs (alembic) by name: the environment's bin/ comes first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
ASSIGNMENTS := $(notdir $(wildcard solutions/*))

.PHONY: book test release clean

# The virtual environment, re-made when requirements.txt or pyproject.toml change.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

## book: build the HTML book into _build/html (pages executed; any warning or failing cell is an error)
book: $(VENV)/.installed
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

## test: the whole test suite (helpers, nbval of the solutions, grading, book build)
test: $(VENV)/.installed
	$(BIN)/python -m pytest

## release: regenerate notebooks/ (what students get) from solutions/ with nbgrader
release: $(VENV)/.installed
	for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment "$$a" --force || exit 1; done

clean:
	rm -rf _build gradebook.db

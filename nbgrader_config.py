# nbgrader configuration for the course, used by every nbgrader command run from the repository root.
import os
import resource
import sys

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "softcap-course"
# The folder of this file, absolute (nbgrader warns about a relative root, and this one is right from anywhere).
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# nbgrader's "source" and "release" steps live in solutions/ and notebooks/; the other steps keep their names.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# The gradebook: SQLite in the course root by default. Several graders at once need a database server:
# set NBGRADER_DB_URL to any SQLAlchemy URL, e.g. postgresql://grader:secret@db.example.org/softcap_course
if os.environ.get("NBGRADER_DB_URL"):
    c.CourseDirectory.db_url = os.environ["NBGRADER_DB_URL"]

# `make grade --jobs N` runs N nbgrader commands side by side (softcap_course/grading/parallel.py): each grades only its share
# of the class, and sessions on a SQLite gradebook take turns (a lock file beside it), so no write is refused.
if sys.argv[1:2] in (["autograde"], ["generate_feedback"]):
    from softcap_course.grading import parallel

    parallel.serialise_sqlite_gradebooks()
    _share = parallel.students_from_environment()
    if _share is not None:
        parallel.grade_only(_share)

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Only students on the roster are graded (`nbgrader db student import roster.csv`): a stray folder in
# submitted/ gets an error message and no gradebook row, instead of a new student.
c.Autograde.create_student = False

# A test cell a student deleted is put back from the gradebook and graded (off by default in nbgrader 0.9).
c.OverwriteCells.add_missing_cells = True

# `nbgrader validate` cuts every printed line at Validator.width (80 by default): the checks' messages wrap their
# lines below 100 characters, so with this width students see every line of a failure whole.
c.Validator.width = 100

# No cell of these notebooks needs more than a few seconds; a student's endless loop is interrupted here
# and only that cell (and what depends on it) fails. NBGRADER_CELL_TIMEOUT overrides it (the tests use 5 s).
c.Execute.timeout = int(os.environ.get("NBGRADER_CELL_TIMEOUT", "60"))

# nbgrader is not a sandbox: student code runs with the grader's rights. While autograding, cap the address
# space (inherited by every kernel) so that a huge allocation fails with MemoryError inside that notebook
# instead of exhausting the machine. NBGRADER_KERNEL_MEMORY_GIB overrides the cap.
if "autograde" in sys.argv[1:2]:
    _cap = int(float(os.environ.get("NBGRADER_KERNEL_MEMORY_GIB", "8")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))

# A submission is graded by several processes at once (its kernel, its verification worker, the grader re-running its
# tests, the memory measurements), on small tensors: one thread each, unless the instructor sets these variables.
# With a thread per core, OpenMP's threads spin waiting for each other: a class of chapter 6 took a quarter more time
# and half again the CPU.
if "autograde" in sys.argv[1:2]:
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")
    # A kernel whose notebook has run is killed, not asked to shut down: nothing in it needs a clean exit (its files
    # are a tmpfs that goes with its sandbox), and a polite shutdown waits about 0.6 s for Python to tear down.
    c.Execute.shutdown_kernel = "immediate"

# Every kernel that autograding starts runs in a bubblewrap sandbox (softcap_course/grading/sandbox.py): it sees its own
# submission and a read-only Python, nothing else, no network, and nothing it starts outlives it. Each is forked from
# this process's warm sandbox, which ran the notebook's import cells once (softcap_course/grading/kernel_zygote.py).
# Kernels then talk to nbgrader over Unix sockets (the ipc transport). Where the sandbox cannot start, grading stops,
# unless the instructor sets NBGRADER_ALLOW_UNSANDBOXED=1 (student code then runs with the grader's rights).
if "autograde" in sys.argv[1:2]:
    from softcap_course.grading import sandbox

    _problem = sandbox.problem()
    if _problem is None:
        # This process's kernel spec and the folder of its kernels' sockets, removed when it ends (by `make grade`
        # when it was killed: the folder is named after its pid).
        _scratch = sandbox.grader_folder(os.getpid())
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            [str(sandbox.kernel_spec_dir(_scratch))] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
        c.Execute.kernel_name = sandbox.KERNEL_NAME
        c.KernelManager.transport = "ipc"
        c.KernelManager.ip = str(_scratch / "sockets" / "kernel")
        import atexit
        import shutil

        atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    elif os.environ.get(sandbox.ALLOW_UNSANDBOXED) == "1":
        print(f"WARNING: grading WITHOUT a sandbox ({sandbox.ALLOW_UNSANDBOXED}=1): {_problem}. Student code runs "
              "with your rights.", file=sys.stderr)
    else:
        sys.exit(f"nbgrader autograde refused: the grading sandbox cannot start ({_problem}). Install bubblewrap "
                 f"(apt-get install bubblewrap) on a machine with user namespaces, or set {sandbox.ALLOW_UNSANDBOXED}=1 "
                 "to grade without it, at your own risk: student code then runs with your rights.")

# `nbgrader validate` prints its verdict and nothing else: no "Validating ..." line, and no warning from the kernel
# that its connection to nbgrader (over the loopback interface, on this machine) is not encrypted: a local kernel's
# normal case, which ipykernel logs at WARNING on every start. Its errors still show.
if sys.argv[1:2] == ["validate"]:
    c.ValidateApp.log_level = "WARN"
    c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]

# The score that counts is decided outside the student's process (softcap_course/grading/verification.py): a sandboxed worker
# holds the submission's functions, and this process runs every test cell against it. The kernel runs the test
# cells' visible parts (students' feedback); a cell that passed there but fails here scores 0 and is reported.
if "autograde" in sys.argv[1:2]:
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    from softcap_course.grading.sanitise import SanitiseOutputs
    from softcap_course.grading.verification import StartVerification, VerifyOutsideKernel

    # SanitiseOutputs: what a submission displays stays inert in the formgrader and the feedback (no script runs).
    c.Autograde.autograde_preprocessors = [StartVerification, Execute, VerifyOutsideKernel, SanitiseOutputs, IgnorePattern,
                                           ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                                           AssignLatePenalties, CheckCellMetadata]
    c.StartVerification.call_timeout = float(c.Execute.timeout)

# Feedback must not show the hidden tests (nbgrader #1363): clear their code and shorten test-cell tracebacks.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

from softcap_course.grading.feedback import MathAsMathML, ShortTestTracebacks, offline_feedback_pages  # noqa: E402
from softcap_course.grading.sanitise import SanitiseOutputs  # noqa: E402

# The feedback page is inert (SanitiseOutputs) and self-contained: its math is MathML, which the browser draws, and no
# script is loaded from another site (offline_feedback_pages).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortTestTracebacks, SanitiseOutputs, MathAsMathML,
                                    CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.post_convert_hook = offline_feedback_pages
# nbconvert's own sanitising of HTML as a second wall in the formgrader's view of a submission (not in the feedback,
# whose MathML it would strip; what a student wrote is cleaned there already).
if sys.argv[1:2] != ["generate_feedback"]:
    c.HTMLExporter.sanitize_html = True

"""The graders are tested like code: full marks for the solutions, zero for the blank release,
points lost by every mutant on the test meant to catch it, full marks for every other correct version."""

import pytest

import grading
from conftest import student_id
from mutants import dependents, entries

ASSIGNMENTS = grading.assignments()
# Assignments whose wrong entries each name the words their failure must show (the hint meant for that mistake).
MESSAGES_CHECKED = ("06-softcap-gpu", "07-softcap-triton", "08-vocab-parallel")
ENTRIES = [(a, e) for a in ASSIGNMENTS for e in entries(a)]
WRONG = [(a, e) for a, e in ENTRIES if e.kind == "wrong"]
RIGHT = [(a, e) for a, e in ENTRIES if e.kind == "right"]


def _ids(cases):
    return [f"{a}:{e.target}:{e.name}" for a, e in cases]


def _normalised(notebook):
    """A notebook as a comparable dict, without what legitimately varies between runs."""
    data = dict(notebook)
    data["metadata"] = {k: v for k, v in notebook.metadata.items() if k != "language_info"}
    data["cells"] = [{k: v for k, v in cell.items() if k not in ("execution_count", "outputs")}
                     for cell in notebook.cells]
    return data


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates_from_the_solutions(assignment, graded):
    root, _ = graded(assignment)
    committed = grading.read_notebook(grading.notebook_path("notebooks", assignment))
    fresh = grading.read_notebook(root / "notebooks" / assignment / f"{assignment}.ipynb")
    assert _normalised(committed) == _normalised(fresh), (
        f"notebooks/{assignment} is out of date with solutions/{assignment}: run `make release` and commit it")


def _body(source):
    """A solution cell's source without the signature and docstring of the function it defines (the release keeps
    both)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef) or len(tree.body) != 1:
        return source
    body = definition.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring stays in the release too
    return "\n".join(source.splitlines()[body[0].lineno - 1:]) if body else ""


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_and_no_hidden_test(assignment):
    text = grading.notebook_path("notebooks", assignment).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"notebooks/{assignment} still contains {marker!r}"
    for grade_id, source in grading.solution_sources(assignment).items():
        body = [line.strip() for line in _body(source).splitlines()
                if line.strip() and not line.lstrip().startswith(("def ", '"""', "#"))]
        leaked = [line for line in body if line in text and len(line) > 20]
        assert not leaked, f"notebooks/{assignment}: solution lines of {grade_id} leaked: {leaked}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solutions_get_full_marks(assignment, graded):
    root, scores = graded(assignment)
    solution = scores["solution"]
    assert set(solution.by_test) == set(grading.test_cells(assignment)), "every test cell must be graded"
    assert solution.total == solution.max_total > 0, (
        f"the solutions lost {solution.lost()}:\n{grading.failing_outputs(root, assignment, 'solution')}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_gets_zero_on_every_test(assignment, graded):
    _, scores = graded(assignment)
    blank = scores["blank"]
    assert set(blank.by_test) == set(grading.test_cells(assignment))
    scored = {name: score for name, (score, _) in blank.by_test.items() if score != 0}
    assert not scored, f"the untouched release scored points on {scored}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mutant_table_covers_every_graded_function(assignment):
    functions = [grade_id for grade_id, source in grading.solution_sources(assignment).items()
                 if source.lstrip().startswith(("def ", "@triton.jit\ndef "))]
    assert functions, "every assignment has graded functions"
    table = entries(assignment)
    tests = grading.test_cells(assignment)
    for function in functions:
        wrong = [e for e in table if e.kind == "wrong" and e.target == function]
        right = [e for e in table if e.kind == "right" and e.target == function]
        assert len(wrong) >= 6, f"{function}: only {len(wrong)} wrong implementations in the mutant table"
        assert len(right) >= 2, f"{function}: only {len(right)} alternative correct implementations"
    for entry in table:
        assert entry.target in grading.solution_sources(assignment), f"{entry.name}: no solution cell {entry.target}"
        if entry.kind == "wrong":
            assert entry.caught_by in tests, f"{entry.name}: no test cell {entry.caught_by}"
            assert entry.why, f"{entry.name}: say what is wrong with it in its docstring"
            assert entry.shows or assignment not in MESSAGES_CHECKED, (
                f"{entry.name}: say which words of the hint meant for this mistake its failure must show (shows=)")


@pytest.mark.parametrize(("assignment", "entry"), WRONG, ids=_ids(WRONG))
def test_wrong_implementation_loses_points_on_its_test(assignment, entry, graded):
    root, scores = graded(assignment)
    result = scores[student_id(entry)]
    score, maximum = result.by_test[entry.caught_by]
    assert score < maximum, (f"{entry.name} ({entry.why}) got full marks on {entry.caught_by}; it lost "
                             f"{result.lost() or 'nothing'}")
    assert result.total < result.max_total
    if entry.shows:  # the student is told the real mistake, not another one (compared without line breaks)
        shown = grading.cell_failure(root, assignment, student_id(entry), entry.caught_by)
        assert "".join(entry.shows.lower().split()) in "".join(shown.lower().split()), (
            f"{entry.name} ({entry.why}) failed {entry.caught_by}, but what the student sees does not say "
            f"{entry.shows!r}:\n{shown}")
    # Its own tests, and those of the functions that call it (a kernel's mistake shows in its launcher's tests too).
    own = (entry.target, *dependents(assignment).get(entry.target, ()))
    others = {name: s for name, s in result.lost().items() if not name.startswith(tuple(f"test_{f}" for f in own))}
    assert not others, (f"{entry.name} changed only {entry.target}, yet lost points elsewhere: {others}\n"
                        f"{grading.failing_outputs(root, assignment, student_id(entry))}")


@pytest.mark.parametrize(("assignment", "entry"), RIGHT, ids=_ids(RIGHT))
def test_alternative_correct_implementation_gets_full_marks(assignment, entry, graded):
    root, scores = graded(assignment)
    result = scores[student_id(entry)]
    assert result.total == result.max_total, (
        f"{entry.name} ({entry.why}) is correct but lost {result.lost()}:\n"
        f"{grading.failing_outputs(root, assignment, student_id(entry))}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_complete_notebook_validates_with_nothing_but_the_verdict(assignment, tmp_path):
    """What a student sees from `nbgrader validate` (run from the course root, as the README says) when every answer is
    right: the verdict alone. No cell output nbgrader warns about, no log line, no kernel warning."""
    import subprocess

    import nbformat

    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(grading.submission(assignment, grading.solution_sources(assignment)), str(path))
    result = subprocess.run([grading.BIN / "nbgrader", "validate", path], cwd=grading.REPO, capture_output=True,
                            text=True, env=grading.classroom.tool_env(), timeout=600)
    assert (result.returncode, result.stdout + result.stderr) == (0, "Success! Your notebook passes all the tests.\n")

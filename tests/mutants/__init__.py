"""Mutant tables: plausible wrong implementations ("wrong") and correct ones written differently ("right").

One module per assignment, named after it (``01-softmax`` -> ``a01_softmax``). Each entry replaces one
solution cell of the release notebook (the cell whose grade_id is ``target``); every other solution cell gets
the reference answer. A wrong entry must lose points on the test cell ``caught_by``; a right one must get full marks.
Function entries must be self-contained: the notebook's own imports (``np``) are all they may rely on.

Most wrong entries are the reference answer with one deliberate mistake, made by editing its text (``mistakes``);
the correct alternatives, and the few wrong versions unlike the reference, are written out as functions.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    kind: str  # "wrong" or "right"
    target: str  # grade_id of the solution cell it replaces
    name: str
    source: str  # the cell's new source
    caught_by: str = ""  # wrong entries: the test cell meant to catch it
    why: str = ""
    shows: str = ""  # wrong entries: words the failure of ``caught_by`` must show the student (the hint meant for it)


def _register(module, entry):
    module_entries = module.setdefault("ENTRIES", [])
    if any(e.kind == entry.kind and e.target == entry.target and e.name == entry.name for e in module_entries):
        raise ValueError(f"duplicate entry {entry.kind} {entry.target}/{entry.name}")
    module_entries.append(entry)


def wrong(target, caught_by, shows=""):
    """Decorator: the function is a wrong version of ``target``; its docstring says what is wrong."""
    def register(function):
        from grading import function_source

        _register(function.__globals__, Entry("wrong", target, function.__name__,
                                              function_source(function, target), caught_by,
                                              (function.__doc__ or "").strip(), shows))
        return function
    return register


def right(target):
    """Decorator: the function is a correct version of ``target``, written differently from the reference."""
    def register(function):
        from grading import function_source

        _register(function.__globals__, Entry("right", target, function.__name__,
                                              function_source(function, target), "",
                                              (function.__doc__ or "").strip()))
        return function
    return register


def wrong_source(namespace, target, name, source, caught_by, why, shows=""):
    """A wrong answer cell given as source (for answer cells that are not functions)."""
    _register(namespace, Entry("wrong", target, name, source, caught_by, why, shows))


def mistakes(namespace, assignment, target):
    """The function ``mistake(name, caught_by, why, *edits)`` of one graded function: it registers as a wrong entry
    the reference answer of ``target`` with each ``(old, new)`` edit made in turn (``shows=``: see ``Entry.shows``).
    Each ``old`` must occur exactly once, so that a change of the reference cannot silently turn a mutant into a copy
    of it, or edit the wrong place."""
    from grading import solution_sources

    reference = solution_sources(assignment)[target]

    def mistake(name, caught_by, why, *edits, shows=""):
        source = _edited(reference, edits, f"{assignment} {target}/{name}", f"the reference answer (solutions/{assignment})")
        wrong_source(namespace, target, name, source, caught_by, why, shows)

    return mistake


def _edited(source, edits, who, what):
    """``source`` with each ``(old, new)`` edit made in turn; each ``old`` must occur exactly once."""
    if not edits:
        raise ValueError(f"{who}: at least one edit is needed")
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"{who}: {old!r} occurs {source.count(old)} times in {what}, not exactly once")
        source = source.replace(old, new)
    return source


def right_source(namespace, target, name, why, source):
    """A correct answer cell given as source (for a kernel, which this process cannot define: its decorator stays)."""
    _register(namespace, Entry("right", target, name, source.strip("\n"), "", why))


def right_variant(namespace, target, name, base, why, *edits):
    """A correct version made from the right entry ``base`` of the same table by ``(old, new)`` edits."""
    original = next(e for e in namespace["ENTRIES"] if e.kind == "right" and e.name == base)
    _register(namespace, Entry("right", target, name, _edited(original.source, edits, f"{target}/{name}", base), "",
                               why))


def module_name(assignment):
    return f"mutants.a{assignment.replace('-', '_')}"


def entries(assignment):
    """All entries of the assignment's mutant table (none when the table does not exist yet:
    test_mutant_table_covers_every_graded_function then fails and says so)."""
    try:
        module = importlib.import_module(module_name(assignment))
    except ModuleNotFoundError as error:
        if error.name != module_name(assignment):
            raise
        return []
    return list(module.ENTRIES)


def dependents(assignment):
    """graded function -> the graded functions that call it (their tests may fail too when it is wrong)."""
    try:
        module = importlib.import_module(module_name(assignment))
    except ModuleNotFoundError as error:
        if error.name != module_name(assignment):
            raise
        return {}
    return dict(getattr(module, "DEPENDENTS", {}))

"""Shared helpers for the course "From -max to softcap".

Only helpers live here (teaching checks, tables, the running example, explorers, the benchmark):
never the graded functions' solutions, which students write in the notebooks.

The names below are imported on first use: every grading kernel starts through ``softcap_course.grading.sandbox``, which
must not pay for NumPy before the kernel itself starts.
"""

_LAZY = {"TENSE_LABELS": "examples", "TENSE_LOGITS": "examples", "OVERFLOW_LOGITS": "examples",
         "markdown_table": "tables", "tr": "words"}
__all__ = list(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'softcap_course' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value

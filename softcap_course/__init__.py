"""Shared helpers for the course "From -max to softcap".

Only helpers live here (teaching checks, tables, the running example, explorers, the benchmark):
never the graded functions' solutions, which students write in the notebooks.
"""

from .examples import TENSE_LABELS, TENSE_LOGITS, OVERFLOW_LOGITS
from .tables import markdown_table

__all__ = ["TENSE_LABELS", "TENSE_LOGITS", "OVERFLOW_LOGITS", "markdown_table"]

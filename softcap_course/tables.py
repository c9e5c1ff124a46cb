"""Tables on book pages, built from computed values (never typed in)."""

import numpy as np
from IPython.display import Markdown


def _cell(value, digits):
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}"
    return str(value)


def _escaped(text):
    return str(text).replace("\\|", "|").replace("|", "\\|").replace("\n", " ")


def markdown_table(headers, rows, digits=6):
    """A Markdown table for ``IPython.display``: floats shown with ``digits`` significant digits."""
    # A "|" inside a cell (|logit|, |LSE - torch|) would end the cell and the table would render as raw text.
    lines = ["| " + " | ".join(_escaped(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, the table has {len(headers)} columns")
        lines.append("| " + " | ".join(_escaped(_cell(v, digits)) for v in row) + " |")
    return Markdown("\n".join(lines))

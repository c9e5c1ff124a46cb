"""Tables on book pages, built from computed values (never typed in)."""

import numpy as np
from IPython.display import Markdown


def _cell(value, digits):
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(headers, rows, digits=6):
    """A Markdown table for ``IPython.display``: floats shown with ``digits`` significant digits."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, the table has {len(headers)} columns")
        lines.append("| " + " | ".join(_cell(v, digits).replace("|", "\\|") for v in row) + " |")
    return Markdown("\n".join(lines))

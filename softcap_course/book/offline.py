"""Sphinx extension: the book works offline, with no CDN.

Math is rendered by a local copy of MathJax 2.7 (shipped inside the ``jupyter-server-mathjax`` wheel,
pinned in requirements.txt) instead of the MathJax CDN that Sphinx links to by default.
"""

from pathlib import Path

# MyST marks the elements that hold math with these classes; MathJax must process only those.
_MATH_CLASSES = "tex2jax_process|mathjax_process|math|output_area"


def _use_local_mathjax(app, config):
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    config.html_static_path = [*config.html_static_path, str(static)]
    # The wheel ships only the "-full" combined configuration (TeX input, HTML-CSS/MathML output).
    config.mathjax_path = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
    config.mathjax2_config = {
        "tex2jax": {"processClass": _MATH_CLASSES, "ignoreClass": "tex2jax_ignore|mathjax_ignore|document"},
        # The wheel ships the STIX-Web fonts only (not MathJax's TeX fonts): use them, never a font of the system.
        "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
        "messageStyle": "none",
    }


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

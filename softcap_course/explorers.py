"""Two explorers: a temperature slider (chapter 4) and a softcap slider (chapter 5).

Each explorer comes in three layers, kept apart so that the numbers can be tested without drawing anything:

* ``temperature_frame`` / ``softcap_frame``: pure functions computing the numbers behind one picture;
* ``draw_temperature`` / ``draw_softcap``: draw one frame on a matplotlib figure;
* ``temperature_explorer`` / ``softcap_explorer``: the sliders.  ``static=False`` (the default) gives live
  ipywidgets sliders that redraw the figure in a running kernel (JupyterLab 4, Notebook 7).  ``static=True``
  gives a self-contained HTML player for the published book: every frame is drawn at build time and embedded
  as a PNG, and a few lines of inline JavaScript swap the picture when a slider moves.  No kernel, no server,
  no CDN.

The frames use SciPy's softmax and entropy, not the graded notebooks' functions (students write those).
"""

import base64
import hashlib
import html
import io
import json
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import entr, softmax

from .examples import TENSE_LABELS, TENSE_LOGITS
from .words import tr

__all__ = ["TemperatureFrame", "SoftcapFrame", "temperature_frame", "softcap_frame", "entropy_curve",
           "draw_temperature", "draw_softcap", "temperature_explorer", "softcap_explorer", "StaticExplorer",
           "STATIC_TEMPERATURES", "STATIC_CAPS", "STATIC_SCALES"]

# The slider positions of the static (HTML) explorers: round numbers, roughly evenly spaced on a log scale.
STATIC_TEMPERATURES = (0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)
STATIC_CAPS = (1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)
STATIC_SCALES = (1.0, 2.0, 5.0, 10.0, 20.0)
# The live sliders' ranges (log scale).
TEMPERATURE_RANGE = (0.05, 10.0)
CAP_RANGE = (1.0, 100.0)
SCALE_RANGE = (0.5, 20.0)


# ---------------------------------------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class TemperatureFrame:
    temperature: float
    probabilities: np.ndarray  # softmax(logits / temperature)
    entropy: float  # nats
    max_entropy: float  # log(K): the entropy of the uniform distribution


def temperature_frame(logits, temperature):
    """The numbers behind one picture of the temperature explorer."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    probabilities = softmax(z)
    return TemperatureFrame(float(temperature), probabilities, float(entr(probabilities).sum()), math.log(z.size))


def entropy_curve(logits, temperatures):
    """Entropy (nats) of softmax(logits / T) for each T: the curve drawn next to the bars."""
    return np.array([temperature_frame(logits, t).entropy for t in temperatures])


@dataclass(frozen=True)
class SoftcapFrame:
    cap: float
    scale: float
    raw: np.ndarray  # scale * logits
    capped: np.ndarray  # cap * tanh(raw / cap)
    probabilities_raw: np.ndarray
    probabilities_capped: np.ndarray
    gradient_factor: np.ndarray  # d capped / d raw = 1 - tanh(raw / cap)**2


def softcap_frame(logits, cap, scale=1.0):
    """The numbers behind one picture of the softcap explorer: the logits are multiplied by ``scale``, then capped."""
    raw = float(scale) * np.asarray(logits, dtype=np.float64)
    ratio = raw / float(cap)
    capped = float(cap) * np.tanh(ratio)
    # sech^2 = 1 / cosh^2 keeps its tiny values where 1 - tanh^2 would round to 0 (cosh overflows to inf: 1/inf = 0).
    with np.errstate(over="ignore"):
        gradient = 1.0 / np.cosh(ratio) ** 2
    return SoftcapFrame(float(cap), float(scale), raw, capped, softmax(raw), softmax(capped), gradient)


# ---------------------------------------------------------------------------------------------- the drawing


def _figure(fig, width, height):
    import matplotlib.pyplot as plt

    if fig is None:
        return plt.figure(figsize=(width, height))
    fig.clf()
    return fig


def draw_temperature(frame, labels=TENSE_LABELS, curve=None, fig=None):
    """Probability bars (left) and the entropy against the temperature (right); returns the figure.

    ``curve`` is ``(temperatures, entropies)`` for the right panel (computed by the caller once, not per frame).
    """
    fig = _figure(fig, 9.0, 3.2)
    ax_bars, ax_curve = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    positions = np.arange(len(labels))
    ax_bars.barh(positions, frame.probabilities, color="tab:blue")
    for y, p in zip(positions, frame.probabilities):
        ax_bars.text(min(p, 0.8) + 0.02, y, f"{p:.3f}", va="center", fontsize=9)
    ax_bars.set_yticks(positions, [tr(label) for label in labels])
    ax_bars.invert_yaxis()
    ax_bars.set_xlim(0, 1)
    ax_bars.set_xlabel(tr("probability"))
    ax_bars.set_title(tr("softmax(logits / T),  T = {:.3g}", frame.temperature))
    if curve is not None:
        temperatures, entropies = curve
        ax_curve.semilogx(temperatures, entropies, color="tab:gray")
    ax_curve.axhline(frame.max_entropy, color="tab:green", linestyle="--", linewidth=1)
    ax_curve.text(TEMPERATURE_RANGE[0] * 1.1, frame.max_entropy * 0.93, tr("log K (uniform)"), color="tab:green",
                  fontsize=9)
    ax_curve.semilogx([frame.temperature], [frame.entropy], "o", color="tab:red", markersize=9)
    ax_curve.set_xlim(*TEMPERATURE_RANGE)
    ax_curve.set_ylim(0, frame.max_entropy * 1.08)
    ax_curve.set_xlabel(tr("temperature T (log scale)"))
    ax_curve.set_ylabel(tr("entropy (nats)"))
    ax_curve.set_title(tr("entropy = {:.3f} nats", frame.entropy))
    fig.tight_layout()
    return fig


def draw_softcap(frame, labels=TENSE_LABELS, x_limit=None, fig=None):
    """The cap curve with the logits on it, the distributions before and after, the gradient factor.

    The curve is drawn over [-x_limit, x_limit]; by default wide enough for the logits and for the cap.
    """
    fig = _figure(fig, 11.0, 3.4)
    if x_limit is None:
        x_limit = 1.2 * max(float(np.max(np.abs(frame.raw))), frame.cap)
    ax_curve, ax_probs, ax_grad = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.2, 1]})
    xs = np.linspace(-x_limit, x_limit, 401)
    ax_curve.plot(xs, xs, color="tab:gray", linestyle=":", linewidth=1, label=tr("no cap"))
    ax_curve.plot(xs, frame.cap * np.tanh(xs / frame.cap), color="tab:orange", label=tr("cap·tanh(x/cap)"))
    ax_curve.plot(frame.raw, frame.capped, "o", color="tab:red", markersize=6, label=tr("the logits"))
    ax_curve.set_xlim(-x_limit, x_limit)
    ax_curve.set_ylim(-x_limit, x_limit)
    ax_curve.set_xlabel(tr("raw logit"))
    ax_curve.set_ylabel(tr("capped logit"))
    ax_curve.set_title(tr("cap = {:.3g}, logits × {:.3g}", frame.cap, frame.scale))
    ax_curve.legend(loc="upper left", fontsize=7)
    positions = np.arange(len(labels))
    ax_probs.barh(positions - 0.2, frame.probabilities_raw, height=0.4, color="tab:gray", label=tr("raw"))
    ax_probs.barh(positions + 0.2, frame.probabilities_capped, height=0.4, color="tab:orange", label=tr("capped"))
    ax_probs.set_yticks(positions, [tr(label) for label in labels], fontsize=8)
    ax_probs.invert_yaxis()
    ax_probs.set_xlim(0, 1)
    ax_probs.set_xlabel(tr("probability"))
    ax_probs.set_title(tr("softmax before and after"))
    ax_probs.legend(loc="lower right", fontsize=7)
    ax_grad.barh(positions, frame.gradient_factor, color="tab:purple")
    ax_grad.set_yticks(positions, [])
    ax_grad.invert_yaxis()
    ax_grad.set_xlim(0, 1.05)
    ax_grad.set_xlabel(tr("1 − tanh²(x / cap)"))
    ax_grad.set_title(tr("gradient factor"))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- static HTML

_PLAYER_SCRIPT = """(function () {
  var root = document.getElementById("%(id)s");
  var frames = JSON.parse(root.querySelector("script.explorer-frames").textContent);
  var sizes = %(sizes)s, names = %(names)s;
  var inputs = root.querySelectorAll("input.explorer-slider");
  var outputs = root.querySelectorAll("output.explorer-value");
  var image = root.querySelector("img.explorer-frame");
  function update() {
    var index = 0;
    for (var k = 0; k < inputs.length; k++) {
      var position = Number(inputs[k].value);
      index = index * sizes[k] + position;
      outputs[k].textContent = names[k][position];
    }
    image.src = "data:image/png;base64," + frames[index];
  }
  for (var k = 0; k < inputs.length; k++) { inputs[k].addEventListener("input", update); }
})();"""


class StaticExplorer:
    """Precomputed frames on a grid of slider positions, shown in HTML with one range input per slider.

    ``frames`` holds one PNG (bytes) per combination of slider positions, the last slider varying fastest.
    """

    def __init__(self, title, sliders, frames, initial):
        self.title = title
        self.sliders = sliders  # [(label, [shown value, ...]), ...]
        self.frames = [base64.b64encode(png).decode("ascii") for png in frames]
        self.initial = initial  # one position per slider
        expected = math.prod(len(values) for _, values in sliders)
        if len(self.frames) != expected:
            raise ValueError(f"{len(self.frames)} frames for a grid of {expected} slider positions")

    def frame_index(self, positions):
        index = 0
        for (_, values), position in zip(self.sliders, positions):
            index = index * len(values) + position
        return index

    def _repr_html_(self):
        # A stable id (same frames, same id), so that rebuilding the book gives the same page.
        uid = "explorer-" + hashlib.sha1("".join(self.frames).encode()).hexdigest()[:12]
        controls = []
        for (label, values), position in zip(self.sliders, self.initial):
            controls.append(
                f'<label style="margin-right:2em">{html.escape(label)} '
                f'<input class="explorer-slider" type="range" min="0" max="{len(values) - 1}" step="1" '
                f'value="{position}" aria-label="{html.escape(label)}" style="vertical-align:middle"> '
                f'<output class="explorer-value">{html.escape(values[position])}</output></label>')
        script = _PLAYER_SCRIPT % {"id": uid, "sizes": json.dumps([len(v) for _, v in self.sliders]),
                                   "names": json.dumps([list(v) for _, v in self.sliders])}
        return (f'<div class="static-explorer" id="{uid}">'
                f'<img class="explorer-frame" alt="{html.escape(self.title)}" style="max-width:100%" '
                f'src="data:image/png;base64,{self.frames[self.frame_index(self.initial)]}">'
                f'<div class="explorer-controls">{"".join(controls)}</div>'
                f'<script type="application/json" class="explorer-frames">{json.dumps(self.frames)}</script>'
                f"<script>{script}</script></div>")


def _png(fig, dpi):
    """The figure as a PNG with a 128-colour palette: about a third of the size of a full-colour one, same look."""
    from PIL import Image

    # The layout is done (tight_layout); with no layout engine left on the figure, savefig draws it once, not twice.
    fig.set_layout_engine(None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors=128)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _closest(values, value):
    return int(np.argmin([abs(math.log(v / value)) for v in values]))


# ---------------------------------------------------------------------------------------------- explorers


def temperature_explorer(logits=TENSE_LOGITS, labels=TENSE_LABELS, *, temperature=1.0, static=False,
                         temperatures=STATIC_TEMPERATURES, dpi=72):
    """Temperature slider (log scale, 0.05 to 10) over softmax(logits / T): probability bars and entropy.

    ``static=False``: live ipywidgets slider (needs a kernel).  ``static=True``: a ``StaticExplorer`` whose HTML
    works with no kernel, one precomputed frame per value in ``temperatures``.
    """
    import matplotlib.pyplot as plt

    grid = np.geomspace(*TEMPERATURE_RANGE, 120)
    curve = (grid, entropy_curve(logits, grid))
    if static:
        fig = None
        frames = []
        for t in temperatures:
            fig = draw_temperature(temperature_frame(logits, t), labels, curve, fig=fig)
            frames.append(_png(fig, dpi))
        plt.close(fig)
        return StaticExplorer(tr("temperature explorer"), [(tr("temperature T"), [f"{t:g}" for t in temperatures])],
                              frames, [_closest(temperatures, temperature)])

    import ipywidgets as widgets

    def show(temperature):
        draw_temperature(temperature_frame(logits, temperature), labels, curve)
        plt.show()

    slider = widgets.FloatLogSlider(value=temperature, base=10, min=math.log10(TEMPERATURE_RANGE[0]),
                                    max=math.log10(TEMPERATURE_RANGE[1]), step=0.01, description="T",
                                    continuous_update=False)
    return widgets.interactive(show, temperature=slider)


def softcap_explorer(logits=TENSE_LOGITS, labels=TENSE_LABELS, *, cap=30.0, scale=10.0, static=False,
                     caps=STATIC_CAPS, scales=STATIC_SCALES, dpi=72):
    """A cap slider (1 to 100) and a logit-scale slider: raw against capped logits, both distributions, the gradient.

    ``static=False``: live ipywidgets sliders (needs a kernel).  ``static=True``: a ``StaticExplorer`` with one
    precomputed frame per (cap, scale) pair of ``caps`` x ``scales``.
    """
    import matplotlib.pyplot as plt

    if static:
        fig = None
        frames = []
        for c in caps:
            for s in scales:
                fig = draw_softcap(softcap_frame(logits, c, s), labels, fig=fig)
                frames.append(_png(fig, dpi))
        plt.close(fig)
        return StaticExplorer(tr("softcap explorer"),
                              [(tr("cap"), [f"{c:g}" for c in caps]),
                               (tr("logit scale"), [f"×{s:g}" for s in scales])],
                              frames, [_closest(caps, cap), _closest(scales, scale)])

    import ipywidgets as widgets

    def show(cap, scale):
        draw_softcap(softcap_frame(logits, cap, scale), labels)
        plt.show()

    cap_slider = widgets.FloatLogSlider(value=cap, base=10, min=0, max=2, step=0.01, description=tr("cap"),
                                        continuous_update=False)
    scale_slider = widgets.FloatLogSlider(value=scale, base=10, min=math.log10(SCALE_RANGE[0]),
                                          max=math.log10(SCALE_RANGE[1]), step=0.01, description=tr("logit scale"),
                                          continuous_update=False)
    return widgets.interactive(show, cap=cap_slider, scale=scale_slider)

"""The explorers: the numbers behind every frame against independent references (PyTorch, mpmath), what the
drawing shows, the static HTML player, and the live ipywidgets version."""

import base64
import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from softcap_course import TENSE_LABELS, TENSE_LOGITS  # noqa: E402
from softcap_course.explorers import (  # noqa: E402
    STATIC_CAPS, STATIC_SCALES, STATIC_TEMPERATURES, StaticExplorer, draw_softcap, draw_temperature, entropy_curve,
    softcap_explorer, softcap_frame, temperature_explorer, temperature_frame,
)


def mp_entropy(logits, temperature):
    mpmath.mp.dps = 50
    z = [mpmath.mpf(v) / mpmath.mpf(temperature) for v in logits]
    total = mpmath.fsum(mpmath.exp(v) for v in z)
    return float(-mpmath.fsum(mpmath.exp(v) / total * (v - mpmath.log(total)) for v in z))


@pytest.mark.parametrize("temperature", STATIC_TEMPERATURES)
def test_temperature_frame_against_torch_and_mpmath(temperature):
    frame = temperature_frame(TENSE_LOGITS, temperature)
    expected = torch.softmax(torch.tensor(TENSE_LOGITS, dtype=torch.float64) / temperature, dim=0).numpy()
    np.testing.assert_allclose(frame.probabilities, expected, rtol=1e-13, atol=1e-300)
    assert abs(frame.entropy - mp_entropy(TENSE_LOGITS, temperature)) <= 1e-13
    assert frame.max_entropy == pytest.approx(math.log(5))
    assert frame.temperature == temperature


def test_temperature_frame_limits():
    cold, hot = temperature_frame(TENSE_LOGITS, 1e-3), temperature_frame(TENSE_LOGITS, 1e6)
    np.testing.assert_allclose(cold.probabilities, [0, 1, 0, 0, 0], atol=1e-12)
    assert cold.entropy == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(hot.probabilities, 0.2, rtol=1e-5)
    assert hot.entropy == pytest.approx(math.log(5), rel=1e-9)


def test_entropy_curve_rises_from_zero_to_log_k():
    temperatures = np.geomspace(0.05, 10, 50)
    curve = entropy_curve(TENSE_LOGITS, temperatures)
    assert np.all(np.diff(curve) > 0)
    assert 0 <= curve[0] < 0.01 and math.log(5) - 0.1 < curve[-1] < math.log(5)


@pytest.mark.parametrize("cap", [1.0, 7.0, 30.0, 100.0])
@pytest.mark.parametrize("scale", STATIC_SCALES)
def test_softcap_frame_against_torch_autograd(cap, scale):
    frame = softcap_frame(TENSE_LOGITS, cap, scale)
    raw = torch.tensor(TENSE_LOGITS, dtype=torch.float64) * scale
    raw.requires_grad_()
    capped = cap * torch.tanh(raw / cap)
    capped.sum().backward()
    np.testing.assert_allclose(frame.raw, raw.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(frame.capped, capped.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(frame.gradient_factor, raw.grad.numpy(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(frame.probabilities_raw, torch.softmax(raw.detach(), 0).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(frame.probabilities_capped, torch.softmax(capped.detach(), 0).numpy(), rtol=1e-12,
                               atol=1e-300)
    assert np.all(np.abs(frame.capped) < cap + 1e-12)
    order = np.argsort(frame.raw)
    assert np.all(np.diff(frame.capped[order]) >= 0), "the softcap never swaps two logits (ties only in rounding)"


def test_softcap_gradient_stays_accurate_far_past_the_cap():
    frame = softcap_frame([0.0, 300.0, -900.0], cap=30.0, scale=1.0)
    mpmath.mp.dps = 50
    for x, got in zip([0.0, 300.0, -900.0], frame.gradient_factor):
        exact = float(mpmath.sech(mpmath.mpf(x) / 30) ** 2)
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-300)


def test_drawings_show_the_frame_numbers():
    frame = temperature_frame(TENSE_LOGITS, 0.5)
    fig = draw_temperature(frame, TENSE_LABELS, (np.array([0.1, 1.0]), np.array([0.2, 0.9])))
    bars = [p.get_width() for p in fig.axes[0].patches]
    np.testing.assert_allclose(bars, frame.probabilities)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(TENSE_LABELS)
    assert "0.5" in fig.axes[0].get_title()
    plt.close(fig)
    frame = softcap_frame(TENSE_LOGITS, 5.0, 10.0)
    fig = draw_softcap(frame, TENSE_LABELS)
    ax_curve, ax_probs, ax_grad = fig.axes[:3]
    points = ax_curve.lines[2]
    np.testing.assert_allclose(points.get_xdata(), frame.raw)
    np.testing.assert_allclose(points.get_ydata(), frame.capped)
    widths = [p.get_width() for p in ax_probs.patches]
    np.testing.assert_allclose(widths, np.concatenate([frame.probabilities_raw, frame.probabilities_capped]))
    np.testing.assert_allclose([p.get_width() for p in ax_grad.patches], frame.gradient_factor)
    plt.close(fig)


def test_static_temperature_explorer_html():
    explorer = temperature_explorer(static=True, temperatures=(0.1, 1.0, 10.0), dpi=30)
    html = explorer._repr_html_()
    assert len(explorer.frames) == 3 and len(set(explorer.frames)) == 3, "every temperature draws a different frame"
    assert all(base64.b64decode(f).startswith(b"\x89PNG") for f in explorer.frames)
    assert html.count('type="range"') == 1 and 'max="2"' in html and 'value="1"' in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), "the explorer must load nothing from another site"
    assert explorer.frames[1] in html.split("<script")[0], "the initial picture is the frame at T = 1"


def test_static_softcap_explorer_grid_order():
    explorer = softcap_explorer(static=True, caps=(2.0, 30.0), scales=(1.0, 5.0, 20.0), cap=30.0, scale=5.0, dpi=30)
    assert len(explorer.frames) == 6 and explorer.initial == [1, 1]
    assert explorer.frame_index([1, 1]) == 4 and explorer.frame_index([0, 2]) == 2
    html = explorer._repr_html_()
    assert html.count('type="range"') == 2
    assert explorer.frames[4] in html.split("<script")[0]


def test_static_explorer_checks_its_grid():
    with pytest.raises(ValueError, match="frames"):
        StaticExplorer("x", [("a", ["1", "2"])], [b"png"], [0])


def test_default_static_grids_cover_the_asked_ranges():
    assert STATIC_TEMPERATURES[0] == 0.05 and STATIC_TEMPERATURES[-1] == 10.0
    assert STATIC_CAPS[0] == 1.0 and STATIC_CAPS[-1] == 100.0
    assert 1.0 in STATIC_TEMPERATURES and 30.0 in STATIC_CAPS


def test_live_explorers_are_ipywidgets_with_log_sliders():
    import ipywidgets

    live = temperature_explorer()
    assert isinstance(live, ipywidgets.interactive)
    (slider,) = [w for w in live.children if isinstance(w, ipywidgets.FloatLogSlider)]
    assert 10**slider.min == pytest.approx(0.05) and 10**slider.max == pytest.approx(10.0) and slider.value == 1.0
    slider.value = 2.0  # moving the slider redraws without error
    live = softcap_explorer()
    sliders = {w.description: w for w in live.children if isinstance(w, ipywidgets.FloatLogSlider)}
    assert 10 ** sliders["cap"].min == pytest.approx(1.0) and 10 ** sliders["cap"].max == pytest.approx(100.0)
    sliders["cap"].value = 5.0
    plt.close("all")

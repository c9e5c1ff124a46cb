"""Unit tests of the helper package: the teaching checks, tables and the offline Sphinx extension."""

import math
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from softcap_course import markdown_table
from softcap_course.checks import (call_repr, default_tolerance, expect, expect_call, expect_close, expect_gradient,
                                   expect_raises)


def double(x):
    return np.asarray(x) * 2


def test_checks_return_none_so_nbgrader_never_reads_a_result_as_partial_credit():
    assert expect_call(double, [1.0, 2.0], expected=[2.0, 4.0]) is None
    assert expect_raises(double, None, error=TypeError) is None
    assert expect_close(1.0, 1.0) is None and expect(True, "") is None


def test_a_failure_names_call_expected_got_and_hint():
    with pytest.raises(AssertionError) as failure:
        expect_call(double, np.array([1.0, 2.0], dtype=np.float32), expected=[2.0, 5.0], hint="double it")
    message = str(failure.value)
    assert "double(np.array([1., 2.], dtype=float32))" in message
    assert "at index (1,): expected 5.0, got 4.0" in message
    assert "expected: [2.0, 5.0]" in message and "got:" in message and "hint: double it" in message


@pytest.mark.parametrize(("got", "expected", "passes"), [
    ([np.nan, 1.0], [np.nan, 1.0], True),
    ([np.nan, 1.0], [0.0, 1.0], False),
    ([0.0, 1.0], [np.nan, 1.0], False),
    ([np.inf], [np.inf], True),
    ([-np.inf], [np.inf], False),
    ([1e308], [np.inf], False),
    ([1.0 + 1e-15], [1.0], True),
    ([1.0 + 1e-10], [1.0], False),
])
def test_nan_and_infinities_must_match_exactly(got, expected, passes):
    if passes:
        expect_close(np.array(got), expected)
    else:
        with pytest.raises(AssertionError):
            expect_close(np.array(got), expected)


def test_shape_dtype_and_none_are_explained():
    with pytest.raises(AssertionError, match=r"shape \(1, 2\), expected \(2,\)"):
        expect_close(np.zeros((1, 2)), [0.0, 0.0])
    with pytest.raises(AssertionError, match="dtype float64, expected float32"):
        expect_close(np.zeros(2), [0.0, 0.0], dtype=np.float32)
    with pytest.raises(AssertionError, match="returned None"):
        expect_close(None, [0.0])
    with pytest.raises(AssertionError, match="dtype bfloat16, expected float32"):
        expect_close(torch.zeros(2, dtype=torch.bfloat16), [0.0, 0.0], dtype=torch.float32)


def test_tolerance_follows_the_dtype():
    assert default_tolerance(np.float16) == 8 * 2.0**-10
    assert default_tolerance(torch.bfloat16) == 8 * 2.0**-7
    assert default_tolerance(np.dtype("float32")) == 8 * 2.0**-23
    assert default_tolerance(None) == 8 * 2.0**-52
    expect_close(np.float16(1.004), 1.0, dtype=np.float16)
    with pytest.raises(AssertionError):
        expect_close(np.float32(1.004), 1.0, dtype=np.float32)


def test_tensors_are_compared_and_shown():
    expect_close(torch.tensor([1.0, 2.0], dtype=torch.bfloat16), [1.0, 2.0], dtype=torch.bfloat16)
    assert "dtype=bfloat16" in call_repr("f", torch.tensor([1.0], dtype=torch.bfloat16))


def test_exceptions_of_the_checked_function_are_reported():
    def unfinished(x):
        raise NotImplementedError()

    def broken(x):
        raise IndexError("index 3 is out of bounds")

    with pytest.raises(AssertionError, match="not written yet"):
        expect_call(unfinished, 1.0, expected=1.0)
    with pytest.raises(AssertionError, match=r"broken\(1.0\) raised IndexError: index 3 is out of bounds"):
        expect_call(broken, 1.0, expected=1.0)


def test_patched_comparison_helpers_cannot_make_a_wrong_answer_pass(monkeypatch):
    always = lambda *args, **kwargs: True  # noqa: E731
    monkeypatch.setattr(np, "allclose", always)
    monkeypatch.setattr(np, "isclose", always)
    monkeypatch.setattr(np, "isnan", lambda x: np.zeros_like(x, dtype=bool))
    monkeypatch.setattr(np, "array_equal", always)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    monkeypatch.setattr(math, "isclose", always)
    monkeypatch.setattr(math, "isnan", lambda x: False)
    monkeypatch.setattr(torch, "allclose", always)
    with pytest.raises(AssertionError):
        expect_close(np.array([1.0, 2.0]), [1.0, 3.0])
    with pytest.raises(AssertionError):
        expect_close(np.array([np.nan]), [1.0])


def test_expect_raises():
    def check_positive(t):
        if t <= 0:
            raise ValueError(f"temperature must be positive, got {t}")
        return t

    expect_raises(check_positive, -1.0, match="temperature")
    with pytest.raises(AssertionError, match="returned 2.0 instead of raising ValueError"):
        expect_raises(check_positive, 2.0, match="temperature")
    with pytest.raises(AssertionError, match="should mention 'cap'"):
        expect_raises(check_positive, -1.0, match="cap")
    with pytest.raises(AssertionError, match="raised ValueError.*expected TypeError"):
        expect_raises(check_positive, -1.0, error=TypeError)


def scaled_tanh_function(slope_factor=1.0, forget_cap=False):
    """cap * tanh(x / cap) summed, as an autograd.Function whose backward can be made wrong on purpose."""
    class ScaledTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return (w * 2.0 * torch.tanh(x / 2.0)).sum()

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            t = torch.tanh(x if forget_cap else x / 2.0)
            return grad * w * (1 - t * t) * slope_factor, grad * 2.0 * torch.tanh(x / 2.0)
    return ScaledTanh.apply


def test_expect_gradient_accepts_the_derivative_and_names_a_wrong_one():
    gen = torch.Generator().manual_seed(5)
    x, w = torch.randn(4, 3, generator=gen, dtype=torch.float64) * 3, torch.randn(4, 3, generator=gen, dtype=torch.float64)
    expect_gradient(scaled_tanh_function(), x, w, call="f(x, w)")
    # Derived by hand: d/dx 2 tanh(x / 2) = 1 - tanh(x / 2)**2; the same check that gradcheck makes agrees.
    assert torch.autograd.gradcheck(scaled_tanh_function(), (x.clone().requires_grad_(True), w.clone().requires_grad_(True)))
    for wrong in (scaled_tanh_function(forget_cap=True), scaled_tanh_function(slope_factor=1.0001)):
        with pytest.raises(AssertionError, match=r"the gradient of f\(x, w\) is not the derivative.*\n  hint: h"):
            expect_gradient(wrong, x, w, call="f(x, w)", hint="h")
    with pytest.raises(AssertionError, match="the backward pass of detached raised RuntimeError"):
        expect_gradient(lambda a: (a * a).sum().detach(), x, call="detached")


def test_chapter_6_checks_stay_light_to_import():
    # gradcheck (through torch.autograd.grad) imports sympy, and a TorchDispatchMode wrapped by torch._dynamo.disable
    # imports all of torch._dynamo: each about half a second to a second of every autograded chapter 6 notebook.
    code = ("import sys, torch\n"
            "from softcap_course.checks import expect_gradient\n"
            "from softcap_course.memory import peak_tensor_bytes\n"
            "x = torch.randn(3, 3, dtype=torch.float64)\n"
            "peak_tensor_bytes(lambda a: (a @ a).sum(), x)\n"
            "expect_gradient(lambda a: (a @ a).sum(), x)\n"
            "print(sorted(m for m in ('sympy', 'torch._dynamo') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_expect():
    expect(True, "never shown")
    with pytest.raises(AssertionError, match="the message"):
        expect(False, "the message")


def test_markdown_table_formats_computed_values():
    table = markdown_table(["dtype", "threshold"], [("float32", np.log(np.float32(3.4028235e38)))], digits=5)
    assert table.data.splitlines() == ["| dtype | threshold |", "|---|---|", "| float32 | 88.723 |"]
    with pytest.raises(ValueError, match="2 columns"):
        markdown_table(["a", "b"], [(1,)])


def test_book_uses_the_local_mathjax():
    from softcap_course.sphinx_offline import _use_local_mathjax

    config = types.SimpleNamespace(html_static_path=["_static"])
    _use_local_mathjax(None, config)
    static = config.html_static_path[-1]
    assert (__import__("pathlib").Path(static) / "MathJax.js").exists()
    assert config.mathjax_path.startswith("MathJax.js") and "processClass" in config.mathjax2_config["tex2jax"]
    font = config.mathjax2_config["HTML-CSS"]["webFont"]
    assert (__import__("pathlib").Path(static) / "fonts" / "HTML-CSS" / font).is_dir()
    named_config = config.mathjax_path.split("config=")[1]
    assert (__import__("pathlib").Path(static) / "config" / f"{named_config}.js").exists()


def test_the_checked_function_cannot_write_to_stderr(capfd):
    """nbgrader gives a test cell 0 points for any stderr output: a NumPy warning must not cost a correct answer."""
    import sys
    import warnings

    def noisy(x):
        warnings.warn("something overflowed", RuntimeWarning)
        print("debugging output", file=sys.stderr)
        with np.errstate(over="warn"):
            np.exp(np.float32(x))  # overflows, and NumPy warns
        return 0.0

    expect_call(noisy, 100.0, expected=0.0)
    expect_raises(lambda: noisy(100.0) + None, error=TypeError)
    captured = capfd.readouterr()
    assert captured.err == ""


def test_the_checks_module_cannot_be_patched():
    import softcap_course.checks as checks

    with pytest.raises(AttributeError, match="read-only"):
        checks.expect_call = lambda *args, **kwargs: None
    with pytest.raises(AttributeError, match="read-only"):
        checks._first_mismatch = lambda *args: None
    with pytest.raises(AttributeError, match="read-only"):
        del checks.expect_close
    with pytest.raises(AssertionError):
        checks.expect_call(double, 1.0, expected=3.0)

"""Unit tests of the helper package: the teaching checks, tables and the offline Sphinx extension."""

import math
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from scipy.special import log_softmax as scipy_log_softmax, logsumexp as scipy_logsumexp

from softcap_course import markdown_table
from softcap_course.checks import (EPS, ROUNDING_UNITS, WIDTH, call_repr, expect, expect_call, expect_close,
                                   expect_gradient, expect_raises, tolerance)


def double(x):
    return np.asarray(x) * 2


def test_checks_return_none_so_nbgrader_never_reads_a_result_as_partial_credit():
    assert expect_call(double, [1.0, 2.0], expected=[2.0, 4.0]) is None
    assert expect_raises(double, None, error=TypeError) is None
    assert expect_close(1.0, 1.0) is None and expect(True, "") is None


def test_a_failure_names_what_went_wrong_the_call_expected_got_and_hint():
    with pytest.raises(AssertionError) as failure:
        expect_call(double, np.array([1.0, 2.0], dtype=np.float32), expected=[2.0, 5.0], hint="double it")
    lines = str(failure.value).splitlines()
    assert lines[0] == "double: wrong value at index (1,): expected 5, got 4"
    assert lines[1] == "  call:     double(np.array([1., 2.], dtype=float32))"
    assert lines[2] == "  expected: [2.0, 5.0]" and lines[3].startswith("  got:      np.array([2., 4.]")
    assert "at index (1,): expected 5.0, got 4.0, off by 1" in str(failure.value)
    assert lines[-1] == "  hint: double it"


def test_every_line_of_a_message_fits_the_width_nbgrader_validate_prints():
    long_input = np.linspace(0.0, 1.0, 400).reshape(20, 20)
    with pytest.raises(AssertionError) as failure:
        expect_call(double, long_input, expected=long_input, hint="a hint " * 40)
    assert all(len(line) <= WIDTH - 4 for line in str(failure.value).splitlines())
    first = str(failure.value).splitlines()[0]
    assert first.startswith("double: wrong value at index (19, 19)") and len(first) <= WIDTH - 20


def shifted_log_softmax(x):
    """x - LSE(x): backward stable, but its rounding is not the reference's (an error of a few eps * |x|)."""
    return x - scipy_logsumexp(x, axis=-1, keepdims=True)


def float32_inside(x):
    """The right formula, through a float32 intermediate: digits lost to a lower precision."""
    return scipy_log_softmax(np.asarray(x, dtype=np.float32)).astype(np.float64)


@pytest.mark.parametrize("offset", [0.0, 1000.0, -3000.0])
def test_the_precision_policy_accepts_a_backward_stable_formula_at_any_size(offset):
    x = np.random.default_rng(0).normal(scale=4.0, size=(5, 7)) + offset
    # Reference: torch's log_softmax in float64 (another algorithm again).
    expect_call(shifted_log_softmax, x, expected=torch.log_softmax(torch.from_numpy(x), dim=-1).numpy())


def test_the_precision_policy_rejects_lost_digits_and_says_which_precision_they_look_like():
    x = np.random.default_rng(1).normal(scale=4.0, size=(3, 5))
    with pytest.raises(AssertionError) as failure:
        expect_call(float32_inside, x, expected=scipy_log_softmax(x), hint="a hint about the formula")
    message = str(failure.value)
    assert message.splitlines()[0].startswith("float32_inside: off by float32 rounding at")
    # The rounding is named first, and the call's own hint is never hidden: the error might be a formula's after all.
    hint = " ".join(message.split("hint:", 1)[1].split())
    assert "units of rounding" in message and hint.index("float32 rounding") < hint.index("a hint about the formula")


def test_an_error_of_a_few_percent_is_a_wrong_value_not_rounding():
    """3 % off the answer has bfloat16's relative size only in the loosest sense: it is a wrong formula, with its hint."""
    import torch

    exact = torch.tensor([1.0, 3.0, 7.0], dtype=torch.float64)
    with pytest.raises(AssertionError) as failure:
        expect_close((exact * 1.03).float(), exact, call="loss(...)", dtype=torch.float32, hint="rescale the sum")
    assert "wrong value" in str(failure.value).splitlines()[0] and "rescale the sum" in str(failure.value)


def test_a_difference_of_rounding_size_is_named_with_full_precision_and_without_the_formula_hint():
    def slightly_off(x):
        return np.asarray(x) * (1 + 40 * EPS["float64"])

    with pytest.raises(AssertionError) as failure:
        expect_call(slightly_off, [0.5, 0.25], expected=[0.5, 0.25], hint="blames the formula")
    message = str(failure.value)
    assert message.splitlines()[0] == "slightly_off: off by 13.3 units of rounding at (0,)"
    message = " ".join(message.split())  # wrapped lines joined
    assert "expected 0.5, got 0.5000000000000044" in message and f"tolerance is {ROUNDING_UNITS} units" in message
    assert "blames the formula" not in message and "loses digits" in message


def test_the_size_of_the_problem_comes_from_the_inputs():
    def identity_plus(x, shift=0.0, count=0):
        return np.asarray(x, dtype=float) + shift

    # 200 eps of absolute error is rounding for inputs of size 1000, not for inputs of size 1.
    off = 200 * EPS["float64"]
    expect_call(lambda x: np.asarray(x) + off, [1000.0, 0.0], expected=[1000.0, 0.0])
    with pytest.raises(AssertionError, match="units of rounding"):
        expect_call(lambda x: np.asarray(x) + off, [1.0, 0.0], expected=[1.0, 0.0])
    # Integer keywords (axis, counts) are not sizes; floating ones are; scale= overrides.
    with pytest.raises(AssertionError):
        expect_call(lambda x, count=0: np.asarray(x) + off, [1.0], count=5000, expected=[1.0])
    expect_call(lambda x, shift=0.0: np.asarray(x) + off, [1.0], shift=3000.0, expected=[1.0])
    expect_call(lambda x: np.asarray(x) + off, [1.0], scale=1000.0, expected=[1.0])
    assert tolerance(np.float32, scale=10.0) == ROUNDING_UNITS * 2.0**-23 * 10.0
    assert tolerance(None, scale=0.5) == ROUNDING_UNITS * 2.0**-52


def test_the_rounding_unit_is_that_of_the_least_precise_input_or_the_declared_dtype():
    off16 = np.float16(1.0) + np.float16(2.0**-10)  # one float16 ulp above 1
    expect_call(lambda x: np.asarray(x) * 0 + off16, np.ones(2, dtype=np.float16), expected=[1.0, 1.0])
    with pytest.raises(AssertionError):
        expect_call(lambda x: np.asarray(x, dtype=np.float32) * 0 + np.float32(1.001), np.ones(2, dtype=np.float32),
                    expected=[1.0, 1.0], dtype=np.float32)


def test_explicit_tolerances_replace_the_policy():
    expect_close(np.array([1e-17]), [1e-17], rtol=8 * EPS["float64"], atol=0.0)
    with pytest.raises(AssertionError, match="this test allows 0 \\+"):
        expect_close(np.array([0.0]), [1e-17], rtol=8 * EPS["float64"], atol=0.0)


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


def test_shape_dtype_and_none_are_explained_each_with_its_own_hint():
    with pytest.raises(AssertionError, match=r"shape \(1, 2\), expected \(2,\)") as failure:
        expect_close(np.zeros((1, 2)), [0.0, 0.0], hint="the call's hint")
    assert "keepdims" in str(failure.value) and "the call's hint" in str(failure.value)
    with pytest.raises(AssertionError, match="dtype float64, expected float32") as failure:
        expect_close(np.zeros(2), [0.0, 0.0], dtype=np.float32, hint="the call's hint")
    assert "floating input keeps its dtype" in str(failure.value) and "the call's hint" not in str(failure.value)
    with pytest.raises(AssertionError, match="integers and lists compute in float64"):
        expect_close(np.zeros(2, dtype=np.float16), [0.0, 0.0], dtype=np.float64)
    with pytest.raises(AssertionError, match="returned None"):
        expect_close(None, [0.0])
    with pytest.raises(AssertionError, match="dtype bfloat16, expected float32"):
        expect_close(torch.zeros(2, dtype=torch.bfloat16), [0.0, 0.0], dtype=torch.float32)
    with pytest.raises(AssertionError, match="special dtype hint"):
        expect_close(np.zeros(2), [0.0, 0.0], dtype=np.float32, hint={"dtype": "special dtype hint"})
    with pytest.raises(TypeError, match="unknown hint kinds"):
        expect_close(np.zeros(2), [1.0, 0.0], hint={"typo": "x"})


def test_a_nan_where_a_number_belongs_points_at_overflow():
    with pytest.raises(AssertionError) as failure:
        expect_close(np.array([np.nan, 0.0]), [0.5, 0.5], call="f(x)", hint="shift first")
    message = str(failure.value)
    assert message.splitlines()[0] == "f: nan at index (0,), expected 0.5"
    assert "an overflow" in message and "shift first" in message


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
    with pytest.raises(AssertionError) as failure:
        expect_call(broken, 1.0, expected=1.0, hint="the call's hint")
    # An exception keeps the call's hint: it is the likeliest help for a function that crashes on this input.
    assert str(failure.value).splitlines() == ["broken: raised IndexError: index 3 is out of bounds",
                                               "  call:     broken(1.0)", "  hint: the call's hint"]


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
    with pytest.raises(AssertionError, match="returned instead of raising ValueError"):
        expect_raises(check_positive, 2.0, match="temperature")
    with pytest.raises(AssertionError, match="should mention 'cap'"):
        expect_raises(check_positive, -1.0, match="cap")
    with pytest.raises(AssertionError, match="raised ValueError, expected TypeError"):
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
        with pytest.raises(AssertionError, match=r"gradient: not the derivative of the function\n  call:     f\(x, w\)(.|\n)*  hint: h"):
            expect_gradient(wrong, x, w, call="f(x, w)", hint="h")
    with pytest.raises(AssertionError, match="the backward pass of detached: raised RuntimeError"):
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


def test_markdown_table_escapes_bars_so_the_table_still_parses():
    """A | in a header or cell (|logit|, $|x|$) ends the cell unless escaped; markdown-it then shows raw text."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    table = markdown_table(["shift", "max |p - q|", "$|x|$"], [(1, "a|b", 2.0)])
    rendered = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin).render(table.data)
    assert rendered.count("<th>") == 3 and rendered.count("<td>") == 3, rendered
    assert "<th>max |p - q|</th>" in rendered and "<td>a|b</td>" in rendered
    assert '<span class="math inline">|x|</span>' in rendered  # the formula gets its bars back, not \\|


def test_book_uses_the_local_mathjax():
    from softcap_course.book.offline import _use_local_mathjax

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
        checks._isnan = lambda *args: False
    with pytest.raises(AttributeError, match="read-only"):
        del checks.expect_close
    with pytest.raises(AssertionError):
        checks.expect_call(double, 1.0, expected=3.0)


def test_quietly_keeps_warnings_and_stderr_out_of_a_test_cell(capfd):
    """nbgrader scores a test cell 0 for any stderr output: code run under quietly() prints none."""
    import sys
    import warnings

    from softcap_course.checks import quietly

    with quietly():
        np.exp(np.float32(1000.0))
        warnings.warn("a warning a student's code may raise", RuntimeWarning)
        print("to stderr", file=sys.stderr)
    assert capfd.readouterr().err == ""


def test_an_error_of_bfloat16_size_is_named_as_low_precision_rounding():
    """A float32 answer computed through bfloat16 is off by about 2**-8 of the problem's size: named, not blamed."""
    import torch

    exact = torch.tensor([1.0, 3.0, 7.0]).log()
    through_bf16 = exact.to(torch.bfloat16).float()
    with pytest.raises(AssertionError) as failure:
        expect_close(through_bf16, exact.double(), call="log_of_counts(...)", dtype=torch.float32)
    assert "off by float16 or bfloat16 rounding" in str(failure.value).splitlines()[0]


def test_a_float64_answer_off_by_bfloat16_size_is_a_wrong_value_with_its_hint():
    """bfloat16 is not the slip a float64 computation makes (float32 is): an error of that size is a wrong formula."""
    import torch

    exact = torch.tensor([1.0, 3.0, 7.0], dtype=torch.float64)
    with pytest.raises(AssertionError) as failure:
        expect_close(exact * (1 + 2.0**-8), exact, call="grads(...)", dtype=torch.float64,
                     hint="add every chunk's part")
    assert "wrong value" in str(failure.value).splitlines()[0] and "add every chunk's part" in str(failure.value)
    assert "bfloat16" not in str(failure.value)

"""Bad and edge input to every graded function (chapters 1-6), one table per family (issue 6, part 3).

Every case states its defined result or the error it raises. A result is compared with an independent
reference: ``TORCH`` means "what torch gives on the same input" (torch.softmax / torch.logsumexp /
torch.log_softmax, F.cross_entropy and torch.autograd for the gradient); ``Hand(...)`` is a value derived by
hand where torch does not define the case or the course decides otherwise on purpose. ``Raises(...)`` is an
error type and a fragment its message must contain, so that the error names the problem.

Decisions, in short: follow torch where torch defines the case; integer input and lists compute in float64
(torch refuses integer tensors in softmax, so its reference runs on the float64 copy); anything that is not
real numbers (None, strings, booleans, complex, object arrays) is a TypeError; ``axis`` out of range is NumPy's
AxisError (a ValueError); defined results come without NumPy warnings.

Chapters 4-6 add: a temperature or cap that is not a real number (None, "2", True, a list, an array) is a
TypeError, one that is <= 0 or not finite the spec's ValueError; softmax(x / T) is shifted *before* dividing,
so a tiny T gives the one-hot limit where torch's softmax(x / T) overflows to NaN (a deliberate departure); the
entropy of an empty slice is 0, as torch's Categorical gives; sampling needs a 1-D distribution (no NaN, no +inf,
not every class masked) and a numpy.random.Generator; softcap_grad of float16 is the exact derivative rounded
(computed in float32, since 1 - tanh**2 cancels); chapter 6 takes floating-point tensors only, any integer
targets, and gives ignored rows exactly zero gradient (torch gives 0 * NaN = NaN for a NaN row it ignores).
"""

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from solution_functions import load

softmax_ns, lse_ns, ce_ns = load("01-softmax"), load("02-logsumexp"), load("03-cross-entropy")
temperature_ns, softcap_ns, gpu_ns = load("04-temperature"), load("05-softcap"), load("06-softcap-gpu")
naive_softmax, stable_softmax = softmax_ns["naive_softmax"], softmax_ns["stable_softmax"]
logsumexp, log_softmax = lse_ns["logsumexp"], lse_ns["log_softmax"]
cross_entropy, cross_entropy_grad = ce_ns["cross_entropy"], ce_ns["cross_entropy_grad"]
inf, nan = np.inf, np.nan
AxisError = np.exceptions.AxisError

TORCH = "torch"


@dataclass(frozen=True)
class Hand:
    value: object
    dtype: type = np.float64


@dataclass(frozen=True)
class Raises:
    error: type
    fragment: str

    def check(self, function, *args, **kwargs):
        """``function(*args, **kwargs)`` raises this error, with a message that contains the fragment."""
        with pytest.raises(self.error, match=re.escape(self.fragment)):
            function(*args, **kwargs)


@dataclass(frozen=True)
class NaiveHand:
    """torch for the three stable functions; for naive_softmax, this hand-derived exp(x) / sum(exp(x))."""
    value: object
    dtype: type = np.float64


def compute_dtype(x):
    """The spec's dtype rule: floating input keeps its dtype, integers and lists of ints compute in float64."""
    dtype = np.asarray(x).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def assert_same(got, expected, ulps=8):
    """Same dtype and shape, NaN and ±inf in the same places, finite values within a few units of the dtype."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, expected {expected.dtype}"
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    tol = ulps * float(np.finfo(expected.dtype).eps)
    np.testing.assert_allclose(got[finite].astype(float), expected[finite].astype(float), rtol=tol, atol=tol)


def without_warnings(function, *args, **kwargs):
    """``function(*args, **kwargs)``, failing on any warning: a defined result must not come with RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args, **kwargs)


def check(function, args, kwargs, expected, reference):
    """Run one table row: ``expected`` is a Raises, a Hand, or TORCH (then ``reference()`` gives the value)."""
    if isinstance(expected, Raises):
        return expected.check(function, *args, **kwargs)
    got = without_warnings(function, *args, **kwargs)
    if isinstance(expected, (Hand, NaiveHand)):
        assert_same(got, np.asarray(expected.value, dtype=expected.dtype))
    else:
        assert_same(got, reference())


# ------------------------------------------------ naive_softmax, stable_softmax, logsumexp, log_softmax

TORCH_OF = {"naive_softmax": torch.softmax, "stable_softmax": torch.softmax,
            "logsumexp": torch.logsumexp, "log_softmax": torch.log_softmax}
X_FUNCTIONS = {"naive_softmax": naive_softmax, "stable_softmax": stable_softmax,
               "logsumexp": logsumexp, "log_softmax": log_softmax}

REAL = "must hold real numbers"

X_CASES = [
    # (case, x, axis, expected)
    # Empty arrays: torch returns an empty softmax / log_softmax, and logsumexp of an empty slice is
    # log(0) = -inf. NumPy's max has no identity for an empty slice, so the solutions pass initial=-inf.
    ("empty (0,)", np.zeros((0,)), -1, TORCH),
    ("empty (0,), axis=0", np.zeros((0,)), 0, TORCH),
    ("empty (3, 0), empty slices", np.zeros((3, 0)), -1, TORCH),
    ("empty (3, 0), axis=0", np.zeros((3, 0)), 0, TORCH),
    ("empty (0, 4), no slices", np.zeros((0, 4)), -1, TORCH),
    ("empty (0, 4), axis=0, empty slices", np.zeros((0, 4)), 0, TORCH),
    ("empty float32 (2, 0)", np.zeros((2, 0), np.float32), -1, TORCH),
    # 0-d input: one element along the (only possible) axis -1 or 0, as NumPy's reductions and torch allow:
    # softmax 1, logsumexp x, log_softmax 0. A Python float computes in float64; np.float32 stays float32.
    ("0-d Python float", 2.0, -1, TORCH),
    ("0-d Python float, axis=0", 2.0, 0, TORCH),
    ("0-d np.float32", np.float32(2.0), -1, TORCH),
    ("0-d Python int", 3, -1, TORCH),
    # axis out of range: NumPy's AxisError (a ValueError) names it; torch raises IndexError here.
    ("0-d, axis=1", 2.0, 1, Raises(AxisError, "out of bounds")),
    ("1-D, axis=1", [1.0, 2.0], 1, Raises(AxisError, "out of bounds")),
    ("2-D, axis=-3", np.zeros((2, 3)), -3, Raises(AxisError, "out of bounds")),
    # Integers and lists of ints compute in float64 (spec); torch's reference runs on the float64 copy.
    ("list of ints", [1, 2, 3], -1, TORCH),
    ("nested list of ints, axis=0", [[1, 2], [3, 5]], 0, TORCH),
    ("int8 array", np.array([[1, -2, 3], [0, 0, 0]], np.int8), -1, TORCH),
    ("uint64 array", np.array([0, 7], np.uint64), -1, TORCH),
    # Non-finite entries: torch's result, element for element. naive_softmax is the textbook formula on
    # purpose: exp(inf) / inf is NaN and exp(1) / inf is 0 (hand-derived), while -inf and NaN agree with torch.
    ("NaN entry", [nan, 1.0, 2.0], -1, TORCH),
    ("+inf entry", [inf, 1.0, 2.0], -1, NaiveHand([nan, 0.0, 0.0])),
    ("two +inf entries", [inf, inf, 0.0], -1, NaiveHand([nan, nan, 0.0])),
    ("-inf entry (a masked logit)", [-inf, 1.0, 2.0], -1, TORCH),
    ("all -inf", [-inf, -inf], -1, TORCH),
    ("+inf and -inf", [inf, -inf], -1, NaiveHand([nan, 0.0])),
    ("non-finite rows, axis=0", np.array([[nan, inf, -inf], [1.0, 2.0, -inf]]), 0,
     NaiveHand([[nan, nan, nan], [nan, 0.0, nan]])),
    # float16 / float32 keep their dtype. naive_softmax really overflows: float16 e^12 > 65504 and
    # float32 e^92 > 3.4e38 are inf, so that entry is inf / inf = NaN and the others finite / inf = 0.
    ("float16", np.array([1.0, 2.0, 3.0], np.float16), -1, TORCH),
    ("float16 batch, axis=0", np.array([[1.0, -3.0], [0.5, 4.0]], np.float16), 0, TORCH),
    ("float16 past exp's range", np.array([1.0, 12.0, 3.0], np.float16), -1,
     NaiveHand([0.0, nan, 0.0], np.float16)),
    ("float16 NaN and -inf", np.array([[nan, 1.0], [-inf, 1.0]], np.float16), -1, TORCH),
    ("float32 seed example", np.array([1.0, 92.0, 3.0, 0.0, 2.0], np.float32), -1,
     NaiveHand([0.0, nan, 0.0, 0.0, 0.0], np.float32)),
    ("float32 all -inf row", np.array([[-inf, -inf], [0.0, 1.0]], np.float32), -1, TORCH),
    # Not numbers: a TypeError naming the dtype, never NaN from None nor a cast that drops imaginary parts.
    # Booleans are refused like torch.softmax refuses them: a mask passed as logits is a bug.
    ("string", "abc", -1, Raises(TypeError, REAL)),
    ("list of numeric strings", ["1", "2"], -1, Raises(TypeError, REAL)),
    ("None", None, -1, Raises(TypeError, REAL)),
    ("list with None", [1.0, None], -1, Raises(TypeError, REAL)),
    ("booleans", [True, False], -1, Raises(TypeError, REAL)),
    ("complex", [1 + 1j, 2.0], -1, Raises(TypeError, REAL)),
]


def torch_reference(name, x, axis):
    """torch on the same values, in the dtype the spec computes in."""
    values = torch.from_numpy(np.array(x, dtype=compute_dtype(x)))
    return TORCH_OF[name](values, axis).numpy()


@pytest.mark.parametrize("name", list(X_FUNCTIONS))
@pytest.mark.parametrize(("case", "x", "axis", "expected"), X_CASES, ids=[row[0] for row in X_CASES])
def test_softmax_family_bad_and_edge_input(name, case, x, axis, expected):
    if isinstance(expected, NaiveHand) and name != "naive_softmax":
        expected = TORCH
    check(X_FUNCTIONS[name], (x,), {"axis": axis}, expected, lambda: torch_reference(name, x, axis))


def test_logsumexp_keepdims_on_empty_slices_keeps_the_axis():
    # Hand: the log of an empty sum is -inf, one per slice, with the reduced axis kept at length 1.
    assert_same(logsumexp(np.zeros((3, 0)), axis=-1, keepdims=True), np.full((3, 1), -inf))
    assert_same(logsumexp(np.zeros((0, 4)), axis=-1, keepdims=True), np.zeros((0, 1)))


# ------------------------------------------------ cross_entropy, cross_entropy_grad

RANGE, SHAPE, INTEGER, REDUCTION = "out of range", "shape", "integer", "reduction"
LOGITS_REAL = "logits must hold real numbers"
ROWS = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])

CE_CASES = [
    # (case, logits, targets, kwargs, expected)
    # Empty batch (0, K): torch gives an empty "none", a sum of 0 and a mean of 0 / 0 = NaN.
    ("empty batch, mean", np.zeros((0, 3)), np.zeros(0, int), {}, TORCH),
    ("empty batch, sum", np.zeros((0, 3)), np.zeros(0, int), {"reduction": "sum"}, TORCH),
    ("empty batch, none", np.zeros((0, 3)), np.zeros(0, int), {"reduction": "none"}, TORCH),
    ("empty float32 batch, mean", np.zeros((0, 3), np.float32), np.zeros(0, int), {}, TORCH),
    # No classes (K = 0): no distribution exists. torch raises for any real target and gives NaN when every
    # target is ignored; the course always raises, naming the shape (a zero-class head is a bug).
    ("K = 0, targets ignored", np.zeros((3, 0)), np.full(3, -100), {}, Raises(ValueError, SHAPE)),
    ("K = 0, real targets", np.zeros((3, 0)), np.zeros(3, int), {}, Raises(ValueError, SHAPE)),
    ("empty 1-D logits", np.zeros(0), -100, {}, Raises(ValueError, SHAPE)),
    # Every target ignored: mean is 0 / 0 = NaN and sum is 0, as torch gives; "none" is all zeros.
    ("all ignored, mean", ROWS, [-100, -100], {}, TORCH),
    ("all ignored, sum", ROWS, [-100, -100], {"reduction": "sum"}, TORCH),
    ("all ignored, none", ROWS, [-100, -100], {"reduction": "none"}, TORCH),
    ("1-D logits, target ignored", ROWS[0], -100, {}, TORCH),
    ("all ignored with ignore_index=0", ROWS, [0, 0], {"ignore_index": 0}, TORCH),
    # 0-d targets with 1-D logits: a Python int or a 0-d integer array; the loss is a 0-d value.
    ("1-D logits, Python int target", ROWS[0], 2, {}, TORCH),
    ("1-D logits, np.int64 target, none", ROWS[0], np.int64(0), {"reduction": "none"}, TORCH),
    # Integer logits and lists compute in float64 (torch refuses Long logits: its reference runs on float64).
    ("list of int logits", [[1, 2, 3], [3, 2, 1]], [2, 0], {}, TORCH),
    ("int8 logits, none", np.array([[1, 2], [4, -4]], np.int8), [1, 0], {"reduction": "none"}, TORCH),
    ("uint8 targets", ROWS, np.array([2, 1], np.uint8), {}, TORCH),
    # Non-finite logits: torch's result. A row with +inf or NaN is NaN, a -inf target logit gives +inf,
    # a -inf elsewhere is a masked logit; an ignored row contributes 0 even when it is NaN.
    ("NaN in a row", [[nan, 1.0, 2.0], [0.0, 1.0, 2.0]], [1, 0], {"reduction": "none"}, TORCH),
    ("NaN in an ignored row", [[nan, 1.0, 2.0], [0.0, 1.0, 2.0]], [-100, 0], {}, TORCH),
    ("+inf in a row", [[inf, 1.0, 2.0], [0.0, 1.0, 2.0]], [0, 2], {"reduction": "none"}, TORCH),
    ("-inf target logit", [[0.0, -inf, 2.0]], [1], {"reduction": "none"}, TORCH),
    ("-inf non-target logit", [[0.0, -inf, 2.0]], [2], {}, TORCH),
    ("all -inf row", [[-inf, -inf], [0.0, 0.0]], [0, 1], {"reduction": "sum"}, TORCH),
    # float16 / float32 logits keep their dtype, also in the sum and the mean.
    ("float16 logits, mean", ROWS.astype(np.float16), [2, 0], {}, TORCH),
    ("float16 logits, none", ROWS.astype(np.float16), [1, -100], {"reduction": "none"}, TORCH),
    ("float32 logits far apart", np.array([[1000.0, 0.0, -1000.0]], np.float32), [2], {}, TORCH),
    # Targets out of range that are not ignore_index: NumPy would silently index from the end or raise an
    # IndexError far from the cause; torch raises. The message names the target and the class count.
    ("target = K", ROWS, [0, 3], {}, Raises(ValueError, RANGE)),
    ("negative target", ROWS, [0, -1], {}, Raises(ValueError, RANGE)),
    ("-100 when ignore_index=-1", ROWS, [0, -100], {"ignore_index": -1}, Raises(ValueError, RANGE)),
    ("1-D logits, target too large", ROWS[0], 7, {}, Raises(ValueError, RANGE)),
    # Targets that are not integer class indices. (torch reads float targets of the logits' shape as class
    # probabilities; the spec has integer targets only, so every float target is refused.)
    ("float targets", ROWS, [0.0, 1.0], {}, Raises(ValueError, INTEGER)),
    ("float targets of the logits' shape", ROWS, np.full((2, 3), 1 / 3), {}, Raises(ValueError, INTEGER)),
    ("boolean targets", ROWS, [True, False], {}, Raises(ValueError, INTEGER)),
    ("None targets", ROWS, None, {}, Raises(ValueError, INTEGER)),
    # Targets of the wrong shape, and logits that are neither (N, K) nor (K,).
    ("too many targets", ROWS, [0, 1, 2], {}, Raises(ValueError, SHAPE)),
    ("targets (N, 1)", ROWS, [[0], [1]], {}, Raises(ValueError, SHAPE)),
    ("scalar target for a batch", ROWS, 1, {}, Raises(ValueError, SHAPE)),
    ("(1,) target for 1-D logits", ROWS[0], [1], {}, Raises(ValueError, SHAPE)),
    ("0-d logits", 2.0, 0, {}, Raises(ValueError, SHAPE)),
    ("3-D logits", np.zeros((2, 3, 4)), np.zeros((2, 3), int), {}, Raises(ValueError, SHAPE)),
    # Unknown reductions (cross_entropy only).
    ("reduction 'avg'", ROWS, [0, 1], {"reduction": "avg"}, Raises(ValueError, REDUCTION)),
    ("reduction None", ROWS, [0, 1], {"reduction": None}, Raises(ValueError, REDUCTION)),
    # Logits that are not numbers: a TypeError naming the dtype, like the softmax family.
    ("string logits", "abc", 0, {}, Raises(TypeError, LOGITS_REAL)),
    ("None logits", None, 0, {}, Raises(TypeError, LOGITS_REAL)),
    ("boolean logits", [[True, False]], [0], {}, Raises(TypeError, LOGITS_REAL)),
]


def torch_loss(logits, targets, **kwargs):
    values = torch.from_numpy(np.array(logits, dtype=compute_dtype(logits)))
    return F.cross_entropy(values, torch.as_tensor(np.asarray(targets)), **kwargs).numpy()


def torch_grad(logits, targets, ignore_index=-100):
    """torch.autograd through F.cross_entropy (mean), in float64, returned in the logits' dtype."""
    dtype = compute_dtype(logits)
    values = torch.from_numpy(np.array(logits, dtype=np.float64)).requires_grad_(True)
    F.cross_entropy(values, torch.as_tensor(np.asarray(targets)), ignore_index=ignore_index).backward()
    return values.grad.numpy().astype(dtype)


@pytest.mark.parametrize(("case", "logits", "targets", "kwargs", "expected"), CE_CASES,
                         ids=[row[0] for row in CE_CASES])
def test_cross_entropy_bad_and_edge_input(case, logits, targets, kwargs, expected):
    check(cross_entropy, (logits, targets), kwargs, expected, lambda: torch_loss(logits, targets, **kwargs))


# The gradient takes the same input without `reduction`: every row above that does not name a reduction,
# plus the "none" rows with their reduction dropped (the gradient is always of the mean).
GRAD_CASES = [(case, logits, targets, {k: v for k, v in kwargs.items() if k != "reduction"}, expected)
              for case, logits, targets, kwargs, expected in CE_CASES if kwargs.get("reduction") in (None, "none")
              and not (isinstance(expected, Raises) and expected.fragment == REDUCTION)]
GRAD_HAND = {
    # torch's log_softmax backward multiplies the ignored row's zero upstream gradient by its NaN softmax
    # (0 * nan = nan); the spec says ignored rows get exactly 0, whatever their logits. The valid row is
    # softmax([0, 1, 2]) - onehot(0), over n = 1 valid target.
    "NaN in an ignored row": Hand([[0.0, 0.0, 0.0],
                                  np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum() - [1.0, 0.0, 0.0]]),
}


@pytest.mark.parametrize(("case", "logits", "targets", "kwargs", "expected"), GRAD_CASES,
                         ids=[row[0] for row in GRAD_CASES])
def test_cross_entropy_grad_bad_and_edge_input(case, logits, targets, kwargs, expected):
    expected = GRAD_HAND.get(case, expected)
    check(cross_entropy_grad, (logits, targets), kwargs, expected, lambda: torch_grad(logits, targets, **kwargs))


def test_every_row_of_the_gradient_tables_is_used():
    # Guard against a filter above silently dropping the rows it should keep.
    assert {"all ignored, mean", "empty batch, mean", "0-d logits", "target = K", "NaN in an ignored row",
            "float16 logits, none", "string logits"} <= {row[0] for row in GRAD_CASES}
    assert not any(row[0].startswith("reduction") for row in GRAD_CASES)



# ------------------------------------------------ chapter 4: softmax_with_temperature, entropy_from_logits, sampling

TEMPERATURES = [1.0, 0.5, 3]
softmax_with_temperature = temperature_ns["softmax_with_temperature"]
entropy_from_logits = temperature_ns["entropy_from_logits"]
sample_with_temperature = temperature_ns["sample_with_temperature"]


def torch_entropy(x, temperature, axis):
    """torch.distributions.Categorical's entropy of softmax(x / T) along `axis`, in float64, rounded to the dtype."""
    dtype = compute_dtype(x)
    wide = np.array(x, dtype=np.float64)
    if wide.ndim == 0:
        np.moveaxis(wide[None], axis, -1)  # raises AxisError for an axis a 0-d array cannot have
        return np.asarray(0.0, dtype)  # one outcome: entropy 0 (Categorical wants at least 1-D logits)
    logits = torch.from_numpy(np.moveaxis(wide, axis, -1).copy()) / temperature
    return torch.distributions.Categorical(logits=logits, validate_args=False).entropy().numpy().astype(dtype)


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize(("case", "x", "axis", "expected"), X_CASES, ids=[row[0] for row in X_CASES])
def test_softmax_with_temperature_bad_and_edge_input(case, x, axis, expected, temperature):
    # The chapter 1 table at three temperatures: torch.softmax(x / T) on every row (the naive overflow rows too).
    expected = TORCH if isinstance(expected, NaiveHand) else expected
    reference = lambda: torch.softmax(torch.from_numpy(np.array(x, dtype=compute_dtype(x))) / temperature, axis).numpy()  # noqa: E731
    check(softmax_with_temperature, (x, temperature), {"axis": axis}, expected, reference)


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize(("case", "x", "axis", "expected"), X_CASES, ids=[row[0] for row in X_CASES])
def test_entropy_from_logits_bad_and_edge_input(case, x, axis, expected, temperature):
    # The same table for the entropy, against torch's Categorical: NaN wherever the softmax is NaN (a NaN, a +inf,
    # an all -inf slice), masked -inf entries contribute 0, an empty slice has entropy 0 (Categorical's answer:
    # no outcomes, an empty sum), a 0-d input is one outcome with entropy 0.
    expected = TORCH if isinstance(expected, NaiveHand) else expected
    check(entropy_from_logits, (x, temperature), {"axis": axis}, expected, lambda: torch_entropy(x, temperature, axis))


ONE_HOT = [0.0, 1.0, 0.0]
TEMPERATURE_CASES = [
    # (case, x, temperature, softmax expected, entropy expected)
    # The spec's errors: a temperature <= 0 or not finite.
    *[(f"temperature {t!r}", [1.0, 2.0], t, Raises(ValueError, "temperature"), Raises(ValueError, "temperature"))
      for t in (0.0, -0.0, -1.0, nan, inf, -inf, np.float32(nan), np.float64(-2.0))],
    # A temperature that is not a real number: a TypeError naming it (float() would take "2" and True silently).
    *[(f"temperature {t!r}", [1.0, 2.0], t, Raises(TypeError, "temperature must be a real number"),
       Raises(TypeError, "temperature must be a real number"))
      for t in (None, "2", True, np.bool_(True), [1.0], 1 + 0j, np.array(2.0))],
    # Integer and NumPy temperatures are real numbers; a NumPy float64 does not change float32 logits' dtype.
    ("temperature int 2", [1.0, 3.0], 2, TORCH, TORCH),
    ("temperature np.int64(3)", np.array([1.0, 3.0], np.float32), np.int64(3), TORCH, TORCH),
    ("temperature np.float32(0.25)", [0.5, -1.0, 2.0], np.float32(0.25), TORCH, TORCH),
    # Tiny temperatures: (x - max) / T is shifted before dividing, so the limit T -> 0 (one-hot, entropy 0) holds
    # even where x / T overflows. torch.softmax(x / T) gives NaN there: the course departs from it on purpose.
    ("T = 1e-300", [1.0, 3.0, 2.0], 1e-300, Hand(ONE_HOT), Hand(0.0)),
    ("T = smallest subnormal", [1.0, 3.0, 2.0], 5e-324, Hand(ONE_HOT), Hand(0.0)),
    ("float16, T = 1e-3 (x / T overflows float16)", np.array([1.0, 3.0, 2.0], np.float16), 1e-3,
     Hand(ONE_HOT, np.float16), Hand(0.0, np.float16)),
    ("tied maxima, T = 1e-300", [2.0, 2.0, 1.0], 1e-300, Hand([0.5, 0.5, 0.0]), Hand(np.log(2.0))),
    # Huge temperatures: uniform, entropy log(K).
    ("T = 1e300", [1.0, 5.0, 2.0], 1e300, Hand([1 / 3] * 3), Hand(np.log(3.0))),
]


@pytest.mark.parametrize(("case", "x", "temperature", "softmax_expected", "entropy_expected"), TEMPERATURE_CASES,
                         ids=[row[0] for row in TEMPERATURE_CASES])
def test_temperatures_bad_and_edge(case, x, temperature, softmax_expected, entropy_expected):
    values = lambda: torch.from_numpy(np.array(x, dtype=compute_dtype(x))) / float(temperature)  # noqa: E731
    check(softmax_with_temperature, (x, temperature), {}, softmax_expected,
          lambda: torch.softmax(values(), -1).numpy())
    check(entropy_from_logits, (x, temperature), {}, entropy_expected,
          lambda: torch_entropy(x, float(temperature), -1))


GENERATOR = "numpy.random.Generator"
SAMPLE_CASES = [
    # (case, logits, temperature, rng, expected): a defined draw is an index that every seed must give.
    ("one class", [5.0], 1.0, None, Hand(0)),
    ("all masked but one", [-inf, 0.3, -inf], 0.7, None, Hand(1)),
    ("float16, all masked but one", np.array([-inf, -inf, 2.0], np.float16), 2.0, None, Hand(2)),
    ("list of ints, exp(-1000) is 0", [0, -1000], 1, None, Hand(0)),
    ("float32 logits far apart (no overflow)", np.array([0.0, 1000.0], np.float32), 1.0, None, Hand(1)),
    ("T = 1e-300: the argmax", [1.0, 3.0, 2.0], 1e-300, None, Hand(1)),
    ("T = smallest subnormal: the argmax", [1.0, 3.0, 2.0], 5e-324, None, Hand(1)),
    # No distribution to draw from.
    ("empty logits", [], 1.0, None, Raises(ValueError, "at least one class")),
    ("0-d logits", 2.0, 1.0, None, Raises(ValueError, "1-D")),
    ("2-D logits (a batch)", [[1.0, 2.0], [3.0, 4.0]], 1.0, None, Raises(ValueError, "1-D")),
    ("NaN logit", [nan, 1.0], 1.0, None, Raises(ValueError, "NaN")),
    ("+inf logit", [inf, 1.0], 1.0, None, Raises(ValueError, "+inf")),
    ("every logit -inf", [-inf, -inf], 1.0, None, Raises(ValueError, "every logit is -inf")),
    ("string logits", "abc", 1.0, None, Raises(TypeError, "logits must hold real numbers")),
    ("None logits", None, 1.0, None, Raises(TypeError, "logits must hold real numbers")),
    ("boolean logits", [True, False], 1.0, None, Raises(TypeError, "logits must hold real numbers")),
    ("complex logits", [1j, 1.0], 1.0, None, Raises(TypeError, "logits must hold real numbers")),
    # Temperatures, as for the other two functions.
    ("temperature 0", [1.0, 2.0], 0.0, None, Raises(ValueError, "temperature")),
    ("temperature nan", [1.0, 2.0], nan, None, Raises(ValueError, "temperature")),
    ("temperature '1'", [1.0, 2.0], "1", None, Raises(TypeError, "temperature must be a real number")),
    # The random source must be a Generator: a seed, the legacy np.random module or RandomState would draw
    # differently from the spec's `rng.choice` / `rng.random` and make results irreproducible across versions.
    ("rng None", [1.0, 2.0], 1.0, "none", Raises(TypeError, GENERATOR)),
    ("rng an int seed", [1.0, 2.0], 1.0, 42, Raises(TypeError, GENERATOR)),
    ("rng the np.random module", [1.0, 2.0], 1.0, np.random, Raises(TypeError, GENERATOR)),
    ("rng a RandomState", [1.0, 2.0], 1.0, np.random.RandomState(0), Raises(TypeError, GENERATOR)),
]


@pytest.mark.parametrize(("case", "logits", "temperature", "rng", "expected"), SAMPLE_CASES,
                         ids=[row[0] for row in SAMPLE_CASES])
def test_sample_with_temperature_bad_and_edge_input(case, logits, temperature, rng, expected):
    if isinstance(expected, Raises):
        rng = None if rng == "none" else (np.random.default_rng(0) if rng is None else rng)
        return expected.check(sample_with_temperature, logits, temperature, rng)
    for seed in range(20):
        got = without_warnings(sample_with_temperature, logits, temperature, np.random.default_rng(seed))
        assert type(got) is int and got == expected.value, (seed, got)


# ------------------------------------------------ chapter 5: softcap, softcap_grad, softcapped_cross_entropy, env

softcap, softcap_grad = softcap_ns["softcap"], softcap_ns["softcap_grad"]
softcapped_cross_entropy = softcap_ns["softcapped_cross_entropy"]
logit_softcap_from_env = softcap_ns["logit_softcap_from_env"]
CAPS = [30.0, 2.0, None]
X_REAL = "x must hold real numbers"

SOFTCAP_CASES = [
    # (case, x, expected): element-wise, so every shape is fine and no axis can be out of range.
    ("empty (0,)", np.zeros((0,)), TORCH),
    ("empty (3, 0)", np.zeros((3, 0)), TORCH),
    ("empty float32 (2, 0)", np.zeros((2, 0), np.float32), TORCH),
    ("0-d Python float", 2.0, TORCH),
    ("0-d np.float32", np.float32(-45.0), TORCH),
    ("0-d Python int", 3, TORCH),
    ("list of ints", [1, -2, 300], TORCH),
    ("int8 array", np.array([[1, -2], [127, -128]], np.int8), TORCH),
    ("uint64 array", np.array([0, 7], np.uint64), TORCH),
    # Non-finite: tanh(+-inf) = +-1, so +-inf is capped at +-cap (and cap=None leaves it); NaN stays NaN.
    ("NaN, +inf, -inf", [nan, inf, -inf, 1.0], TORCH),
    ("float16 near its range", np.array([1.0, 40.0, -60000.0, 65504.0], np.float16), TORCH),
    ("float16 NaN and -inf", np.array([[nan, 1.0], [-inf, 1.0]], np.float16), TORCH),
    ("float32 huge", np.array([1e38, -3e38, 3.0], np.float32), TORCH),
    ("float64 tiny", [1e-300, -5e-324, 0.0], TORCH),
    # Not numbers.
    ("string", "abc", Raises(TypeError, X_REAL)),
    ("None", None, Raises(TypeError, X_REAL)),
    ("booleans", [True, False], Raises(TypeError, X_REAL)),
    ("complex", [1 + 1j, 2.0], Raises(TypeError, X_REAL)),
]


def torch_softcap(x, cap):
    values = torch.from_numpy(np.array(x, dtype=compute_dtype(x)))
    return values.numpy().copy() if cap is None else (float(cap) * torch.tanh(values / float(cap))).numpy()


def torch_softcap_grad(x, cap):
    """torch.autograd through cap * tanh(x / cap) in float64, rounded to the dtype (ones when cap is None)."""
    dtype = compute_dtype(x)
    values = torch.from_numpy(np.array(x, dtype=np.float64)).requires_grad_(True)
    if cap is None:
        values.sum().backward()
    else:
        (float(cap) * torch.tanh(values / float(cap))).sum().backward()
    return values.grad.numpy().astype(dtype)


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize(("case", "x", "expected"), SOFTCAP_CASES, ids=[row[0] for row in SOFTCAP_CASES])
def test_softcap_and_its_gradient_bad_and_edge_input(case, x, expected, cap):
    check(softcap, (x, cap), {}, expected, lambda: torch_softcap(x, cap))
    check(softcap_grad, (x, cap), {}, expected, lambda: torch_softcap_grad(x, cap))


def test_softcap_none_returns_a_copy():
    # cap=None is the identity, but writing into the result must not change the caller's logits.
    logits = np.array([1.0, 2.0])
    softcap(logits, None)[0] = 99.0
    assert logits[0] == 1.0


CAP_VALUE = "cap must be a positive finite number"
CAP_TYPE = "cap must be a real number"
CAP_CASES = [
    # (case, cap, expected): the spec's ValueError for a cap <= 0 or not finite (parameter-golf refuses them too),
    # a TypeError for a cap that is not a number; int and NumPy caps are numbers.
    *[(f"cap {c!r}", c, Raises(ValueError, CAP_VALUE)) for c in (0.0, -0.0, -1.0, nan, inf, -inf, np.float32(0))],
    *[(f"cap {c!r}", c, Raises(TypeError, CAP_TYPE)) for c in ("30", True, np.bool_(True), [30.0], 30 + 0j, np.array(30.0))],
    ("cap int 4", 4, TORCH),
    ("cap np.float32(2.5)", np.float32(2.5), TORCH),
    ("cap np.int64(3)", np.int64(3), TORCH),
    ("cap 1e-300 (x / cap overflows)", 1e-300, TORCH),
]
CAP_X, CAP_TARGETS = np.array([[3.0, -1.0, 0.5], [100.0, 2.0, -7.0]]), np.array([0, 2])


@pytest.mark.parametrize(("case", "cap", "expected"), CAP_CASES, ids=[row[0] for row in CAP_CASES])
def test_caps_bad_and_edge(case, cap, expected):
    check(softcap, (CAP_X, cap), {}, expected, lambda: torch_softcap(CAP_X, cap))
    check(softcap_grad, (CAP_X, cap), {}, expected, lambda: torch_softcap_grad(CAP_X, cap))
    check(softcapped_cross_entropy, (CAP_X, CAP_TARGETS, cap), {}, expected,
          lambda: torch_loss(torch_softcap(CAP_X, cap), CAP_TARGETS))


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize(("case", "logits", "targets", "kwargs", "expected"), CE_CASES, ids=[row[0] for row in CE_CASES])
def test_softcapped_cross_entropy_bad_and_edge_input(case, logits, targets, kwargs, expected, cap):
    # The chapter 3 table with a cap: torch's cross-entropy of cap * tanh(logits / cap) (with cap=None, of the
    # logits themselves). A +inf logit is capped at cap, so "+inf in a row" is finite here when a cap is set.
    reference = lambda: torch_loss(torch_softcap(logits, cap), targets, **kwargs)  # noqa: E731
    check(softcapped_cross_entropy, (logits, targets, cap), kwargs, expected, reference)


NOT_A_NUMBER, NOT_POSITIVE, DEFAULT_TYPE = "LOGIT_SOFTCAP must be a number", "logit_softcap must be positive", "default must be a number"
ENV_CASES = [
    # (case, LOGIT_SOFTCAP or None for unset, kwargs, expected): a Python float, or the error.
    ("unset", None, {}, 30.0),
    ("unset, default=12 (an int)", None, {"default": 12}, 12.0),
    ("unset, default=np.float32(2.5)", None, {"default": np.float32(2.5)}, 2.5),
    ("'20'", "20", {}, 20.0),
    ("' 12.5\\n' (float() strips whitespace)", " 12.5\n", {}, 12.5),
    ("'1e1'", "1e1", {}, 10.0),
    ("set beats the default", "30", {"default": 5.0}, 30.0),
    ("empty string", "", {}, Raises(ValueError, NOT_A_NUMBER)),
    ("'abc'", "abc", {}, Raises(ValueError, NOT_A_NUMBER)),
    ("'30,5' (a decimal comma)", "30,5", {}, Raises(ValueError, NOT_A_NUMBER)),
    ("'0x1E' (hex)", "0x1E", {}, Raises(ValueError, NOT_A_NUMBER)),
    *[(repr(text), text, {}, Raises(ValueError, NOT_POSITIVE)) for text in ("0", "-5", "inf", "-inf", "nan")],
    *[(f"unset, default={d!r}", None, {"default": d}, Raises(ValueError, NOT_POSITIVE)) for d in (0.0, -1, nan)],
    *[(f"default={d!r}", None, {"default": d}, Raises(TypeError, DEFAULT_TYPE)) for d in (None, "30", True)],
    ("a bad default is refused even when the variable is set", "20", {"default": None}, Raises(TypeError, DEFAULT_TYPE)),
]


@pytest.mark.parametrize(("case", "text", "kwargs", "expected"), ENV_CASES, ids=[row[0] for row in ENV_CASES])
def test_logit_softcap_from_env_bad_and_edge_input(monkeypatch, case, text, kwargs, expected):
    if text is None:
        monkeypatch.delenv("LOGIT_SOFTCAP", raising=False)
    else:
        monkeypatch.setenv("LOGIT_SOFTCAP", text)
    if isinstance(expected, Raises):
        expected.check(logit_softcap_from_env, **kwargs)
    else:
        got = logit_softcap_from_env(**kwargs)
        assert type(got) is float and got == expected


# ------------------------------------------------ chapter 6: softcap_cross_entropy, chunked_linear_softcap_cross_entropy

softcap_cross_entropy = gpu_ns["softcap_cross_entropy"]
chunked = gpu_ns["chunked_linear_softcap_cross_entropy"]
TORCH_EPS = {torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7, torch.float32: 2.0**-23, torch.float64: 2.0**-52}


def assert_same_tensor(got, expected, ulps=8):
    """Same dtype and shape; NaN and +-inf in the same places; finite values within a few units of the dtype."""
    assert isinstance(got, torch.Tensor), type(got)
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, expected {expected.dtype}"
    assert got.shape == expected.shape, f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    got, expected, tol = got.detach().double(), expected.detach().double(), ulps * TORCH_EPS[expected.dtype]
    assert torch.equal(got.isnan(), expected.isnan()) and torch.equal(got.isinf(), expected.isinf())
    assert torch.equal(got[got.isinf()], expected[expected.isinf()])
    finite = expected.isfinite()
    torch.testing.assert_close(got[finite], expected[finite], rtol=tol, atol=tol)


def loss_and_grads(function, tensors, *args, **kwargs):
    """The loss and the gradient of every input tensor, from fresh leaves (inputs are never modified)."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss = without_warnings(function, *leaves, *args, **kwargs)
    without_warnings(loss.backward)
    return loss, [leaf.grad for leaf in leaves]


def reference_loss_and_grads(logits_of, tensors, targets, cap, ignore_index=-100, drop=()):
    """Autograd through F.cross_entropy(cap * tanh(logits / cap)) in float64: the loss rounded to the dtype the
    spec computes in (float64 stays, everything else float32), the gradients to each input's dtype. Rows in
    `drop` are ignored rows the course treats as absent: the reference runs without them, their gradient is 0."""
    wide = [t.detach().double().requires_grad_(True) for t in tensors]
    targets = torch.as_tensor(targets).long()
    kept = [i for i in range(targets.shape[0]) if i not in drop] if targets.dim() else None
    if targets.dim() == 0:  # one row (V,) with a 0-d target
        logits, row_targets = logits_of(*wide)[None], targets[None]
    else:  # the rows of the first input (logits, or hidden) are the samples
        logits, row_targets = logits_of(wide[0][kept], *wide[1:]), targets[kept]
    loss = F.cross_entropy(cap * torch.tanh(logits / cap), row_targets, ignore_index=ignore_index)
    loss.backward()
    loss_dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    return loss.detach().to(loss_dtype), [w.grad.to(t.dtype) for w, t in zip(wide, tensors)]


def check_torch(function, tensors, args, kwargs, expected, logits_of, targets, cap, drop=()):
    if isinstance(expected, Raises):
        return expected.check(function, *tensors, *args, **kwargs)
    got_loss, got_grads = loss_and_grads(function, tensors, *args, **kwargs)
    want_loss, want_grads = reference_loss_and_grads(logits_of, tensors, targets, float(cap),
                                                     kwargs.get("ignore_index", -100), drop)
    assert got_loss.dim() == 0
    assert_same_tensor(got_loss, want_loss)
    for got, want in zip(got_grads, want_grads):
        assert_same_tensor(got, want)


def t64(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


ZEROS_23 = torch.zeros(2, 3)
TYPE_LOGITS, INTEGER_TARGETS, OUT_OF_RANGE = "logits must be a floating-point torch tensor", "integer class indices", "out of range"
SCE_CASES = [
    # (case, logits, targets, cap, kwargs, expected, rows treated as absent)
    # Empty batch: torch's mean over no targets is 0 / 0 = NaN; the gradient is empty.
    ("empty batch", torch.zeros(0, 5), torch.zeros(0, dtype=torch.long), 30.0, {}, TORCH, ()),
    ("no classes (V = 0)", torch.zeros(3, 0), torch.full((3,), -100), 30.0, {}, Raises(ValueError, "shape"), ()),
    # Every target ignored: NaN loss (0 / 0, as torch) and a zero gradient (as torch; no inf * 0 = NaN).
    ("all ignored", t64([[1.0, 2.0], [3.0, -1.0]]), [-100, -100], 2.0, {}, TORCH, ()),
    ("1-D logits, 0-d target", t64([3.0, -1.0, 40.0]), torch.tensor(2), 4.0, {}, TORCH, ()),
    # Targets of any integer type or a list; they index like int64.
    ("targets a list", t64([[1.0, 2.0], [0.5, 0.0]]), [1, 0], 3.0, {}, TORCH, ()),
    ("int32 targets", t64([[1.0, 2.0], [0.5, 0.0]]), torch.tensor([1, 0], dtype=torch.int32), 3.0, {}, TORCH, ()),
    ("uint8 targets", t64([[1.0, 2.0], [0.5, 0.0]]), torch.tensor([1, 0], dtype=torch.uint8), 3.0, {}, TORCH, ()),
    # Non-finite logits: +-inf is capped at +-cap (finite loss, zero slope there); NaN makes its row's loss NaN.
    ("+inf and -inf logits", t64([[inf, 1.0, -inf], [0.0, -inf, 2.0]]), [0, 1], 5.0, {}, TORCH, ()),
    ("NaN in a kept row", t64([[nan, 1.0], [0.0, 2.0]]), [1, 0], 5.0, {}, TORCH, ()),
    # An ignored row adds nothing and its gradient is exactly 0 even when it is NaN (torch's own backward gives
    # 0 * NaN = NaN there); the reference is the batch without that row.
    ("NaN in an ignored row", t64([[nan, 1.0], [0.0, 2.0], [1.0, -1.0]]), [-100, 0, 1], 5.0, {}, TORCH, (0,)),
    ("huge float32 logits", torch.tensor([[1e30, 0.0, -1e30]]), [2], 10.0, {}, TORCH, ()),
    # Low precision in, float32 loss out, gradient in the input's dtype (values exact in every format).
    *[(f"{dtype} logits", (torch.arange(12.0).reshape(3, 4) / 4 - 1).to(dtype), [3, -100, 0], 2.0, {}, TORCH, ())
      for dtype in (torch.float16, torch.bfloat16, torch.float32)],
    # Caps: numbers of any kind are fine; not positive and finite is the spec's ValueError; not a number a TypeError.
    ("cap np.float32(2.5)", ZEROS_23, [0, 2], np.float32(2.5), {}, TORCH, ()),
    ("cap int 4", ZEROS_23, [0, 2], 4, {}, TORCH, ()),
    *[(f"cap {c!r}", ZEROS_23, [0, 2], c, {}, Raises(ValueError, "cap must be a positive finite number"), ())
      for c in (0.0, -1.0, nan, inf)],
    *[(f"cap {c!r}", ZEROS_23, [0, 2], c, {}, Raises(TypeError, "cap must be a real number"), ())
      for c in (None, "30", True, torch.tensor(30.0))],
    # Logits that are not a floating-point tensor.
    ("NumPy logits", np.zeros((2, 3)), [0, 2], 30.0, {}, Raises(TypeError, TYPE_LOGITS), ()),
    ("list logits", [[0.0, 1.0]], [0], 30.0, {}, Raises(TypeError, TYPE_LOGITS), ()),
    ("int64 tensor logits", torch.zeros(2, 3, dtype=torch.long), [0, 2], 30.0, {}, Raises(TypeError, TYPE_LOGITS), ()),
    ("bool tensor logits", torch.zeros(2, 3, dtype=torch.bool), [0, 2], 30.0, {}, Raises(TypeError, TYPE_LOGITS), ()),
    ("complex logits", torch.zeros(2, 3, dtype=torch.complex64), [0, 2], 30.0, {}, Raises(TypeError, TYPE_LOGITS), ()),
    # Targets that are not integer class indices, of the wrong shape, or out of range.
    ("float targets", ZEROS_23, torch.tensor([0.0, 2.0]), 30.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("bool targets", ZEROS_23, torch.tensor([True, False]), 30.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("None targets", ZEROS_23, None, 30.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("string targets", ZEROS_23, ["a", "b"], 30.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("targets (N, 1)", ZEROS_23, [[0], [2]], 30.0, {}, Raises(ValueError, "shape"), ()),
    ("too many targets", ZEROS_23, [0, 1, 2], 30.0, {}, Raises(ValueError, "shape"), ()),
    ("scalar target for a batch", ZEROS_23, torch.tensor(1), 30.0, {}, Raises(ValueError, "shape"), ()),
    ("3-D logits", torch.zeros(2, 2, 3), torch.zeros(2, 2, dtype=torch.long), 30.0, {}, Raises(ValueError, "shape"), ()),
    ("target = V", ZEROS_23, [0, 3], 30.0, {}, Raises(ValueError, OUT_OF_RANGE), ()),
    ("negative target", ZEROS_23, [0, -1], 30.0, {}, Raises(ValueError, OUT_OF_RANGE), ()),
    ("-100 when ignore_index=-1", ZEROS_23, [0, -100], 30.0, {"ignore_index": -1}, Raises(ValueError, OUT_OF_RANGE), ()),
]


@pytest.mark.parametrize(("case", "logits", "targets", "cap", "kwargs", "expected", "drop"), SCE_CASES,
                         ids=[row[0] for row in SCE_CASES])
def test_softcap_cross_entropy_bad_and_edge_input(case, logits, targets, cap, kwargs, expected, drop):
    check_torch(softcap_cross_entropy, [logits], (targets, cap), kwargs, expected, lambda x: x, targets, cap, drop)


def exact(shape, dtype, seed, scale=4):
    """Small multiples of 1 / scale: products and sums of a few of them are exact even in float16 and bfloat16."""
    return (torch.randint(-6, 7, shape, generator=torch.Generator().manual_seed(seed)) / scale).to(dtype)


H, W = exact((5, 3), torch.float64, 1), exact((4, 3), torch.float64, 2)
H_NAN = H.clone()
H_NAN[1, 0] = nan
CHUNK_TYPE = "chunk_size must be an integer"
CHUNKED_CASES = [
    # (case, hidden, weight, targets, cap, kwargs, expected, rows treated as absent)
    ("N = 0", torch.zeros(0, 3), torch.ones(4, 3), torch.zeros(0, dtype=torch.long), 30.0, {}, TORCH, ()),
    ("D = 0 (every logit 0)", torch.zeros(3, 0), torch.zeros(4, 0), [0, 3, 1], 30.0, {}, TORCH, ()),
    ("V = 0", torch.zeros(3, 2), torch.zeros(0, 2), [-100] * 3, 30.0, {}, Raises(ValueError, "shape"), ()),
    ("all ignored", H, W, [-100] * 5, 2.0, {"chunk_size": 2}, TORCH, ()),
    ("NaN hidden in a kept row", H_NAN, W, [0, 1, 2, 3, 0], 2.0, {"chunk_size": 2}, TORCH, ()),
    ("NaN hidden in an ignored row", H_NAN, W, [0, -100, 2, 3, 0], 2.0, {"chunk_size": 2}, TORCH, (1,)),
    ("chunk_size 1", H, W, [0, 1, 2, 3, 0], 2.0, {"chunk_size": 1}, TORCH, ()),
    ("chunk_size > N", H, W, [0, 1, 2, 3, 0], 2.0, {"chunk_size": 100}, TORCH, ()),
    ("chunk_size np.int64(2)", H, W, [0, 1, 2, 3, 0], 2.0, {"chunk_size": np.int64(2)}, TORCH, ()),
    ("targets a list with ignore_index=7", H, W, [0, 7, 2, 3, 7], 2.0, {"chunk_size": 2, "ignore_index": 7}, TORCH, ()),
    ("int32 targets", H, W, torch.tensor([0, 1, 2, 3, 0], dtype=torch.int32), 2.0, {"chunk_size": 2}, TORCH, ()),
    ("uint8 targets", H, W, torch.tensor([0, 1, 2, 3, 0], dtype=torch.uint8), 2.0, {"chunk_size": 2}, TORCH, ()),
    ("cap np.float32(1.5)", H, W, [0, 1, 2, 3, 0], np.float32(1.5), {"chunk_size": 2}, TORCH, ()),
    *[(f"{dtype} hidden and weight", exact((5, 3), dtype, 3), exact((40, 3), dtype, 4, scale=8), [0, 39, -100, 7, 20],
       5.0, {"chunk_size": 2}, TORCH, ()) for dtype in (torch.float16, torch.bfloat16, torch.float32)],
    # chunk_size: at least 1 (the spec's ValueError); not an integer is a TypeError (2.5 rows cannot be a chunk).
    *[(f"chunk_size {c!r}", H, W, [0] * 5, 2.0, {"chunk_size": c}, Raises(ValueError, "chunk_size must be an integer >= 1"), ())
      for c in (0, -2)],
    *[(f"chunk_size {c!r}", H, W, [0] * 5, 2.0, {"chunk_size": c}, Raises(TypeError, CHUNK_TYPE), ())
      for c in (2.5, "4", True, None)],
    *[(f"cap {c!r}", H, W, [0] * 5, c, {}, Raises(ValueError, "cap must be a positive finite number"), ())
      for c in (0.0, -1.0, nan, inf)],
    *[(f"cap {c!r}", H, W, [0] * 5, c, {}, Raises(TypeError, "cap must be a real number"), ()) for c in (None, "30", True)],
    ("NumPy hidden", H.numpy(), W, [0] * 5, 2.0, {}, Raises(TypeError, "hidden must be a floating-point torch tensor"), ()),
    ("int64 weight", H, W.long(), [0] * 5, 2.0, {}, Raises(TypeError, "weight must be a floating-point torch tensor"), ()),
    ("1-D hidden", H[0], W, 0, 2.0, {}, Raises(ValueError, "hidden must be 2-D"), ()),
    ("3-D weight", H, W[None], [0] * 5, 2.0, {}, Raises(ValueError, "weight must be 2-D"), ()),
    ("D mismatch", H, W[:, :2], [0] * 5, 2.0, {}, Raises(ValueError, "shape"), ()),
    ("dtype mismatch", H, W.float(), [0] * 5, 2.0, {}, Raises(ValueError, "dtype"), ()),
    ("float targets", H, W, torch.zeros(5), 2.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("None targets", H, W, None, 2.0, {}, Raises(ValueError, INTEGER_TARGETS), ()),
    ("too few targets", H, W, [0] * 4, 2.0, {}, Raises(ValueError, "shape"), ()),
    ("target = V", H, W, [0, 0, 4, 0, 0], 2.0, {}, Raises(ValueError, OUT_OF_RANGE), ()),
    ("negative target", H, W, [0, 0, -1, 0, 0], 2.0, {}, Raises(ValueError, OUT_OF_RANGE), ()),
]


@pytest.mark.parametrize(("case", "hidden", "weight", "targets", "cap", "kwargs", "expected", "drop"), CHUNKED_CASES,
                         ids=[row[0] for row in CHUNKED_CASES])
def test_chunked_linear_softcap_cross_entropy_bad_and_edge_input(case, hidden, weight, targets, cap, kwargs, expected, drop):
    check_torch(chunked, [hidden, weight], (targets, cap), kwargs, expected, lambda h, w: h @ w.T, targets, cap, drop)


def test_chapter_6_functions_leave_their_inputs_alone_and_work_without_gradients():
    # The chunked loss writes into its buffers in place: never into the caller's tensors, even float64 ones
    # (where .to(float64) returns the very same tensor), and without autograd it only computes the loss.
    hidden, weight, logits = H_NAN.clone(), W.clone(), (H @ W.T).clone()
    targets = torch.tensor([0, -100, 2, 3, 0])
    loss_and_grads(chunked, [hidden, weight], targets, 2.0, chunk_size=2)
    chunked(hidden.requires_grad_(True), weight, targets, 2.0, chunk_size=2).backward()
    loss_and_grads(softcap_cross_entropy, [logits], targets, 2.0)
    assert torch.equal(hidden.detach().isnan(), H_NAN.isnan())
    assert torch.equal(hidden.detach().nan_to_num(), H_NAN.nan_to_num()) and torch.equal(weight, W)
    assert torch.equal(logits, H @ W.T)
    with torch.no_grad():
        assert not chunked(H, W, targets, 2.0).requires_grad and not softcap_cross_entropy(logits, targets, 2.0).requires_grad

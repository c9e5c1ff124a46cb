"""Checks that fail like a good teacher: what went wrong, the call, what was expected, what came back, and a hint.

The graded notebooks' tests use these instead of bare ``assert`` or ``np.allclose``.

**The precision policy** (the course's one rule for every numeric test). A result may differ from the exact answer
by a few units of rounding of the problem's dtype times the size of the problem:

    |got - expected| <= ROUNDING_UNITS * eps * (scale + |expected|)

``eps`` is the machine epsilon of the dtype the answer must have (``dtype=``; otherwise the least precise floating
input, float64 for lists and integers), and ``scale`` is the size of the inputs: the largest finite magnitude among
the call's floating arguments (and its first argument, whatever its type), at least 1. That is the error a
backward-stable algorithm makes on softmax, log-softmax, log-sum-exp and cross-entropy, whose conditioning is set by
the size of the logits: every such algorithm passes, in every dtype, while a wrong formula, an overflow, or digits lost
to a lower-precision intermediate fail. A test whose problem is conditioned differently says so with ``scale=`` (for
instance ``max|x| / T`` for a temperature ``T``). Tests that ask for more accuracy than that state it explicitly with
``rtol=``/``atol=``, and the instructions name them.

**Messages chosen by what went wrong.** An exception, a missing ``return``, a dtype, a shape, a NaN/inf pattern, a
difference of rounding size (with its size in units of rounding and the tolerance, both numbers in full) or a
large error each get their own first line, which holds the essentials within the width ``nbgrader validate``
prints. ``hint`` may be a string (used for exceptions, shapes, non-finite values and large errors: the mistakes it
describes) or a dict with the keys ``error``, ``shape``, ``nonfinite``, ``value``, ``dtype``, ``rounding``.
A dtype mismatch or a rounding-size difference gets a hint written for it, never the call's hint.

Design rules kept from the start:

* A student's cell must not be able to make a check pass by patching the usual comparison helpers
  (``np.allclose``, ``np.isclose``, ``np.testing.*``, ``math.isclose``, ``torch.allclose``). The comparison
  below uses none of them: it works on plain Python floats, with functions bound when this module is imported
  (before any student code runs). The module itself is read-only (assigning to its attributes raises), and test
  cells import the checks they use, so a student's cell can neither replace nor redefine them.
* nbgrader gives a test cell 0 points when anything is written to stderr in it, and reads a numeric result
  as partial credit. So the student's function runs with warnings silenced and stderr captured (a NumPy
  ``RuntimeWarning`` must not cost a correct answer its points), and the checks return None.
"""

import contextlib as _contextlib
import io as _io
import math as _math
import random as _random
import sys as _sys
import textwrap as _textwrap
import types as _types
import warnings as _warnings

import numpy as np

# Bound at import time, so that re-assigning np.isnan & co. in a notebook cannot change what these checks see.
_isnan = _math.isnan
_isinf = _math.isinf
_isfinite = _math.isfinite
_fabs = _math.fabs
_asarray = np.asarray
_float64 = np.float64

__all__ = ["quietly", "expect_kernel_compiles", "expect_vocab_parallel", "expect_call", "expect_raises", "expect_close", "expect_gradient", "expect", "call_repr", "tolerance",
           "ROUNDING_UNITS", "EPS"]

# How many units of rounding (eps times the problem's size) a backward-stable answer may be off by.
ROUNDING_UNITS = 8
# Machine epsilon of each floating dtype (torch.finfo / np.finfo: the gap between 1 and the next number).
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}
# The width nbgrader validate prints (nbgrader_config.py sets Validator.width to it); message lines are wrapped below it.
WIDTH = 100
_HINT_KINDS = ("error", "shape", "nonfinite", "value", "dtype", "rounding")


class _Missing:
    def __repr__(self):
        return "<not given>"


_MISSING = _Missing()


def _is_tensor(value):
    return type(value).__module__.startswith("torch")


def _dtype_name(dtype):
    """'float32' for np.float32, np.dtype('float32'), torch.float32 or a NumPy array's dtype."""
    if type(dtype).__module__.startswith("torch"):
        return str(dtype).replace("torch.", "")
    return np.dtype(dtype).name


def _to_float64_array(value):
    """Any array-like (NumPy, torch tensor in any dtype, list, scalar) as a float64 NumPy array."""
    if _is_tensor(value):
        import torch

        value = value.detach().to(device="cpu", dtype=torch.float64).numpy()
    return _asarray(value, dtype=_float64)


def _short(value, limit=220):
    """A readable one-line rendering of an array-like for messages, with its dtype."""
    if _is_tensor(value):
        shown = _to_float64_array(value) if value.is_floating_point() else value.detach().cpu().numpy()
        text = "tensor(" + np.array2string(shown, precision=6, separator=", ", threshold=20)
        text += f", dtype={_dtype_name(value.dtype)})"
    elif isinstance(value, np.ndarray):
        body = np.array2string(value, precision=6, separator=", ", threshold=20)
        text = f"np.array({body}, dtype={value.dtype})" if value.ndim else f"{value.dtype.name}({value.item()!r})"
    elif isinstance(value, np.generic):
        text = f"{value.dtype.name}({value.item()!r})"
    elif callable(value) and isinstance(getattr(value, "__name__", None), str) and not isinstance(value, type):
        text = value.__name__  # a function passed to a helper (run_vocab_parallel(f, ...)) by its name
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_repr(name, *args, **kwargs):
    """``name(arg, ..., key=value)`` with arrays shown with their dtype, for failure messages."""
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# ------------------------------------------------------------------------------------------- the precision policy


def _floating_dtype_name(value):
    """The floating dtype of an array, tensor or NumPy scalar; None for anything else."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    name = _dtype_name(dtype) if _is_tensor(value) or hasattr(dtype, "kind") else None
    return name if name in EPS else None


def _magnitude(value, any_number=False):
    """The largest finite |entry| of a floating array-like (of any numeric one with ``any_number``), or None."""
    if value is None or isinstance(value, (bool, str, bytes)) or callable(value):
        return None
    if isinstance(value, int) and not any_number:
        return None
    if _is_tensor(value) and not (value.is_floating_point() or any_number):
        return None
    try:
        array = _to_float64_array(value) if _is_tensor(value) else _asarray(value)
        if array.dtype.kind not in ("f" if not any_number else "fiu"):
            return None
        finite = [abs(v) for v in array.astype(_float64).ravel().tolist() if _isfinite(v)]
    except (TypeError, ValueError, OverflowError):
        return None
    return max(finite, default=0.0)


def _allowed(eps, scale, expected):
    """The precision policy: the error allowed next to ``expected`` for a problem of size ``scale``."""
    return ROUNDING_UNITS * eps * (max(1.0, scale) + _fabs(expected))


def tolerance(dtype=None, scale=1.0):
    """The absolute error the policy allows where the answer is 0: ``ROUNDING_UNITS * eps * max(1, scale)``."""
    return _allowed(EPS["float64" if dtype is None else _dtype_name(dtype)], scale, 0.0)


def _policy(args, kwargs, dtype):
    """(eps, scale) of a call: the answer's dtype (declared, else the least precise floating input) and its size."""
    if dtype is not None:
        eps = EPS.get(_dtype_name(dtype), EPS["float64"])
    else:
        names = [_floating_dtype_name(v) for v in list(args) + list(kwargs.values())]
        eps = max([EPS[n] for n in names if n] or [EPS["float64"]])
    sizes = [_magnitude(v, any_number=(i == 0)) for i, v in enumerate(args)]
    sizes += [_magnitude(v) for v in kwargs.values()]
    return eps, max([1.0] + [s for s in sizes if s is not None])


# ------------------------------------------------------------------------------------------------ the messages


def _wrap(lines):
    """Every line within WIDTH, continuation lines indented, so that nbgrader validate cuts nothing."""
    out = []
    for line in (part for text in lines for part in text.split("\n")):
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out.extend(_textwrap.wrap(line, width=WIDTH - 8, subsequent_indent=indent, break_long_words=True,
                                  break_on_hyphens=False) or [""])
    return "\n".join(out)


def _pick_hint(hint, kind):
    if isinstance(hint, dict):
        unknown = set(hint) - set(_HINT_KINDS)
        if unknown:
            raise TypeError(f"unknown hint kinds {sorted(unknown)}; use {_HINT_KINDS}")
        return hint.get(kind) or ("" if kind in ("dtype", "rounding") else hint.get("value", ""))
    return "" if kind in ("dtype", "rounding") else hint


def _failure(label, summary, *, call=None, expected=_MISSING, got=_MISSING, details=(), hint=""):
    head = f"{label}: {summary}" if label else summary
    lines = [head if len(head) <= WIDTH - 20 else head[: WIDTH - 23] + "..."]
    if call:
        lines.append(f"  call:     {call}")
    if expected is not _MISSING:
        lines.append(f"  expected: {_short(expected)}")
    if got is not _MISSING:
        lines.append(f"  got:      {_short(got)}")
    lines.extend(f"  {line}" for line in details)
    if hint:
        lines.append(f"  hint: {hint}")
    return AssertionError(_wrap(lines))


def _label(call):
    """The short name a message starts with: a function's name, a short description, or nothing (the call line says)."""
    head = call.split("(", 1)[0]
    if "(" in call and head.replace("_", "").replace(".", "").isalnum():
        return head
    named = head.split(": ", 1)[0]  # "softcap_loss: the loss on rank 0 (...)"
    if ": " in head and named.replace("_", "").isalnum():
        return named
    return call if len(call) <= 30 else ""


def _index(where, shape):
    return str(tuple(int(i) for i in np.unravel_index(where, shape))) if len(shape) else "()"


def _dtype_hint(got_dtype, want):
    if want in ("float16", "float32", "bfloat16") and got_dtype == "float64":
        return (f"floating input keeps its dtype ({want} in, {want} out) unless the instructions say otherwise: "
                "don't convert it to float64 (np.asarray(x, dtype=float) and float64 constants do), or convert back")
    if want == "float64" and got_dtype in ("float16", "float32"):
        return ("integers and lists compute in float64: convert them with .astype(np.float64) first "
                f"(np.exp of a small integer type gives {got_dtype})")
    if want == "float32" and got_dtype in ("bfloat16", "float16"):
        return f"compute in float32: convert the {got_dtype} input with .float() before the arithmetic"
    if want in ("bfloat16", "float16") and got_dtype == "float32":
        return f"the result must have the input's dtype {want}: convert it back at the end with .to({want})"
    if got_dtype.startswith(("int", "uint", "bool")):
        return "the answer is a floating-point number: integers compute in float64"
    return f"the result must be {want}: check the dtype each step computes in"


def _shape_hint(got_shape, want_shape):
    if len(got_shape) == len(want_shape) - 1 or len(got_shape) == len(want_shape) + 1:
        return ("a reduced axis was dropped or kept where it should not be: check keepdims "
                "(keepdims=True keeps the reduced axis with length 1)")
    if tuple(got_shape) == tuple(reversed(want_shape)):
        return "the result is transposed: did you reduce along the wrong axis?"
    return ""


def _nonfinite_mismatch(got, expected):
    """(flat index, what was expected, what came) of the first NaN/inf pattern mismatch, or None."""
    for index, (g, e) in enumerate(zip(got, expected)):
        if _isnan(e) != _isnan(g) or ((_isinf(e) or _isinf(g)) and not (_isnan(e) or _isnan(g)) and g != e):
            return index, e, g
    return None


def _lower_precision(error, size, expected, eps):
    """The name of a lower-precision dtype whose rounding this error is, or None.

    That dtype is the next one down from the problem's. The error must be the size of one or two roundings of that
    dtype at the problem's size (between a tenth of ``eps_low * size`` and ``2 * eps_low * size``): the most that
    rounding an answer, or one intermediate, to it costs.
    A larger error is a wrong value, whatever its relative size: a formula that is off by 3 % is not rounding.
    """
    # float16 (eps 2**-10) and bfloat16 (eps 2**-7) are too close for an error to tell them apart: one label for both.
    # Only the next precision down is a plausible slip (a float64 problem computed in float32, a float32 one through
    # bfloat16): an error of bfloat16's size in a float64 answer is a wrong value.
    for name, low, high in (("float32", EPS["float32"], EPS["float32"]),
                            ("float16 or bfloat16", EPS["float16"], EPS["bfloat16"])):
        if 8 * eps < low <= 2.0**30 * eps and low / 10 <= error / size <= 2 * high:
            return name
    return None


def expect_close(got, expected, *, call="the result", hint="", dtype=None, scale=1.0, rtol=None, atol=None,
                 _eps=None, _diagnosed=False):
    """Compare ``got`` with ``expected`` element by element, shape, NaN and infinities included.

    ``dtype``, when given, is the dtype ``got`` must have (a NumPy or torch dtype), and sets the rounding unit;
    ``scale`` is the size of the problem (see the precision policy above). ``rtol``/``atol`` replace the policy
    by ``|got - expected| <= atol + rtol * |expected|`` (a missing one is 0), for tests that ask for more.
    ``_diagnosed``: the caller's hint names the mistake that explains these numbers: never call them rounding.
    """
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    label = _label(call)
    if got is None:
        raise _failure(label, "returned None", call=call, expected=expected,
                       hint=_pick_hint(hint, "value") or "did you forget to `return` the result?")
    want = None if dtype is None else _dtype_name(dtype)
    if want is not None:
        got_dtype = _dtype_name(got.dtype) if hasattr(got, "dtype") else type(got).__name__
        if got_dtype != want:
            raise _failure(label, f"returned dtype {got_dtype}, expected {want}", call=call, expected=expected,
                           got=got, hint=_pick_hint(hint, "dtype") or _dtype_hint(got_dtype, want))
    try:
        got_array = _to_float64_array(got)
    except (TypeError, ValueError, RuntimeError) as error:
        raise _failure(label, f"returned {type(got).__name__}, not a number or an array", call=call,
                       expected=expected, got=got, details=[f"({error})"], hint=_pick_hint(hint, "value")) from None
    expected_array = _to_float64_array(expected)
    if got_array.shape != expected_array.shape:
        raise _failure(label, f"returned shape {got_array.shape}, expected {expected_array.shape}", call=call,
                       expected=expected, got=got,
                       hint=" — ".join(h for h in (_shape_hint(got_array.shape, expected_array.shape),
                                                 _pick_hint(hint, "shape")) if h))
    flat_got, flat_expected = got_array.ravel().tolist(), expected_array.ravel().tolist()
    mismatch = _nonfinite_mismatch(flat_got, flat_expected)
    if mismatch is not None:
        index, e, g = mismatch
        where = _index(index, got_array.shape)
        extra = ""
        if _isfinite(e):
            extra = ("NaN or inf where the answer is a number: an overflow (exp of a large number is inf; "
                     "inf / inf and inf - inf are NaN) or a log(0)?")
        raise _failure(label, f"{g!r} at index {where}, expected {e!r}", call=call, expected=expected, got=got,
                       hint=" — ".join(h for h in (extra, _pick_hint(hint, "nonfinite")) if h))
    eps = _eps or EPS.get(want or "float64", EPS["float64"])
    explicit = rtol is not None or atol is not None
    worst, worst_ratio = None, 1.0
    for index, (g, e) in enumerate(zip(flat_got, flat_expected)):
        if not _isfinite(e):
            continue
        allowed = ((atol or 0.0) + (rtol or 0.0) * _fabs(e)) if explicit else _allowed(eps, scale, e)
        ratio = _fabs(g - e) / allowed if allowed > 0 else (0.0 if g == e else _math.inf)
        if ratio > worst_ratio:
            worst, worst_ratio = index, ratio
    if worst is None:
        return None
    g, e = flat_got[worst], flat_expected[worst]
    where = _index(worst, got_array.shape)
    error = _fabs(g - e)
    size = max(1.0, scale) + _fabs(e)
    units = error / (eps * size)
    allowed_text = (f"this test allows {atol or 0.0:.3g} + {rtol or 0.0:.3g} * |expected|" if explicit else
                    f"the tolerance is {ROUNDING_UNITS} units ({ROUNDING_UNITS} * eps * (scale + |expected|), "
                    f"eps = {eps:.3g}, scale = {max(1.0, scale):.4g})")
    exact = f"at index {where}: expected {e!r}, got {g!r}, off by {error:.3g}"
    lower = None if _diagnosed else _lower_precision(error, size, e, eps)
    if lower:
        raise _failure(label, f"off by {lower} rounding at {where}", call=call, expected=expected, got=got,
                       details=[exact + f" = {units:.3g} units of rounding; {allowed_text}"],
                       hint=_pick_hint(hint, "rounding") or " — ".join(h for h in (
                           f"the error has the size of {lower} rounding: a step computed in {lower} (a {lower} "
                           "constant or intermediate, or a cast) loses digits the answer needs",
                           f"if nothing is computed in {lower}: {_pick_hint(hint, 'value')}" if _pick_hint(hint, "value")
                           else "") if h))
    # Rounding-size: above the tolerance but within 1024 units, and never more than 1% of the problem's size (in
    # float16 1024 units would be the size itself).
    if not explicit and not _diagnosed and units <= min(1024, 0.01 / eps):
        raise _failure(label, f"off by {units:.3g} units of rounding at {where}", call=call, expected=expected,
                       got=got, details=[exact + f"; {allowed_text}"],
                       hint=_pick_hint(hint, "rounding") or
                       "the formula looks right but loses digits: a large number subtracted from another of the same "
                       "size, a sum of many terms in low precision, or an intermediate rounded to a lower precision")
    digits = next((d for d in range(6, 18) if f"{e:.{d}g}" != f"{g:.{d}g}"), 17)  # enough to tell them apart
    raise _failure(label, f"wrong value at index {where}: expected {e:.{digits}g}, got {g:.{digits}g}", call=call,
                   expected=expected, got=got, details=[exact + f"; {allowed_text}"], hint=_pick_hint(hint, "value"))


def expect_call(function, *args, expected, hint="", dtype=None, scale=None, rtol=None, atol=None, **kwargs):
    """Call ``function(*args, **kwargs)`` and compare the result with ``expected`` (see ``expect_close``).

    The keyword names ``expected``, ``hint``, ``dtype``, ``scale``, ``rtol`` and ``atol`` belong to the check;
    every other keyword goes to ``function``. The rounding unit and the problem's size follow the precision
    policy (module docstring): from ``dtype`` and the call's arguments, unless ``scale`` is given.
    Returns None on purpose: nbgrader reads a number shown by a test cell as partial credit.
    """
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    call = call_repr(getattr(function, "__name__", "function"), *args, **kwargs)
    eps, size = _policy(args, kwargs, dtype)
    got = _call(function, call, args, kwargs, hint)
    expect_close(got, expected, call=call, hint=hint, dtype=dtype, scale=size if scale is None else scale,
                 rtol=rtol, atol=atol, _eps=eps)


@_contextlib.contextmanager
def _quietly():
    """Silence warnings and capture stderr: nbgrader scores a test cell 0 for any stderr output."""
    with _warnings.catch_warnings(), np.errstate(all="ignore"), _contextlib.redirect_stderr(_io.StringIO()):
        _warnings.simplefilter("ignore")
        yield


def quietly():
    """``with quietly(): ...`` runs code the way the checks call a graded function: warnings silenced and stderr
    captured (nbgrader scores a test cell 0 for any stderr output, a harmless overflow warning included)."""
    return _quietly()


def _call(function, call, args, kwargs, hint=""):
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    label = _label(call)
    try:
        with _quietly():
            return function(*args, **kwargs)
    except NotImplementedError:
        raise _failure(label, "not written yet (it raised NotImplementedError)", call=call,
                       hint="write the function where it says YOUR CODE HERE and delete the raise") from None
    except Exception as error:  # the student sees which call failed and how
        first = (str(error).splitlines() or [""])[0]
        raise _failure(label, f"raised {type(error).__name__}: {first}", call=call,
                       details=[f"{type(error).__name__}: {error}"] if len(str(error)) > 40 else [],
                       hint=_pick_hint(hint, "error")) from error


def expect_raises(function, *args, error=ValueError, match="", hint="", **kwargs):
    """``function(*args, **kwargs)`` must raise ``error`` whose message contains ``match`` (case-insensitive)."""
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    call = call_repr(getattr(function, "__name__", "function"), *args, **kwargs)
    label = _label(call)
    if args and callable(args[0]) and not isinstance(args[0], type) and isinstance(getattr(args[0], "__name__", 0), str):
        label = args[0].__name__  # a helper that runs the student's function (run_vocab_parallel(f, ...)): name f
    errors = error if isinstance(error, tuple) else (error,)
    wanted = " or ".join(e.__name__ for e in errors)
    hint = hint if isinstance(hint, str) else _pick_hint(hint, "error")
    try:
        with _quietly():
            result = function(*args, **kwargs)
    except NotImplementedError:
        raise _failure(label, "not written yet (it raised NotImplementedError)", call=call,
                       hint="write the function where it says YOUR CODE HERE and delete the raise") from None
    except errors as raised:
        if match.lower() not in str(raised).lower():
            raise _failure(label, f"the {type(raised).__name__} message should mention {match!r}", call=call,
                           details=[f"raised:   {type(raised).__name__}({str(raised)!r})",
                                    "the message should tell the caller what is wrong"], hint=hint) from None
        return None
    except Exception as raised:
        raise _failure(label, f"raised {type(raised).__name__}, expected {wanted}", call=call,
                       details=[f"raised:   {type(raised).__name__}: {raised}"], hint=hint) from raised
    raise _failure(label, f"returned instead of raising {wanted}", call=call, got=result, hint=hint)


def expect_gradient(function, *inputs, call="the function", hint="", directions=3, step=1e-6, rtol=1e-6, atol=1e-9):
    """The gradients that ``function(*inputs).backward()`` leaves in the float64 tensors ``inputs`` must be the
    derivative of ``function`` itself (chapter 6).

    Along a few random directions ``u`` (one per input), the predicted change ``sum(grad * u)`` must match the
    central difference ``(f(x + step * u) - f(x - step * u)) / (2 * step)``. That is the test
    ``torch.autograd.gradcheck`` makes, one direction at a time instead of one column of the Jacobian at a time;
    unlike gradcheck it cannot be monkeypatched from a notebook, and it does not spend half a second importing
    sympy on first use (which gradcheck does through ``torch.autograd.grad``). For float64 inputs the error of
    the difference is about ``step**2 + 1e-16 / step``, far below the tolerance, while a wrong backward is off
    by a fraction of the gradient.
    """
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    import torch

    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    loss = _call(function, call, leaves, {}, hint)
    _call(loss.backward, f"the backward pass of {call}", (), {}, hint)
    grads = [np.zeros(x.shape) if x.grad is None else _to_float64_array(x.grad) for x in leaves]
    draw = _random.Random(20260).gauss  # fixed directions: a failure is reproducible
    for direction in range(directions):
        steps = [_asarray([draw(0.0, 1.0) for _ in range(x.numel())], dtype=_float64).reshape(tuple(x.shape))
                 for x in inputs]
        predicted = sum(float((g * u).sum()) for g, u in zip(grads, steps))
        with torch.no_grad():
            ends = [float(_call(function, call, [x.detach() + sign * step * torch.from_numpy(u).to(x.device)
                                                  for x, u in zip(inputs, steps)], {}, hint))
                    for sign in (1.0, -1.0)]
        measured = (ends[0] - ends[1]) / (2 * step)
        if not _fabs(predicted - measured) <= atol + rtol * max(_fabs(measured), 1.0):
            raise _failure("gradient", "not the derivative of the function", call=call,
                           details=[f"along random direction {direction + 1}, the gradient predicts a change of "
                                    f"{predicted!r} per unit step; finite differences of the function measure "
                                    f"{measured!r}"], hint=hint)


def expect(condition, message):
    """A plain check with a teacher's message (for properties that are not a comparison of values)."""
    __tracebackhide__ = True  # IPython hides this frame: the message says it all
    if not condition:
        raise AssertionError(_wrap([message]))


# What a student did, from what the GPU compiler says (the interpreter accepted it all).
_COMPILER_HINTS = (
    ("Loop-carried variable", "a value carried from one loop iteration to the next keeps the type it starts with: "
                              "start a float accumulator as a float (0.0, not 0; -float('inf') for a maximum)"),
    ("Break", "Triton's GPU compiler has no break: run every block of the loop and mask what must not count "
              "(tl.where, or mask= in tl.load/tl.store)"),
    ("`return` statements inside", "a return inside a for loop cannot be compiled: finish the loop, then return "
                                   "after it (or mask the work of the blocks that must not count)"),
    ("constexpr", "a shape (tl.arange's bounds, a block size) must be a tl.constexpr known when the kernel is "
                  "compiled"),
)


def expect_kernel_compiles(kernel, *, name, signature, constexprs, dtypes, dtype_argument, target="sm_90"):
    """Compile a @triton.jit kernel for a real GPU (no GPU needed) in each dtype; fail with the compiler's message.

    The interpreter runs programs the compiler refuses; this is the check that the kernel would run on a GPU.
    """
    __tracebackhide__ = True
    from softcap_course import gpu_compile

    sandboxed = False
    if getattr(kernel, "_proxy", False):  # the grader's view of a student's kernel: compile the submitted source
        sandboxed = kernel.sandboxed
        try:
            kernel = gpu_compile.kernel_source_from_cells(kernel.answer_cells, kernel.name)
        except gpu_compile.CompilationRefused as refused:
            raise _failure(name, "not found", details=[refused.message]) from None
    try:
        gpu_compile.compile_for_gpu(kernel, signature, constexprs, targets=(target,), dtypes=tuple(dtypes),
                                    dtype_argument=dtype_argument, sandboxed=sandboxed)
    except gpu_compile.CompilationRefused as refused:
        hint = next((hint for key, hint in _COMPILER_HINTS if key in refused.message),
                    "Triton's interpreter runs programs its GPU compiler refuses: change what the message names")
        raise _failure(name, f"refused by the GPU compiler for {target} ({gpu_compile.GPU_NAMES[target]})",
                       call=f"triton.compile of {name} for {target}, {refused.dtype} logits, "
                            + ", ".join(f"{k}={v}" for k, v in constexprs.items()),
                       details=[f"compiler: {refused.message}"], hint=hint) from None


# ------------------------------------------------------------------------------------ chapter 8: several processes


def _agree(got, expected):
    """Whether a float64 tensor ``got`` matches ``expected`` to 0.1 % (a diagnosis, not a grade)."""
    import torch

    return got.shape == expected.shape and bool(torch.allclose(got, expected, rtol=1e-3, atol=1e-6))


def _vocab_loss_diagnosis(losses, s, targets, valid, columns):
    """What the ranks' losses show, from hypotheses computed in float64: a hint for the mistake that explains them,
    or "" when none does. ``columns`` holds each rank's (start, stop)."""
    import torch

    if not valid.any() or any(loss is None for loss in losses):
        return ""
    rows = torch.arange(s.shape[0])[valid]
    target_logit = s[rows, targets[valid]]
    lse = torch.logsumexp(s, dim=1)[valid]
    n_valid = int(valid.sum())
    got = torch.tensor(losses, dtype=torch.float64)

    def explains(candidates):
        return _agree(got, torch.stack(candidates))

    owned = [int((valid & (targets >= a) & (targets < b)).sum()) for a, b in columns]
    if all(o > 0 for o in owned) and owned != [n_valid] * len(owned) and \
            explains([(lse - target_logit).sum() / o for o in owned]):
        return (f"each rank divided by the number of targets in its own columns: divide the summed losses by the "
                f"number of valid targets of all rows ({n_valid} here), the same on every rank")
    if float(got.max() - got.min()) > 1e-4 * max(1.0, float(got.abs().max())):
        if explains([(torch.logsumexp(s[valid, a:b], dim=1) - target_logit).mean() for a, b in columns]):
            return ("each rank's log-sum-exp covers only its own columns: all-reduce (SUM) the row sums of "
                    "exp(s - max) across the ranks before taking the log")
        # Each rank's sum taken against its own maximum, the sums added up, the log taken against one's own maximum.
        local_max = [s[valid, a:b].max(dim=1).values for a, b in columns]
        mixed = sum(torch.exp(s[valid, a:b] - m[:, None]).sum(dim=1) for (a, b), m in zip(columns, local_max))
        if explains([(m + torch.log(mixed) - target_logit).mean() for m in local_max]):
            return ("each rank shifted by its own row maximum: all-reduce the row maxima (MAX) first, and shift "
                    "every rank's exponentials by that global maximum before the sums are added up")
        return (f"the ranks returned different losses ({', '.join(f'{loss:.6g}' for loss in losses)}): every rank "
                "must end with the same loss, over the whole vocabulary and all valid rows")
    clamped = sum(s[rows, (targets[valid] - a).clamp(0, b - a - 1) + a] for a, b in columns)
    if explains([(lse - clamped).mean()] * len(losses)):
        return ("the target's logit comes from every rank: only the rank whose columns hold the target contributes "
                "it to the all-reduce, the others add 0")
    return ""


def _vocab_grad_diagnosis(got, expected, s, cap, lse_local, onehot, grad_loss, world):
    """What one rank's gradient shows (all float64, this rank's columns): a hint for the mistake, or ""."""
    import torch

    if got is None or got.shape != expected.shape or not bool(torch.isfinite(got).all()):
        return ""
    norm = float((expected * expected).sum())
    factor = float((got * expected).sum()) / norm if norm > 0 else 0.0
    if norm > 0 and _agree(got, factor * expected) and abs(factor - 1) > 1e-3:
        if abs(factor - world) < 1e-3 * world and world > 1:
            return (f"the gradient is {world} times too large, the number of ranks: the loss went through a "
                    "differentiable all-reduce (SUM), so backward added every rank's copy; only the forward "
                    "communicates, the backward of your columns needs none")
        if abs(factor * grad_loss - 1) < 1e-3 and grad_loss != 1:
            return "multiply by grad_loss, the gradient flowing into the loss"
        return f"the gradient is {factor:.4g} times the right one: check the factors (1 / n_valid, grad_loss)"
    slope = 1 - (s / cap) ** 2
    if _agree(got * slope, expected) and not _agree(slope, torch.ones_like(slope)):
        return "multiply by the softcap's slope 1 - (s / cap) ** 2: the loss is a function of x through s"
    softmax_local = torch.exp(s - lse_local[:, None])
    local = (softmax_local - onehot) * slope
    local_norm = float((local * local).sum())
    if local_norm > 0 and _agree(got, float((got * local).sum()) / local_norm * local):
        return ("the softmax must be taken against the GLOBAL log-sum-exp of each row (the one the forward "
                "all-reduced), not your shard's own")
    return ""


def expect_vocab_parallel(function, logits, targets, cap, widths, *, ignore_index=None, grad_loss=1.0, replicas=1,
                          gradient=True, loss_hint="", grad_hint=""):
    """Chapter 8: ``run_vocab_parallel`` runs ``function`` on shards of ``logits`` of the given widths (times
    ``replicas``); every rank's loss, and the gradient of its columns, must match autograd through ``F.cross_entropy``
    of the softcapped logits over the whole vocabulary, in float64, to the precision policy (the capped logits lie
    in [-cap, cap]: the problem's size is max(1, cap)). A wrong rank gets a hint chosen by what its numbers show
    (ranks that disagree, a mean over the wrong count, one shard's log-sum-exp, a gradient off by a factor or by the
    softcap's slope); otherwise the call's own hint."""
    __tracebackhide__ = True
    import torch
    import torch.nn.functional as F

    from softcap_course.distributed import run_vocab_parallel

    ignore = -100 if ignore_index is None else ignore_index
    with _quietly():
        ranks = run_vocab_parallel(function, logits, targets, cap, widths, ignore_index=ignore_index,
                                   grad_loss=grad_loss, replicas=replicas)
    x = logits.detach().double().requires_grad_(True)
    t = torch.as_tensor(targets).long()
    s = cap * torch.tanh(x / cap)
    expected_loss = F.cross_entropy(s, t, ignore_index=ignore)
    (grad_loss * expected_loss).backward()
    s, expected_loss = s.detach(), expected_loss.detach()
    valid = t != ignore
    n_valid = int(valid.sum())
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    size = max(1.0, cap)
    name = getattr(function, "__name__", "your function")
    setup = (f"{len(widths) * replicas} processes, {logits.shape[0]} x {logits.shape[1]} "
             f"{_dtype_name(logits.dtype)} logits split into shards of {list(widths)}"
             + (f", {replicas} independent groups" if replicas > 1 else ""))
    starts = [sum(widths[:i]) for i in range(len(widths))]
    columns = [(a, a + w) for a, w in zip(starts, widths)]
    losses = []
    for r in ranks:
        try:
            losses.append(float(r.loss))
        except (TypeError, ValueError, RuntimeError):
            losses.append(None)
    for replica in range(replicas):
        group = [r for r in ranks if r.replica == replica]
        diagnosis = _vocab_loss_diagnosis([losses[r.rank] for r in group], s, t, valid, columns)
        for r in group:
            expect_close(r.loss, expected_loss, call=f"{name}: the loss on rank {r.rank} ({setup})", dtype=dtype,
                         scale=size, hint=diagnosis or loss_hint, _diagnosed=bool(diagnosis))
    if not gradient:
        return None
    world = len(widths)
    for r in ranks:
        a, b = columns[r.rank % world]
        if r.grad is None:
            expect(False, f"rank {r.rank} ({setup}): its shard got no gradient. Hint: the loss must come from an "
                          "autograd Function (or differentiable operations) that reaches local_logits")
        onehot = torch.zeros(s.shape[0], b - a, dtype=torch.float64)
        rows = torch.arange(s.shape[0])
        mine = valid & (t >= a) & (t < b)
        onehot[rows[mine], t[mine] - a] = 1.0
        expected_grad = x.grad[:, a:b]
        got = r.grad.detach().double() if isinstance(r.grad, torch.Tensor) else None
        diagnosis = _vocab_grad_diagnosis(
            got, expected_grad, s[:, a:b], cap, torch.logsumexp(s[:, a:b], dim=1), onehot,
            grad_loss, world) if n_valid else ""
        expect_close(r.grad, expected_grad,
                     call=f"{name}: the gradient of rank {r.rank}'s columns {a} to {b - 1} ({setup})",
                     dtype=logits.dtype, scale=abs(grad_loss) * size / max(n_valid, 1), hint=diagnosis or grad_hint,
                     _diagnosed=bool(diagnosis))
    return None


class _ReadOnlyModule(_types.ModuleType):
    """This module's type: its checks cannot be replaced (``checks.expect_call = ...`` raises)."""

    def __setattr__(self, name, value):
        raise AttributeError(f"softcap_course.checks is read-only: {name!r} cannot be replaced")

    def __delattr__(self, name):
        raise AttributeError(f"softcap_course.checks is read-only: {name!r} cannot be deleted")


_sys.modules[__name__].__class__ = _ReadOnlyModule

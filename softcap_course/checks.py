"""Checks that fail like a good teacher: the call, what was expected, what came back, and a hint.

The graded notebooks' tests use these instead of bare ``assert`` or ``np.allclose``.
Two design rules:

* A failure message always names the call (with its input), the expected value, the value that came back,
  and a hint at the likely mistake.
* A student's cell must not be able to make a check pass by patching the usual comparison helpers
  (``np.allclose``, ``np.isclose``, ``np.testing.*``, ``math.isclose``, ``torch.allclose``).  The comparison
  below therefore uses none of them: it works on plain Python floats, with functions bound when this
  module is imported (before any student code runs).  The module itself is read-only (assigning to its
  attributes raises), and test cells import the checks they use, so a student's cell can neither replace
  nor redefine them.
* nbgrader gives a test cell 0 points when anything is written to stderr in it, and reads a numeric result
  as partial credit.  So the student's function runs with warnings silenced and stderr captured (a NumPy
  ``RuntimeWarning`` must not cost a correct answer its points), and the checks return None.
"""

import contextlib as _contextlib
import io as _io
import math as _math
import random as _random
import sys as _sys
import types as _types
import warnings as _warnings

import numpy as np

# Bound at import time, so that re-assigning np.isnan & co. in a notebook cannot change what these checks see.
_isnan = _math.isnan
_isinf = _math.isinf
_fabs = _math.fabs
_asarray = np.asarray
_float64 = np.float64

__all__ = ["expect_call", "expect_raises", "expect_close", "expect_gradient", "expect", "call_repr", "default_tolerance"]


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
        text = "tensor(" + np.array2string(_to_float64_array(value), precision=6, separator=", ", threshold=20)
        text += f", dtype={_dtype_name(value.dtype)})"
    elif isinstance(value, np.ndarray):
        body = np.array2string(value, precision=6, separator=", ", threshold=20)
        text = f"np.array({body}, dtype={value.dtype})" if value.ndim else f"{value.dtype.name}({value.item()!r})"
    elif isinstance(value, np.generic):
        text = f"{value.dtype.name}({value.item()!r})"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_repr(name, *args, **kwargs):
    """``name(arg, ..., key=value)`` with arrays shown with their dtype, for failure messages."""
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def default_tolerance(dtype):
    """Relative/absolute tolerance of a few units of the dtype's machine epsilon."""
    name = "float64" if dtype is None else _dtype_name(dtype)
    eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}.get(name, 2.0**-52)
    return 8 * eps


def _failure(call, expected, got, hint, detail):
    lines = [f"{call} is not right: {detail}."]
    if expected is not _MISSING:
        lines.append(f"  expected: {_short(expected)}")
    if got is not _MISSING:
        lines.append(f"  got:      {_short(got)}")
    if hint:
        lines.append(f"  hint: {hint}")
    return AssertionError("\n".join(lines))


def _first_mismatch(got, expected, rtol, atol):
    """Index and reason of the first element where got and expected disagree, or None.

    NaN must meet NaN, an infinity the same infinity; finite values must satisfy
    |got - expected| <= atol + rtol * |expected|.
    """
    for index, (g, e) in enumerate(zip(got.ravel().tolist(), expected.ravel().tolist())):
        if _isnan(e) or _isnan(g):
            if _isnan(e) != _isnan(g):
                return index, f"expected {e!r}, got {g!r}"
        elif _isinf(e) or _isinf(g):
            if g != e:
                return index, f"expected {e!r}, got {g!r}"
        elif not _fabs(g - e) <= atol + rtol * _fabs(e):
            return index, f"expected {e!r}, got {g!r} (difference {g - e:.3g})"
    return None


def expect_close(got, expected, *, call="the result", hint="", rtol=None, atol=None, dtype=None):
    """Compare ``got`` with ``expected`` element by element, shape, NaN and infinities included.

    ``dtype``, when given, is the dtype ``got`` must have (a NumPy or torch dtype).
    Tolerances default to a few units of epsilon of ``dtype`` (float64 when not given).
    """
    if got is None:
        raise _failure(call, expected, got, hint or "did you forget to `return` the result?", "it returned None")
    if dtype is not None:
        got_dtype = _dtype_name(got.dtype) if hasattr(got, "dtype") else type(got).__name__
        if got_dtype != _dtype_name(dtype):
            raise _failure(call, expected, got, hint, f"the result has dtype {got_dtype}, expected {_dtype_name(dtype)}")
    try:
        got_array = _to_float64_array(got)
    except (TypeError, ValueError) as error:
        raise _failure(call, expected, got, hint, f"the result is not a number or an array ({error})") from None
    expected_array = _to_float64_array(expected)
    if got_array.shape != expected_array.shape:
        raise _failure(call, expected, got, hint,
                       f"the result has shape {got_array.shape}, expected {expected_array.shape}")
    tol = default_tolerance(dtype)
    mismatch = _first_mismatch(got_array, expected_array, tol if rtol is None else rtol, tol if atol is None else atol)
    if mismatch is not None:
        index, reason = mismatch
        where = np.unravel_index(index, got_array.shape) if got_array.ndim else ()
        raise _failure(call, expected, got, hint, f"at index {tuple(int(i) for i in where)}: {reason}")


def expect_call(function, *args, expected, hint="", rtol=None, atol=None, dtype=None, **kwargs):
    """Call ``function(*args, **kwargs)`` and compare the result with ``expected`` (see ``expect_close``).

    The keyword names ``expected``, ``hint``, ``rtol``, ``atol`` and ``dtype`` belong to the check;
    every other keyword goes to ``function``.  Returns None on purpose: nbgrader reads a number shown by a
    test cell as partial credit.  A test that needs the value calls the function itself.
    """
    call = call_repr(getattr(function, "__name__", "function"), *args, **kwargs)
    got = _call(function, call, args, kwargs)
    expect_close(got, expected, call=call, hint=hint, rtol=rtol, atol=atol, dtype=dtype)


@_contextlib.contextmanager
def _quietly():
    """Silence warnings and capture stderr: nbgrader scores a test cell 0 for any stderr output."""
    with _warnings.catch_warnings(), np.errstate(all="ignore"), _contextlib.redirect_stderr(_io.StringIO()):
        _warnings.simplefilter("ignore")
        yield


def _call(function, call, args, kwargs):
    try:
        with _quietly():
            return function(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"{call} raised NotImplementedError: this function is not written yet.") from None
    except Exception as error:  # the student sees which call failed and how
        raise AssertionError(f"{call} raised {type(error).__name__}: {error}") from error


def expect_raises(function, *args, error=ValueError, match="", hint="", **kwargs):
    """``function(*args, **kwargs)`` must raise ``error`` whose message contains ``match`` (case-insensitive)."""
    call = call_repr(getattr(function, "__name__", "function"), *args, **kwargs)
    errors = error if isinstance(error, tuple) else (error,)
    wanted = " or ".join(e.__name__ for e in errors)
    try:
        with _quietly():
            result = function(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"{call} raised NotImplementedError: this function is not written yet.") from None
    except errors as raised:
        if match.lower() not in str(raised).lower():
            raise AssertionError(f"{call} raised {type(raised).__name__}({str(raised)!r}); the message should mention "
                                 f"{match!r} so the caller knows what is wrong." + (f"\n  hint: {hint}" if hint else ""))
        return None
    except Exception as raised:
        raise AssertionError(f"{call} raised {type(raised).__name__}: {raised}; expected {wanted}."
                             + (f"\n  hint: {hint}" if hint else "")) from raised
    raise AssertionError(f"{call} returned {_short(result)} instead of raising {wanted}."
                         + (f"\n  hint: {hint}" if hint else ""))


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
    import torch

    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    loss = _call(function, call, leaves, {})
    _call(loss.backward, f"the backward pass of {call}", (), {})
    grads = [np.zeros(x.shape) if x.grad is None else _to_float64_array(x.grad) for x in leaves]
    draw = _random.Random(20260).gauss  # fixed directions: a failure is reproducible
    for direction in range(directions):
        steps = [_asarray([draw(0.0, 1.0) for _ in range(x.numel())], dtype=_float64).reshape(tuple(x.shape))
                 for x in inputs]
        predicted = sum(float((g * u).sum()) for g, u in zip(grads, steps))
        with torch.no_grad():
            ends = [float(_call(function, call, [x.detach() + sign * step * torch.from_numpy(u).to(x.device)
                                                  for x, u in zip(inputs, steps)], {}))
                    for sign in (1.0, -1.0)]
        measured = (ends[0] - ends[1]) / (2 * step)
        if not _fabs(predicted - measured) <= atol + rtol * max(_fabs(measured), 1.0):
            raise AssertionError(f"the gradient of {call} is not the derivative of the function: along random direction "
                                 f"{direction + 1}, the gradient predicts a change of {predicted!r} per unit step, "
                                 f"finite differences of the function measure {measured!r}."
                                 + (f"\n  hint: {hint}" if hint else ""))


def expect(condition, message):
    """A plain check with a teacher's message (for properties that are not a comparison of values)."""
    if not condition:
        raise AssertionError(message)


class _ReadOnlyModule(_types.ModuleType):
    """This module's type: its checks cannot be replaced (``checks.expect_call = ...`` raises)."""

    def __setattr__(self, name, value):
        raise AttributeError(f"softcap_course.checks is read-only: {name!r} cannot be replaced")

    def __delattr__(self, name):
        raise AttributeError(f"softcap_course.checks is read-only: {name!r} cannot be deleted")


_sys.modules[__name__].__class__ = _ReadOnlyModule

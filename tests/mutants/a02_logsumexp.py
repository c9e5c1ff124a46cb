"""Mutant table of 02-logsumexp: how students get log-sum-exp and log-softmax wrong, and correct versions."""

import numpy as np

from mutants import mistakes, right

# ---------------------------------------------------------------- logsumexp: wrong

wrong_lse = mistakes(globals(), "02-logsumexp", "logsumexp")

# The reference sums exp(x - m) over all but one maximal entry and adds that 1 back with log1p (where the maximum
# is finite); replacing np.log1p(rest) by the log of the whole sum gives the plain formula log(sum(exp(x - m))).
wrong_lse("forgets_the_max", "test_logsumexp_values",
          "Shifts by the maximum but forgets to add it back: log(sum(exp(x - m))).",
          (") + shift", ")"))
wrong_lse("no_shift", "test_logsumexp_extremes",
          "The textbook np.log(np.sum(np.exp(x))): overflows to inf, underflows to log(0) = -inf.",
          ("shift = np.where(finite, top, 0)", "shift = 0"),
          ("np.log1p(rest)", "np.log(np.sum(terms, axis=axis, keepdims=True))"))
wrong_lse("global_max", "test_logsumexp_extremes",
          "Shifts by the maximum of the whole array: rows far below it underflow to log(0) = -inf.",
          ("np.max(x, axis=axis, keepdims=True, initial", "np.max(x, initial"))
wrong_lse("max_without_keepdims", "test_logsumexp_values",
          "Takes the maxima without keepdims: for a square batch they are subtracted along the wrong axis.",
          ("keepdims=True, initial", "initial"))
wrong_lse("keepdims_ignored", "test_logsumexp_keepdims",
          "Always drops the reduced axis, whatever keepdims says.",
          ("return result if keepdims else np.squeeze", "return np.squeeze"))
wrong_lse("infinite_max_not_handled", "test_logsumexp_nonfinite",
          "Shifts by an infinite maximum too: +inf entries and all -inf rows give inf - inf = NaN.",
          ("shift = np.where(finite, top, 0)", "shift = top"))
wrong_lse("only_minus_inf_handled", "test_logsumexp_nonfinite",
          "Handles the all -inf row but not a +inf entry, which still gives inf - inf = NaN.",
          ("np.where(finite, top, 0)", "np.where(np.isneginf(top), 0, top)"))
wrong_lse("computes_in_float64", "test_logsumexp_dtype",
          "Converts everything to float64: float32 and float16 input come back as float64.",
          ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))
wrong_lse("shifts_by_the_mean", "test_logsumexp_extremes",
          "Shifts by the mean: entries far above the mean still overflow.",
          ("shift = np.where(finite, top, 0)", "shift = np.mean(x, axis=axis, keepdims=True)"),
          ("np.log1p(rest)", "np.log(np.sum(terms, axis=axis, keepdims=True))"))
wrong_lse("max_plus_log_count", "test_logsumexp_values",
          "Approximates LSE by max(x) + log(number of entries equal to the max): right only for ties and gaps.",
          ("rest = np.sum(np.where(x < top, terms, 0), axis=axis, keepdims=True) + (ties - 1)", "rest = ties - 1"))
wrong_lse("log_mean_exp", "test_logsumexp_properties",
          "Averages instead of summing: log(mean(exp(x))) is LSE(x) - log K, below max(x).",
          ("np.log1p(rest)", "np.log(np.mean(terms, axis=axis, keepdims=True))"),
          ("np.log(np.sum(terms", "np.log(np.mean(terms"))
wrong_lse("plain_log_like_torch", "test_logsumexp_accuracy",
          "log(sum(exp(x - m))) + m, as torch.logsumexp computes it: when one entry dominates, log(1 + tiny) rounds "
          "to log(1) = 0 and the tiny part is lost (m + log1p of the other terms keeps it).",
          ("np.log1p(rest)", "np.log(np.sum(terms, axis=axis, keepdims=True))"))

# ---------------------------------------------------------------- logsumexp: right


@right("logsumexp")
def lse_with_log1p(x, axis=-1, keepdims=False):
    """Blanchard, Higham & Higham: m + log1p(sum of exp(x - m) over all but one maximal entry)."""
    array = np.asarray(x)
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    top = np.max(array, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, np.zeros_like(top))
    with np.errstate(all="ignore"):
        terms = np.exp(array - top)
        # Drop the one term that equals exp(0) = 1 (at the first argmax) and add it back exactly with log1p.
        first = np.expand_dims(np.argmax(array, axis=axis), axis)
        is_top = np.zeros(array.shape, dtype=bool)
        np.put_along_axis(is_top, first, True, axis=axis)
        finite_top = np.isfinite(np.max(array, axis=axis, keepdims=True))
        rest = np.sum(np.where(is_top & finite_top, 0, terms), axis=axis, keepdims=True)
        result = np.where(finite_top, np.log1p(rest), np.log(rest)) + top
    result = result.astype(array.dtype)
    return result if keepdims else np.squeeze(result, axis=axis)


@right("logsumexp")
def lse_with_scipy(x, axis=-1, keepdims=False):
    """Calls scipy.special.logsumexp, after converting integers to float64 and casting back to the input dtype."""
    from scipy.special import logsumexp as scipy_logsumexp

    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    with np.errstate(all="ignore"):
        return np.asarray(scipy_logsumexp(array, axis=axis, keepdims=keepdims)).astype(array.dtype)


@right("logsumexp")
def lse_slice_by_slice(x, axis=-1, keepdims=False):
    """Moves `axis` last and handles every 1-D slice in plain Python: math.log1p of the math.fsum of the terms of
    every entry but one maximal one (that one is exp(0) = 1)."""
    import math

    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    moved = np.moveaxis(array, axis, -1)
    out = np.empty(moved.shape[:-1], dtype=array.dtype)
    for index in np.ndindex(out.shape):
        row = [float(v) for v in moved[index]]
        if any(math.isnan(v) for v in row):
            out[index] = math.nan
        elif max(row) in (math.inf, -math.inf):
            out[index] = max(row)
        else:
            others = sorted(row)[:-1]
            top = max(row)
            out[index] = top + math.log1p(math.fsum(math.exp(v - top) for v in others))
    return np.expand_dims(out, axis) if keepdims else out


# ---------------------------------------------------------------- log_softmax: wrong

wrong_log_softmax = mistakes(globals(), "02-logsumexp", "log_softmax")

wrong_log_softmax("log_of_softmax", "test_log_softmax_extremes",
                  "np.log of a (stable) softmax: probabilities that underflow to 0 become log(0) = -inf.",
                  ("shifted - np.log(np.sum(np.exp(shifted)", "np.log(np.exp(shifted) / np.sum(np.exp(shifted)"))
wrong_log_softmax("forgets_the_log_sum", "test_log_softmax_values",
                  "Returns x - max(x): the shift without the log of the sum.",
                  (" - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))", ""))
wrong_log_softmax("no_shift_log_softmax", "test_log_softmax_extremes",
                  "x - log(sum(exp(x))): the log of the sum overflows and underflows.",
                  ("x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)", "x"))
wrong_log_softmax("sum_without_keepdims", "test_log_softmax_values",
                  "Drops keepdims on the log of the sum: for a square batch it is subtracted along the wrong axis.",
                  (", keepdims=True))", "))"))
wrong_log_softmax("global_max_log_softmax", "test_log_softmax_extremes",
                  "Shifts by the maximum of the whole array: rows far below it underflow, giving -(-inf) = +inf.",
                  ("np.max(x, axis=axis, keepdims=True, initial", "np.max(x, initial"))
wrong_log_softmax("x_minus_torch_like_lse", "test_log_softmax_nonfinite",
                  "x - LSE(x) with an LSE that handles infinite maxima: a +inf row gives [nan, -inf, -inf], "
                  "not all NaN.",
                  ("shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)",
                   "top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)\n"
                   "        shifted = x - np.where(np.isinf(top), 0, top)"))
wrong_log_softmax("log_softmax_in_float64", "test_log_softmax_dtype",
                  "Computes in float64: float32 and float16 input come back as float64.",
                  ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))
wrong_log_softmax("divides_instead_of_subtracting", "test_log_softmax_properties",
                  "Normalises like a probability, (x - m) / sum(exp(x - m)): the log turns division into subtraction.",
                  ("shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))",
                   "shifted / np.sum(np.exp(shifted), axis=axis, keepdims=True) - np.log(x.shape[axis])"))

# ---------------------------------------------------------------- log_softmax: right


@right("log_softmax")
def log_softmax_moving_the_axis(x, axis=-1):
    """Moves `axis` last, shifts and normalises with np.subtract and np.add.reduce, moves it back."""
    array = np.asarray(x)
    if array.dtype.kind not in "f":
        array = array.astype("float64")
    moved = np.moveaxis(array, axis, -1)
    with np.errstate(all="ignore"):
        shifted = np.subtract(moved, moved.max(axis=-1)[..., None])
        log_norm = np.log(np.add.reduce(np.exp(shifted), axis=-1))[..., None]
    return np.moveaxis(shifted - log_norm, -1, axis)


@right("log_softmax")
def log_softmax_via_scipy_with_nan_rows(x, axis=-1):
    """scipy.special.log_softmax, then torch's convention: slices with +inf (or NaN, or all -inf) become NaN."""
    from scipy.special import log_softmax as scipy_log_softmax

    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    with np.errstate(all="ignore"):
        out = np.asarray(scipy_log_softmax(array, axis=axis)).astype(array.dtype)
        top = np.max(array, axis=axis, keepdims=True)
    bad = np.isnan(top) | np.isinf(top)
    return np.where(bad, np.array(np.nan, dtype=array.dtype), out)

# ---------------------------------------------------------------- written outside the project
# Correct versions written by a helper acting as a student who never saw the reference (other formulas,
# library calls and dtype handling): each must get full marks.


@right("log_softmax")
def ls_x_minus_lse_masked(x, axis=-1):
    """x - logsumexp(x) (safe-shifted LSE), slices with a non-finite max set to NaN as torch does."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    finite = np.isfinite(m)
    shift = np.where(finite, m, 0)
    with np.errstate(all="ignore"):
        lse = shift + np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True))
        out = x - lse
    return np.where(finite, out, np.nan).astype(x.dtype, copy=False)


@right("logsumexp")
def lse_logaddexp_reduce(x, axis=-1, keepdims=False):
    """np.logaddexp.reduce along the axis (pairwise-stable, handles infinities itself)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return np.logaddexp.reduce(x, axis=axis, keepdims=keepdims)


@right("logsumexp")
def lse_log1p_excluding_max(x, axis=-1, keepdims=False):
    """m + log1p(sum of exp(x - m) over all but one maximal entry): more accurate near m."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    xm = np.moveaxis(x, axis, -1)
    m = xm.max(axis=-1, keepdims=True)
    safe = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    with np.errstate(all="ignore"):
        e = np.exp(xm - safe)
        idx = np.argmax(xm, axis=-1)[..., None]
        np.put_along_axis(e, idx, 0, axis=-1)
        # the maximal entry contributes exp(m - safe): 1 when m is finite
        top = np.exp(m - safe)
        rest = e.sum(axis=-1, keepdims=True)
        out = np.where(np.isfinite(m) & (top == 1), safe + np.log1p(rest), safe + np.log(top + rest))
        # NaN anywhere in the slice -> NaN
        out = np.where(np.isnan(xm).any(axis=-1, keepdims=True), np.nan, out)
    out = np.moveaxis(out, -1, axis)
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out.astype(x.dtype, copy=False)


@right("log_softmax")
def ls_logaddexp_shifted(x, axis=-1):
    """(x - m) - logaddexp.reduce(x - m): the shifted logits normalised by a logaddexp reduction."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x - x.max(axis=axis, keepdims=True)
        return z - np.logaddexp.reduce(z, axis=axis, keepdims=True)

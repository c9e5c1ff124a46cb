"""Mutant table of 02-logsumexp: how students get log-sum-exp and log-softmax wrong, and correct versions."""

import numpy as np

from mutants import right, wrong

# ---------------------------------------------------------------- logsumexp: wrong


@wrong("logsumexp", caught_by="test_logsumexp_values")
def forgets_the_max(x, axis=-1, keepdims=False):
    """Shifts by the maximum but forgets to add it back: log(sum(exp(x - m)))."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(x - top), axis=axis, keepdims=keepdims))


@wrong("logsumexp", caught_by="test_logsumexp_extremes")
def no_shift(x, axis=-1, keepdims=False):
    """The textbook np.log(np.sum(np.exp(x))): overflows to inf, underflows to log(0) = -inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


@wrong("logsumexp", caught_by="test_logsumexp_extremes")
def global_max(x, axis=-1, keepdims=False):
    """Shifts by the maximum of the whole array: rows far below it underflow to log(0) = -inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x)
    if np.isinf(top):
        top = x.dtype.type(0)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x - top), axis=axis, keepdims=keepdims)) + top


@wrong("logsumexp", caught_by="test_logsumexp_values")
def max_without_keepdims(x, axis=-1, keepdims=False):
    """Takes the maxima without keepdims: for a square batch they are subtracted along the wrong axis."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis)
    top = np.where(np.isinf(top), 0, top)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x - top), axis=axis, keepdims=keepdims)) + (
            np.expand_dims(top, axis) if keepdims else top)


@wrong("logsumexp", caught_by="test_logsumexp_keepdims")
def keepdims_ignored(x, axis=-1, keepdims=False):
    """Always drops the reduced axis, whatever keepdims says."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isinf(top), 0, top)
    with np.errstate(all="ignore"):
        return np.squeeze(np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top, axis=axis)


@wrong("logsumexp", caught_by="test_logsumexp_nonfinite")
def infinite_max_not_handled(x, axis=-1, keepdims=False):
    """Shifts by an infinite maximum too: +inf entries and all -inf rows give inf - inf = NaN."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        result = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return result if keepdims else np.squeeze(result, axis=axis)


@wrong("logsumexp", caught_by="test_logsumexp_nonfinite")
def only_minus_inf_handled(x, axis=-1, keepdims=False):
    """Handles the all -inf row but not a +inf entry, which still gives inf - inf = NaN."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isneginf(top), 0, top)
    with np.errstate(all="ignore"):
        result = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return result if keepdims else np.squeeze(result, axis=axis)


@wrong("logsumexp", caught_by="test_logsumexp_dtype")
def computes_in_float64(x, axis=-1, keepdims=False):
    """Converts everything to float64: float32 and float16 input come back as float64."""
    from scipy.special import logsumexp as scipy_logsumexp

    return scipy_logsumexp(np.asarray(x, dtype=np.float64), axis=axis, keepdims=keepdims)


@wrong("logsumexp", caught_by="test_logsumexp_extremes")
def shifts_by_the_mean(x, axis=-1, keepdims=False):
    """Shifts by the mean: entries far above the mean still overflow."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    centre = np.mean(x, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        result = np.log(np.sum(np.exp(x - centre), axis=axis, keepdims=True)) + centre
    return result if keepdims else np.squeeze(result, axis=axis)


@wrong("logsumexp", caught_by="test_logsumexp_values")
def max_plus_log_count(x, axis=-1, keepdims=False):
    """Approximates LSE by max(x) + log(number of entries equal to the max): right only for ties and gaps."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    ties = np.sum(x == top, axis=axis, keepdims=True)
    result = (top + np.log(ties)).astype(x.dtype)
    return result if keepdims else np.squeeze(result, axis=axis)


@wrong("logsumexp", caught_by="test_logsumexp_properties")
def log_mean_exp(x, axis=-1, keepdims=False):
    """Averages instead of summing: log(mean(exp(x))) is LSE(x) - log K, below max(x)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isinf(top), 0, top)
    with np.errstate(all="ignore"):
        result = np.log(np.mean(np.exp(x - top), axis=axis, keepdims=True)) + top
    return result if keepdims else np.squeeze(result, axis=axis)


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
    """Moves `axis` last and handles every 1-D slice in plain Python with math.fsum."""
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
            top = max(row)
            out[index] = top + math.log(math.fsum(math.exp(v - top) for v in row))
    return np.expand_dims(out, axis) if keepdims else out


# ---------------------------------------------------------------- log_softmax: wrong


@wrong("log_softmax", caught_by="test_log_softmax_extremes")
def log_of_softmax(x, axis=-1):
    """np.log of a (stable) softmax: probabilities that underflow to 0 become log(0) = -inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return np.log(e / np.sum(e, axis=axis, keepdims=True))


@wrong("log_softmax", caught_by="test_log_softmax_values")
def forgets_the_log_sum(x, axis=-1):
    """Returns x - max(x): the shift without the log of the sum."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return x - np.max(x, axis=axis, keepdims=True)


@wrong("log_softmax", caught_by="test_log_softmax_extremes")
def no_shift_log_softmax(x, axis=-1):
    """x - log(sum(exp(x))): the log of the sum overflows and underflows."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


@wrong("log_softmax", caught_by="test_log_softmax_values")
def sum_without_keepdims(x, axis=-1):
    """Drops keepdims on the log of the sum: for a square batch it is subtracted along the wrong axis."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis))


@wrong("log_softmax", caught_by="test_log_softmax_extremes")
def global_max_log_softmax(x, axis=-1):
    """Shifts by the maximum of the whole array: rows far below it underflow, giving -(-inf) = +inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        shifted = x - np.max(x)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@wrong("log_softmax", caught_by="test_log_softmax_nonfinite")
def x_minus_torch_like_lse(x, axis=-1):
    """x - LSE(x) with an LSE that handles infinite maxima: a +inf row gives [nan, -inf, -inf], not all NaN."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isinf(top), 0, top)
    with np.errstate(all="ignore"):
        return x - (np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top)


@wrong("log_softmax", caught_by="test_log_softmax_dtype")
def log_softmax_in_float64(x, axis=-1):
    """Calls scipy.special.log_softmax in float64: float32 and float16 input come back as float64."""
    from scipy.special import log_softmax as scipy_log_softmax

    return scipy_log_softmax(np.asarray(x, dtype=np.float64), axis=axis)


@wrong("log_softmax", caught_by="test_log_softmax_properties")
def divides_instead_of_subtracting(x, axis=-1):
    """Normalises like a probability, (x - m) / sum(exp(x - m)): the log turns division into subtraction."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted / np.sum(np.exp(shifted), axis=axis, keepdims=True) - np.log(x.shape[axis])


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

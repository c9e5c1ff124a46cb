"""Mutant table of 01-softmax: how students get softmax wrong, and correct versions unlike the reference."""

import numpy as np

from mutants import right, wrong, wrong_source

# ---------------------------------------------------------------- naive_softmax: wrong


@wrong("naive_softmax", caught_by="test_naive_softmax_overflows")
def shifts_by_the_max(x, axis=-1):
    """Secretly stable: the naive version must overflow like the formula, not shift."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("naive_softmax", caught_by="test_naive_softmax_dtype")
def computes_in_float64(x, axis=-1):
    """Converts everything to float64: float32 input comes back float64 (and no longer overflows at 92)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("naive_softmax", caught_by="test_naive_softmax_values")
def sums_over_the_whole_array(x, axis=-1):
    """Normalises by the sum of the whole array instead of the sum along `axis`."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x)
    return e / np.sum(e)


@wrong("naive_softmax", caught_by="test_naive_softmax_values")
def sum_without_keepdims(x, axis=-1):
    """Drops keepdims: the sums broadcast along the wrong axis (silently, for a square batch)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x)
    return e / np.sum(e, axis=axis)


@wrong("naive_softmax", caught_by="test_naive_softmax_values")
def ignores_axis(x, axis=-1):
    """Always normalises along the last axis, whatever `axis` says."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


@wrong("naive_softmax", caught_by="test_naive_softmax_dtype")
def keeps_integer_dtype(x, axis=-1):
    """Exponentiates integers as they are: np.exp of int8 gives float16, not float64."""
    e = np.exp(np.asarray(x))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("naive_softmax", caught_by="test_naive_softmax_overflows")
def clips_the_logits(x, axis=-1):
    """Clips the logits to [-80, 80] so that nothing overflows: not the textbook formula any more."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(np.clip(x, -80, 80))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("naive_softmax", caught_by="test_naive_softmax_values")
def forgets_to_normalise(x, axis=-1):
    """Returns exp(x) without dividing by the sum."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return np.exp(x)


@wrong("naive_softmax", caught_by="test_naive_softmax_values")
def powers_of_two(x, axis=-1):
    """Uses 2 ** x instead of e ** x."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp2(x)
    return e / np.sum(e, axis=axis, keepdims=True)


# ---------------------------------------------------------------- naive_softmax: right


@right("naive_softmax")
def naive_moving_the_axis_last(x, axis=-1):
    """Moves `axis` to the end, normalises the last axis with a new axis for broadcasting, moves it back."""
    array = np.asarray(x)
    if array.dtype.kind not in "f":
        array = array.astype("float64")
    moved = np.moveaxis(array, axis, -1)
    with np.errstate(all="ignore"):
        powers = np.exp(moved)
        result = powers / powers.sum(axis=-1)[..., np.newaxis]
    return np.moveaxis(result, -1, axis)


@right("naive_softmax")
def naive_with_expand_dims(x, axis=-1):
    """Uses np.divide and np.expand_dims, with the float64 default chosen by np.result_type."""
    array = np.asarray(x)
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.result_type(float)
    array = array.astype(dtype, copy=False)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        numerators = np.exp(array)
        return np.divide(numerators, np.expand_dims(np.add.reduce(numerators, axis=axis), axis))


@right("naive_softmax")
def naive_letting_numpy_warn(x, axis=-1):
    """The plain formula with no np.errstate: NumPy prints overflow warnings to stderr, which must not cost points."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- stable_softmax: wrong


@wrong("stable_softmax", caught_by="test_stable_softmax_batches")
def global_max(x, axis=-1):
    """Shifts by the maximum of the whole array: rows far below it underflow to 0 / 0."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_extremes")
def no_shift(x, axis=-1):
    """The naive formula under the stable name."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_extremes")
def shifts_by_the_mean(x, axis=-1):
    """Shifts by the mean: entries far above the mean still overflow."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.mean(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_extremes")
def shifts_by_the_min(x, axis=-1):
    """Shifts by the minimum: every exponent becomes >= 0, the opposite of what is needed."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.min(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_batches")
def sums_over_axis_zero(x, axis=-1):
    """Shifts along `axis` but sums over axis 0."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_batches")
def max_without_keepdims(x, axis=-1):
    """Drops keepdims on the maximum: the row maxima broadcast across columns."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_extremes")
def clips_instead_of_shifting(x, axis=-1):
    """Clips the logits to [-80, 80]: no overflow, but the differences between large logits are lost."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(np.clip(x, -80.0, 80.0))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_dtype")
def returns_float64(x, axis=-1):
    """Computes everything in float64: float32 and float16 input come back as float64."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("stable_softmax", caught_by="test_stable_softmax_nonfinite")
def zeros_for_masked_rows(x, axis=-1):
    """Replaces the NaN of an all -inf row by zeros (torch.softmax gives NaN)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return np.nan_to_num(e / np.sum(e, axis=axis, keepdims=True))


@wrong("stable_softmax", caught_by="test_stable_softmax_nonfinite")
def uniform_for_masked_rows(x, axis=-1):
    """Turns an all -inf row into a uniform distribution by shifting it by 0 instead of -inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isneginf(top), 0.0, top).astype(x.dtype)
    e = np.exp(np.where(np.isneginf(x) & (top == 0), 0.0, x - top).astype(x.dtype))
    return e / np.sum(e, axis=axis, keepdims=True)


# ---------------------------------------------------------------- stable_softmax: right


@right("stable_softmax")
def stable_with_scipy(x, axis=-1):
    """Calls scipy.special.softmax after converting integers to float64."""
    from scipy.special import softmax

    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return softmax(array, axis=axis)


@right("stable_softmax")
def stable_via_log_sum_exp(x, axis=-1):
    """Exponentiates x - max - log(sum(exp(x - max))): the log-softmax route of chapter 2."""
    values = np.array(x, dtype=None, copy=True)
    if not np.issubdtype(values.dtype, np.inexact):
        values = values.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = values - values.max(axis=axis, keepdims=True)
        log_normaliser = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return np.exp(shifted - log_normaliser)


@right("stable_softmax")
def stable_one_slice_at_a_time(x, axis=-1):
    """Loops over every 1-D slice along `axis` in plain Python."""
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    moved = np.moveaxis(array, axis, -1)
    out = np.empty_like(moved)
    for index in np.ndindex(moved.shape[:-1]):
        row = moved[index]
        with np.errstate(invalid="ignore"):
            weights = np.exp(row - row.max())
            out[index] = weights / weights.sum()
    return np.moveaxis(out, -1, axis)


@right("stable_softmax")
def stable_letting_numpy_warn(x, axis=-1):
    """Shifted by the maximum with no np.errstate: NaN slices make NumPy warn on stderr, which must not cost points."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- the prediction

wrong_source(globals(), "predict_naive_float32", "predicts_the_stable_answer",
             "predicted_naive_float32 = [0.0, 1.0, 0.0, 0.0, 0.0]",
             "test_predict_naive_float32", "Predicts what the stable softmax gives, not the naive one.")
wrong_source(globals(), "predict_naive_float32", "predicts_all_nan",
             "predicted_naive_float32 = [float('nan')] * 5",
             "test_predict_naive_float32", "Thinks one overflow makes every entry NaN (finite / inf is 0).")

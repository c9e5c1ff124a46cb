"""Mutant table of 01-softmax: how students get softmax wrong, and correct versions unlike the reference."""

import numpy as np

from mutants import mistakes, right, wrong_source

# ---------------------------------------------------------------- naive_softmax: wrong

wrong_naive = mistakes(globals(), "01-softmax", "naive_softmax")

wrong_naive("shifts_by_the_max", "test_naive_softmax_overflows",
            "Secretly stable: the naive version must overflow like the formula, not shift.",
            ("np.exp(x)", "np.exp(x - np.max(x, axis=axis, keepdims=True))"))
wrong_naive("computes_in_float64", "test_naive_softmax_dtype",
            "Converts everything to float64: float32 input comes back float64 (and no longer overflows at 92).",
            ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))
wrong_naive("sums_over_the_whole_array", "test_naive_softmax_values",
            "Normalises by the sum of the whole array instead of the sum along `axis`.",
            ("np.sum(exps, axis=axis, keepdims=True)", "np.sum(exps)"))
wrong_naive("sum_without_keepdims", "test_naive_softmax_values",
            "Drops keepdims: the sums broadcast along the wrong axis (silently, for a square batch).",
            (", keepdims=True", ""))
wrong_naive("ignores_axis", "test_naive_softmax_values",
            "Always normalises along the last axis, whatever `axis` says.",
            ("axis=axis", "axis=-1"))
# Neither converted nor rejected: integers reach np.exp as they are.
wrong_naive("keeps_integer_dtype", "test_naive_softmax_dtype",
            "Exponentiates integers as they are: np.exp of int8 gives float16, not float64.",
            ("x = x.astype(np.float64)", "pass"),
            ("np.floating", "np.number"))
wrong_naive("clips_the_logits", "test_naive_softmax_overflows",
            "Clips the logits to [-80, 80] so that nothing overflows: not the textbook formula any more.",
            ("np.exp(x)", "np.exp(np.clip(x, -80, 80))"))
wrong_naive("forgets_to_normalise", "test_naive_softmax_values",
            "Returns exp(x) without dividing by the sum.",
            ("return exps / np.sum(exps, axis=axis, keepdims=True)", "return exps"))
wrong_naive("powers_of_two", "test_naive_softmax_values",
            "Uses 2 ** x instead of e ** x.",
            ("np.exp(x)", "np.exp2(x)"))

# ---------------------------------------------------------------- naive_softmax: right


@right("naive_softmax")
def naive_moving_the_axis_last(x, axis=-1):
    """Moves `axis` to the end, normalises the last axis with a new axis for broadcasting, moves it back."""
    array = np.asarray(x)
    # With a Python float, integers promote to float64 and float16 and float32 stay as they are (NEP 50).
    moved = np.moveaxis(array.astype(np.result_type(array, 1.0), copy=False), axis, -1)
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

wrong_stable = mistakes(globals(), "01-softmax", "stable_softmax")

wrong_stable("global_max", "test_stable_softmax_batches",
             "Shifts by the maximum of the whole array: rows far below it underflow to 0 / 0.",
             ("np.max(x, axis=axis, keepdims=True, initial", "np.max(x, initial"))
wrong_stable("no_shift", "test_stable_softmax_extremes",
             "The naive formula under the stable name.",
             ("np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))", "np.exp(x)"))
wrong_stable("shifts_by_the_mean", "test_stable_softmax_extremes",
             "Shifts by the mean: entries far above the mean still overflow.",
             ("np.max(x, axis=axis, keepdims=True, initial=-np.inf)", "np.mean(x, axis=axis, keepdims=True)"))
wrong_stable("shifts_by_the_min", "test_stable_softmax_extremes",
             "Shifts by the minimum: every exponent becomes >= 0, the opposite of what is needed.",
             ("np.max(x, axis=axis, keepdims=True, initial=-np.inf)",
              "np.min(x, axis=axis, keepdims=True, initial=np.inf)"))
wrong_stable("sums_over_axis_zero", "test_stable_softmax_batches",
             "Shifts along `axis` but sums over axis 0.",
             ("np.sum(exps, axis=axis", "np.sum(exps, axis=0"))
wrong_stable("max_without_keepdims", "test_stable_softmax_batches",
             "Drops keepdims on the maximum: the row maxima broadcast across columns.",
             ("keepdims=True, initial", "initial"))
wrong_stable("clips_instead_of_shifting", "test_stable_softmax_extremes",
             "Clips the logits to [-80, 80]: no overflow, but the differences between large logits are lost.",
             ("x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)", "np.clip(x, -80.0, 80.0)"))
wrong_stable("returns_float64", "test_stable_softmax_dtype",
             "Computes everything in float64: float32 and float16 input come back as float64.",
             ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))
wrong_stable("zeros_for_masked_rows", "test_stable_softmax_nonfinite",
             "Replaces the NaN of an all -inf row by zeros (torch.softmax gives NaN).",
             ("return exps / np.sum(exps, axis=axis, keepdims=True)",
              "return np.nan_to_num(exps / np.sum(exps, axis=axis, keepdims=True))"))
wrong_stable("uniform_for_masked_rows", "test_stable_softmax_nonfinite",
             "Turns an all -inf row into a uniform distribution by shifting it by 0 instead of -inf.",
             ("exps = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))",
              "top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)\n"
              "        exps = np.exp(np.where(np.isneginf(top), 0.0, x - top))"))

# ---------------------------------------------------------------- stable_softmax: right


@right("stable_softmax")
def stable_with_scipy(x, axis=-1):
    """Calls scipy.special.softmax, after multiplying by 1.0 to turn integers into float64."""
    from scipy.special import softmax

    # A Python float does not widen a float array (NEP 50): float16 and float32 keep their dtype.
    with np.errstate(invalid="ignore"):
        return softmax(np.asarray(x) * 1.0, axis=axis)


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

# ---------------------------------------------------------------- written outside the project
# Correct versions written by a helper acting as a student who never saw the reference (other formulas,
# library calls and dtype handling): each must get full marks.



@right("stable_softmax")
def stable_half_in_float32(x, axis=-1):
    """Computes float16 input in float32 and casts back (more accurate); moveaxis formulation."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    work = x.astype(np.float32) if x.dtype == np.float16 else x
    with np.errstate(invalid="ignore"):
        moved = np.moveaxis(work, axis, -1)
        shifted = moved - moved.max(axis=-1)[..., None]
        e = np.exp(shifted)
        out = e / e.sum(axis=-1)[..., None]
    return np.moveaxis(out, -1, axis).astype(x.dtype)

"""Mutant table of 05-softcap: how students get the softcap, its gradient, the capped loss and the environment
variable wrong, and correct versions unlike the reference."""

import numpy as np

from mutants import right, wrong

# ---------------------------------------------------------------- softcap: wrong


@wrong("softcap", caught_by="test_softcap_values")
def tanh_times_cap(x, cap):
    """tanh(x) * cap: forgets to divide x by the cap inside the tanh."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return np.tanh(x) * float(cap)


@wrong("softcap", caught_by="test_softcap_values")
def multiplies_inside(x, cap):
    """cap * tanh(x * cap): multiplies by the cap inside the tanh instead of dividing."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    c = float(cap)
    return c * np.tanh(x * c)


@wrong("softcap", caught_by="test_softcap_values")
def hard_clip(x, cap):
    """np.clip(x, -cap, cap): a hard clip, not the smooth softcap."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return np.clip(x, -float(cap), float(cap))


@wrong("softcap", caught_by="test_softcap_values")
def forgets_to_multiply_back(x, cap):
    """tanh(x / cap): squashes into (-1, 1) instead of (-cap, cap)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return np.tanh(x / float(cap))


@wrong("softcap", caught_by="test_softcap_errors_and_dtype")
def accepts_a_zero_cap(x, cap):
    """Never checks the cap: cap = 0 divides by zero and returns nan or 0 silently."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    c = float(cap)
    with np.errstate(all="ignore"):
        return c * np.tanh(x / c)


@wrong("softcap", caught_by="test_softcap_errors_and_dtype")
def lets_nan_through(x, cap):
    """Checks only `cap <= 0`: a nan cap passes (nan <= 0 is False) and the result is all nan."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return x
    if cap <= 0:
        raise ValueError("cap must be positive")
    c = float(cap)
    return c * np.tanh(x / c)


@wrong("softcap", caught_by="test_softcap_values")
def none_means_zero_cap(x, cap):
    """Treats cap=None as 'cap everything to 0' instead of 'no cap'."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.zeros_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    c = float(cap)
    return c * np.tanh(x / c)


@wrong("softcap", caught_by="test_softcap_errors_and_dtype")
def always_float64(x, cap):
    """Converts everything to float64: float32 logits come back float64."""
    x = np.asarray(x, dtype=np.float64)
    if cap is None:
        return x
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return cap * np.tanh(x / cap)


# ---------------------------------------------------------------- softcap: right


@right("softcap")
def softcap_through_expm1(x, cap):
    """tanh(u) = sign(u) * -expm1(-2|u|) / (1 + exp(-2|u|)), which never overflows, times the cap."""
    import math

    values = np.asarray(x)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    if cap is None:
        return values
    if not (isinstance(cap, (int, float, np.number)) and math.isfinite(cap) and cap > 0):
        raise ValueError(f"invalid cap {cap!r}: it must be a positive finite number")
    c = float(cap)
    u = values / c
    with np.errstate(invalid="ignore"):
        decay = np.exp(-2 * np.abs(u))
        return c * (np.sign(u) * -np.expm1(-2 * np.abs(u)) / (1 + decay))


@right("softcap")
def softcap_with_np_functions(x, cap):
    """np.multiply and np.divide, with the check written as one comparison chain."""
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.inexact):
        array = array.astype(float)
    if cap is None:
        return array
    if not 0 < float(cap) < float("inf"):
        raise ValueError("softcap: the cap has to be in (0, inf)")
    return np.multiply(float(cap), np.tanh(np.divide(array, float(cap))))


# ---------------------------------------------------------------- softcap_grad: wrong


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def forgets_the_cap_inside(x, cap):
    """1 - tanh(x)**2: the derivative of tanh at x, not at x / cap."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return 1 - np.tanh(x) ** 2


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def keeps_the_outer_cap(x, cap):
    """cap * (1 - tanh(x / cap)**2): forgets that the inner 1 / cap cancels the outer cap."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    c = float(cap)
    return c * (1 - np.tanh(x / c) ** 2)


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def forgets_the_square(x, cap):
    """1 - tanh(x / cap): the square is missing."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return 1 - np.tanh(x / float(cap))


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def linearised(x, cap):
    """1 - (x / cap)**2: replaces tanh by its argument (and goes negative past the cap)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return 1 - (x / float(cap)) ** 2


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def hard_clip_gradient(x, cap):
    """The gradient of a hard clip: 1 inside (-cap, cap), 0 outside."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return (np.abs(x) < float(cap)).astype(x.dtype)


@wrong("softcap_grad", caught_by="test_softcap_grad_values")
def sech_not_squared(x, cap):
    """1 / cosh(x / cap): sech instead of sech**2."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    with np.errstate(over="ignore"):
        return 1 / np.cosh(x / float(cap))


@wrong("softcap_grad", caught_by="test_softcap_grad_errors_and_dtype")
def accepts_a_zero_cap_grad(x, cap):
    """Never checks the cap: cap = 0 returns nan or 0 silently."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones_like(x)
    with np.errstate(all="ignore"):
        return 1 - np.tanh(x / float(cap)) ** 2


@wrong("softcap_grad", caught_by="test_softcap_grad_errors_and_dtype")
def always_float64_grad(x, cap):
    """Computes and returns float64 whatever the input dtype."""
    x = np.asarray(x, dtype=np.float64)
    if cap is None:
        return np.ones_like(x)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    return 1 - np.tanh(x / cap) ** 2


# ---------------------------------------------------------------- softcap_grad: right


@right("softcap_grad")
def sech_squared(x, cap):
    """1 / cosh(x / cap)**2 (cosh overflows to inf far out, and 1 / inf = 0)."""
    import math

    array = np.asarray(x)
    array = array if array.dtype.kind == "f" else array.astype(np.float64)
    if cap is None:
        return np.ones(array.shape, dtype=array.dtype)
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"cap={cap!r}: a cap must be positive and finite")
    with np.errstate(over="ignore"):
        return 1 / np.cosh(array / float(cap)) ** 2


@right("softcap_grad")
def from_the_capped_output(x, cap):
    """1 - (s / cap)**2 with s = cap * tanh(x / cap): the form Fast-LLM's backward uses, from the saved output."""
    import math

    array = np.asarray(x)
    array = array if array.dtype.kind == "f" else array.astype(np.float64)
    if cap is None:
        return np.ones_like(array)
    c = float(cap)
    if math.isnan(c) or c <= 0 or c == math.inf:
        raise ValueError("cap must be positive and finite")
    s = c * np.tanh(array / c)
    return (1 - s / c) * (1 + s / c)


# ---------------------------------------------------------------- softcapped_cross_entropy: wrong


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_values")
def forgets_the_cap(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Computes the plain cross-entropy of the raw logits: the cap is validated but never applied."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_values")
def caps_the_log_probabilities(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Applies the cap after log-softmax, to the log-probabilities, instead of to the logits."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1, keepdims=True)
    log_p = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    if cap is not None:
        log_p = cap * np.tanh(log_p / cap)
    losses = np.where(kept, -log_p[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_values")
def tanh_times_cap_inside_the_loss(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Caps with tanh(x) * cap instead of cap * tanh(x / cap)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = np.tanh(z) * cap
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_values")
def no_shift_in_the_log_sum_exp(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """log(sum(exp(z))) without the shift: fine with a cap, overflows without one."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = cap * np.tanh(z / cap)
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    with np.errstate(over="ignore"):
        lse = np.log(np.exp(z).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_ignore")
def mean_over_every_row(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Ignored rows count 0 but still count in the mean's denominator."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = cap * np.tanh(z / cap)
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    return losses.sum() if reduction == "sum" else losses.mean()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_ignore")
def ignore_index_always_minus_100(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Hard-codes -100 instead of using the ignore_index argument."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = cap * np.tanh(z / cap)
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != -100
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    with np.errstate(invalid="ignore"):
        return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_errors")
def no_target_check(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Indexes with the targets unchecked: 4 raises IndexError, -1 silently reads the last class."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("unknown reduction")
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = cap * np.tanh(z / cap)
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    with np.errstate(invalid="ignore"):
        return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


@wrong("softcapped_cross_entropy", caught_by="test_softcapped_cross_entropy_errors")
def unknown_reduction_means_mean(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Any reduction other than 'sum' and 'none' silently becomes 'mean'."""
    if cap is not None and not (np.isfinite(cap) and cap > 0):
        raise ValueError("cap must be positive")
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if cap is not None:
        z = cap * np.tanh(z / cap)
    t = np.atleast_1d(np.asarray(targets))
    if t.shape != z.shape[:1]:
        raise ValueError("shape mismatch")
    kept = t != ignore_index
    if np.any((t[kept] < 0) | (t[kept] >= z.shape[1])):
        raise ValueError("target out of range")
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    losses = np.where(kept, lse - z[np.arange(len(t)), np.where(kept, t, 0)], 0.0)
    if reduction == "none":
        return losses if np.ndim(logits) == 2 else losses[0]
    with np.errstate(invalid="ignore"):
        return losses.sum() if reduction == "sum" else losses.sum() / kept.sum()


# ---------------------------------------------------------------- softcapped_cross_entropy: right


@right("softcapped_cross_entropy")
def with_scipy_logsumexp(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """scipy.special.logsumexp and np.take_along_axis, the checks in another order."""
    import math

    from scipy.special import logsumexp

    z = np.asarray(logits)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    if cap is not None:
        if not (math.isfinite(cap) and cap > 0):
            raise ValueError(f"bad cap {cap!r}")
        z = float(cap) * np.tanh(z / float(cap))
    batch = z if z.ndim == 2 else z[None, :]
    labels = np.asarray(targets).reshape(-1) if z.ndim == 1 and np.ndim(targets) == 0 else np.asarray(targets)
    if labels.shape != (batch.shape[0],):
        raise ValueError(f"targets have shape {np.shape(targets)}, logits {z.shape}")
    if reduction not in {"mean", "sum", "none"}:
        raise ValueError(f"reduction {reduction!r} is not one of mean, sum, none")
    valid = labels != ignore_index
    if ((labels < 0) | (labels >= batch.shape[1]))[valid].any():
        raise ValueError("a target is out of range")
    safe = np.where(valid, labels, 0)[:, None]
    per_row = logsumexp(batch, axis=1) - np.take_along_axis(batch, safe, axis=1)[:, 0]
    per_row = np.where(valid, per_row, 0).astype(batch.dtype)
    if reduction == "none":
        return per_row if z.ndim == 2 else per_row[0]
    if reduction == "sum":
        return per_row.sum()
    with np.errstate(invalid="ignore"):
        return per_row.sum() / batch.dtype.type(valid.sum())


@right("softcapped_cross_entropy")
def row_by_row_in_python(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """A plain Python loop over the rows with math.exp and math.log, in float64, cast back at the end."""
    import math

    array = np.asarray(logits)
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("reduction must be 'mean', 'sum' or 'none'")
    if cap is not None and not (0 < float(cap) < math.inf):
        raise ValueError("cap must be positive and finite")
    rows = array.reshape(1, -1) if array.ndim == 1 else array
    labels = [int(np.asarray(targets))] if array.ndim == 1 and np.ndim(targets) == 0 else np.asarray(targets).tolist()
    if np.ndim(targets) != array.ndim - 1 or len(labels) != rows.shape[0]:
        raise ValueError("targets do not match the logits' shape")
    losses, kept = [], 0
    for row, label in zip(rows.astype(np.float64).tolist(), labels):
        if not isinstance(label, int):
            raise ValueError("targets must be integers, one per row (shape mismatch)")
        if label == ignore_index:
            losses.append(0.0)
            continue
        if not 0 <= label < len(row):
            raise ValueError(f"target {label} out of range")
        capped = row if cap is None else [cap * math.tanh(v / cap) for v in row]
        top = max(capped)
        losses.append(top + math.log(sum(math.exp(v - top) for v in capped)) - capped[label])
        kept += 1
    if reduction == "none":
        out = np.array(losses, dtype=dtype)
        return out if array.ndim == 2 else out[0]
    total = sum(losses)
    return dtype.type(total if reduction == "sum" else (total / kept if kept else math.nan))


# ---------------------------------------------------------------- logit_softcap_from_env: wrong


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_values")
def returns_the_string(default=30.0):
    """Returns the variable's text ('15') instead of the number 15.0."""
    import os

    value = os.environ.get("LOGIT_SOFTCAP", default)
    if float(value) <= 0 or float(value) != float(value) or float(value) == float("inf"):
        raise ValueError("logit_softcap must be positive")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_values")
def ignores_the_environment(default=30.0):
    """Always returns the default: the variable is never read."""
    value = float(default)
    if not (value > 0 and value != float("inf")):
        raise ValueError("logit_softcap must be positive")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_values")
def parses_with_int(default=30.0):
    """int() instead of float(): '2.5' is rejected."""
    import os

    text = os.environ.get("LOGIT_SOFTCAP")
    value = float(default) if text is None else float(int(text))
    if not (value > 0 and value != float("inf")):
        raise ValueError("logit_softcap must be positive")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_values")
def ignores_the_default_argument(default=30.0):
    """Falls back to 30.0 whatever `default` says."""
    import os

    value = float(os.environ.get("LOGIT_SOFTCAP", 30.0))
    if not (value > 0 and value != float("inf")):
        raise ValueError("logit_softcap must be positive")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_values")
def reads_the_wrong_variable(default=30.0):
    """Reads SOFTCAP instead of LOGIT_SOFTCAP."""
    import os

    value = float(os.environ.get("SOFTCAP", default))
    if not (value > 0 and value != float("inf")):
        raise ValueError("logit_softcap must be positive")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_errors")
def accepts_zero(default=30.0):
    """Never checks the value: LOGIT_SOFTCAP=0 is returned, and the softcap would divide by 0."""
    import os

    return float(os.environ.get("LOGIT_SOFTCAP", default))


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_errors")
def lets_nan_and_inf_through_env(default=30.0):
    """Checks only `value <= 0` (as parameter-golf does): nan and inf pass."""
    import os

    value = float(os.environ.get("LOGIT_SOFTCAP", default))
    if value <= 0:
        raise ValueError(f"logit_softcap must be positive, got {value}")
    return value


@wrong("logit_softcap_from_env", caught_by="test_logit_softcap_from_env_errors")
def unhelpful_message(default=30.0):
    """Raises, but with a message that does not say what is wrong."""
    import math
    import os

    value = float(os.environ.get("LOGIT_SOFTCAP", default))
    if not (math.isfinite(value) and value > 0):
        raise ValueError("invalid configuration")
    return value


# ---------------------------------------------------------------- logit_softcap_from_env: right


@right("logit_softcap_from_env")
def with_getenv_and_a_chained_check(default=30.0):
    """os.getenv and one comparison chain; float() raises its own ValueError on text that is not a number."""
    import os

    text = os.getenv("LOGIT_SOFTCAP")
    value = float(default if text is None else text)
    if not 0 < value < float("inf"):
        raise ValueError(f"logit_softcap must be positive and finite, got {value!r}")
    return value


@right("logit_softcap_from_env")
def through_a_mapping_copy(default=30.0):
    """Reads a copy of os.environ, checks with math.isfinite, returns a float built by float()."""
    import math
    import os

    settings = dict(os.environ)
    value = float(settings["LOGIT_SOFTCAP"]) if "LOGIT_SOFTCAP" in settings else float(default)
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise ValueError("logit_softcap must be positive (a finite number > 0)")
    return value

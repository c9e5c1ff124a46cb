"""Mutant table of 03-cross-entropy: how students get the loss and its gradient wrong, and correct versions."""

import numpy as np

from mutants import right, wrong

# Every entry is self-contained (the grader pastes it alone into the notebook), so each one repeats the checks.


# ---------------------------------------------------------------- cross_entropy: wrong


@wrong("cross_entropy", caught_by="test_cross_entropy_ignore_index")
def mean_over_all_targets(logits, targets, ignore_index=-100, reduction="mean"):
    """Gives ignored rows loss 0 but divides by the batch size, not by the number of valid targets."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return np.sum(losses)
        return np.mean(losses)


@wrong("cross_entropy", caught_by="test_cross_entropy_values")
def off_by_one_target(logits, targets, ignore_index=-100, reduction="mean"):
    """Reads the target's logit at index y - 1 (1-based thinking)."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets - 1, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_extremes")
def log_of_softmax(logits, targets, ignore_index=-100, reduction="mean"):
    """-log(softmax(x)[y]): a target probability that underflows to 0 gives +inf instead of about 1000."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
        picked = np.take_along_axis(probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -np.log(picked), 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_values")
def sign_error(logits, targets, ignore_index=-100, reduction="mean"):
    """Returns x[y] - LSE(x), the log-probability, instead of its negative."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_errors")
def no_error_for_a_bad_target(logits, targets, ignore_index=-100, reduction="mean"):
    """Never checks the target range: -1 silently picks the last class, K wraps around."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        index = np.where(valid, targets, 0) % logits.shape[-1]
        picked = np.take_along_axis(log_probs, index[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_errors")
def unknown_reduction_means_mean(logits, targets, ignore_index=-100, reduction="mean"):
    """Treats any reduction other than 'sum' and 'none' as 'mean' instead of raising."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_extremes")
def no_shift(logits, targets, ignore_index=-100, reduction="mean"):
    """LSE as np.log(np.sum(np.exp(x))): exp(92) overflows float32 and the loss is inf."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        lse = np.log(np.sum(np.exp(logits), axis=-1))
        picked = np.take_along_axis(logits, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, lse - picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_ignore_index")
def mask_product(logits, targets, ignore_index=-100, reduction="mean"):
    """Zeroes ignored rows by multiplying with a mask: a NaN in an ignored row survives (nan * 0 = nan)."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = (-picked * valid).astype(logits.dtype)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_reductions")
def sum_is_mean(logits, targets, ignore_index=-100, reduction="mean"):
    """Swaps the reductions: 'sum' returns the mean."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probs, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, -picked, 0).astype(logits.dtype)
        if reduction == "none":
            return losses
        return np.sum(losses) / logits.dtype.type(np.sum(valid))


@wrong("cross_entropy", caught_by="test_cross_entropy_dtype")
def loss_in_float64(logits, targets, ignore_index=-100, reduction="mean"):
    """Computes in float64 throughout: float32 and float16 logits give a float64 loss."""
    from scipy.special import logsumexp

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        picked = np.take_along_axis(logits, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        losses = np.where(valid, logsumexp(logits, axis=-1) - picked, 0.0)
        if reduction == "none":
            return losses
        total = np.sum(losses)
        return total if reduction == "sum" else total / np.sum(valid)


# ---------------------------------------------------------------- cross_entropy: right


@right("cross_entropy")
def ce_with_fancy_indexing(logits, targets, ignore_index=-100, reduction="mean"):
    """Works on a 2-D view, picks x[i, y_i] with fancy indexing, and reduces with np.add.reduce."""
    scores = np.asarray(logits)
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    labels = np.asarray(targets)
    if labels.dtype.kind not in "iu":
        raise ValueError("targets must be integer class indices")
    if reduction not in {"mean", "sum", "none"}:
        raise ValueError("bad reduction: " + repr(reduction))
    if scores.ndim not in (1, 2) or labels.shape != scores.shape[:-1]:
        raise ValueError(f"targets shape {labels.shape} does not match logits shape {scores.shape}")
    rows = scores.reshape(-1, scores.shape[-1])
    flat = labels.reshape(-1)
    keep = flat != ignore_index
    if np.any(keep & ((flat < 0) | (flat >= rows.shape[1]))):
        raise ValueError("a target is out of range")
    with np.errstate(all="ignore"):
        peak = rows.max(axis=1)
        log_norm = np.log(np.exp(rows - peak[:, None]).sum(axis=1))
        chosen = rows[np.arange(rows.shape[0]), np.where(keep, flat, 0)]
        per_row = np.zeros(rows.shape[0], dtype=rows.dtype)
        per_row[keep] = (log_norm - (chosen - peak))[keep]
    per_row = per_row.reshape(labels.shape)
    if reduction == "none":
        return per_row
    total = np.add.reduce(per_row, axis=None)
    if reduction == "sum":
        return total
    with np.errstate(all="ignore"):
        return np.divide(total, rows.dtype.type(keep.sum()))


@right("cross_entropy")
def ce_row_by_row(logits, targets, ignore_index=-100, reduction="mean"):
    """Loops over the rows in Python, with scipy's log_softmax on each finite row, and sums in float64."""
    import math

    from scipy.special import log_softmax as row_log_softmax

    scores = np.asarray(logits)
    dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.dtype(np.float64)
    labels = np.asarray(targets)
    if labels.dtype.kind not in "iu":
        raise ValueError("non-integer targets")
    if scores.ndim not in (1, 2) or labels.shape != scores.shape[:-1]:
        raise ValueError("logits and targets have incompatible shapes")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    rows = np.atleast_2d(scores.astype(dtype))
    flat = np.atleast_1d(labels)
    losses = []
    for row, label in zip(rows, flat.tolist()):
        if label == ignore_index:
            losses.append(0.0)
            continue
        if not 0 <= label < row.shape[0]:
            raise ValueError(f"target {label} out of range")
        top = float(np.max(row))
        if math.isnan(top) or top == math.inf or top == -math.inf:
            losses.append(math.nan)
        else:
            with np.errstate(all="ignore"):
                losses.append(-float(row_log_softmax(row)[label]))
    per_row = np.array(losses, dtype=dtype).reshape(labels.shape)
    if reduction == "none":
        return per_row
    total = math.fsum(losses)
    if reduction == "sum":
        return dtype.type(total)
    count = sum(1 for label in flat.tolist() if label != ignore_index)
    return dtype.type(total / count) if count else dtype.type(math.nan)


# ---------------------------------------------------------------- cross_entropy_grad: wrong


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_ignore_index")
def divides_by_batch_size(logits, targets, ignore_index=-100):
    """Divides by the batch size N instead of the number of non-ignored targets."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], (probs - onehot) / max(valid.size, 1), 0).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_values")
def not_divided(logits, targets, ignore_index=-100):
    """Gradient of the summed loss: softmax - onehot without dividing by the number of targets."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], probs - onehot, 0).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_values")
def grad_sign_error(logits, targets, ignore_index=-100):
    """onehot - softmax: the gradient of the log-likelihood, not of the loss."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], (onehot - probs) / max(int(valid.sum()), 1), 0).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_ignore_index")
def ignored_rows_not_zeroed(logits, targets, ignore_index=-100):
    """Gives ignored rows softmax(x) (their one-hot is empty) instead of 0."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return ((probs - onehot) / max(int(valid.sum()), 1)).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_values")
def grad_off_by_one(logits, targets, ignore_index=-100):
    """Puts the -1 of the one-hot at index y - 1."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == (targets[..., None] - 1) % logits.shape[-1]
    return np.where(valid[..., None], (probs - onehot) / max(int(valid.sum()), 1), 0).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_extremes")
def naive_softmax_in_grad(logits, targets, ignore_index=-100):
    """Uses the unshifted softmax: exp(92) overflows float32 and the gradient is NaN."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits)
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], (probs - onehot) / max(int(valid.sum()), 1), 0).astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_ignore_index")
def nan_when_all_ignored(logits, targets, ignore_index=-100):
    """Divides by the raw count of valid targets: with every target ignored, 0 / 0 makes the gradient NaN."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
        onehot = np.arange(logits.shape[-1]) == targets[..., None]
        grad = np.where(valid[..., None], probs - onehot, 0) / np.sum(valid)
    return grad.astype(logits.dtype)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_dtype")
def grad_in_float64(logits, targets, ignore_index=-100):
    """Computes in float64 throughout: float32 logits give a float64 gradient."""
    from scipy.special import softmax

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    if np.any(valid & ((targets < 0) | (targets >= logits.shape[-1]))):
        raise ValueError("target out of range")
    with np.errstate(all="ignore"):
        probs = softmax(logits, axis=-1)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], (probs - onehot) / max(int(valid.sum()), 1), 0.0)


@wrong("cross_entropy_grad", caught_by="test_cross_entropy_grad_errors")
def grad_no_error_for_a_bad_target(logits, targets, ignore_index=-100):
    """Never checks the target range: a target of K gives an all-zero one-hot, -1 an out-of-range one."""
    logits = np.asarray(logits)
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float64)
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError("targets must be integer")
    if logits.ndim not in (1, 2) or targets.shape != logits.shape[:-1]:
        raise ValueError("shape mismatch")
    valid = targets != ignore_index
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
        probs = e / np.sum(e, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == targets[..., None]
    return np.where(valid[..., None], (probs - onehot) / max(int(valid.sum()), 1), 0).astype(logits.dtype)


# ---------------------------------------------------------------- cross_entropy_grad: right


@right("cross_entropy_grad")
def grad_with_scipy_and_eye(logits, targets, ignore_index=-100):
    """scipy.special.softmax minus rows of the identity matrix, scaled by 1 / n and masked with np.where."""
    from scipy.special import softmax

    scores = np.asarray(logits)
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    labels = np.asarray(targets)
    if labels.dtype.kind not in "iu":
        raise ValueError("targets must be integer class indices")
    if scores.ndim not in (1, 2) or labels.shape != scores.shape[:-1]:
        raise ValueError(f"shape of targets {labels.shape} does not fit logits {scores.shape}")
    keep = labels != ignore_index
    classes = scores.shape[-1]
    if np.any(keep & ((labels < 0) | (labels >= classes))):
        raise ValueError("target index out of range")
    eye = np.eye(classes, dtype=scores.dtype)
    with np.errstate(all="ignore"):
        probs = np.asarray(softmax(scores, axis=-1), dtype=scores.dtype)
    scale = scores.dtype.type(1.0 / max(int(np.count_nonzero(keep)), 1))
    diff = (probs - eye[np.where(keep, labels, 0)]) * scale
    return np.where(np.expand_dims(keep, -1), diff, scores.dtype.type(0))


@right("cross_entropy_grad")
def grad_row_by_row(logits, targets, ignore_index=-100):
    """Loops over the rows, subtracting 1 at the target in place."""
    scores = np.asarray(logits)
    dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.dtype(np.float64)
    labels = np.asarray(targets)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("targets are not integer")
    if scores.ndim not in (1, 2) or labels.shape != scores.shape[:-1]:
        raise ValueError("bad shape")
    rows = np.atleast_2d(scores.astype(dtype))
    flat = np.atleast_1d(labels).tolist()
    for label in flat:
        if label != ignore_index and not 0 <= label < rows.shape[1]:
            raise ValueError(f"target {label} out of range")
    count = sum(label != ignore_index for label in flat) or 1
    grad = np.zeros_like(rows)
    for i, label in enumerate(flat):
        if label == ignore_index:
            continue
        with np.errstate(all="ignore"):
            weights = np.exp(rows[i] - rows[i].max())
            grad[i] = weights / weights.sum()
        grad[i, label] -= 1
        grad[i] /= count
    return grad.reshape(scores.shape)

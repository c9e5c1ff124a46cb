"""Mutant table of 03-cross-entropy: how students get the loss and its gradient wrong, and correct versions."""

import numpy as np

from mutants import mistakes, right

# ---------------------------------------------------------------- cross_entropy: wrong

wrong_ce = mistakes(globals(), "03-cross-entropy", "cross_entropy")

wrong_ce("mean_over_all_targets", "test_cross_entropy_ignore_index",
         "Gives ignored rows loss 0 but divides by the batch size, not by the number of valid targets.",
         ("return total / logits.dtype.type(np.sum(valid))", "return np.mean(losses)"))
wrong_ce("off_by_one_target", "test_cross_entropy_values",
         "Reads the target's logit at index y - 1 (1-based thinking).",
         ("np.where(valid, targets, 0)", "np.where(valid, targets - 1, 0)"))
wrong_ce("log_of_softmax", "test_cross_entropy_extremes",
         "-log(softmax(x)[y]): a target probability that underflows to 0 gives +inf instead of about 1000.",
         ("shifted - np.log(np.sum(np.exp(shifted)", "np.log(np.exp(shifted) / np.sum(np.exp(shifted)"))
wrong_ce("sign_error", "test_cross_entropy_values",
         "Returns x[y] - LSE(x), the log-probability, instead of its negative.",
         ("-picked", "picked"))
# The range check is gone, and the index wraps around so that no IndexError stands in for it either.
wrong_ce("no_error_for_a_bad_target", "test_cross_entropy_errors",
         "Never checks the target range: -1 silently picks the last class, K wraps around.",
         ("if np.any(bad):", "if False:"),
         ("np.where(valid, targets, 0)", "(np.where(valid, targets, 0) % n_classes)"))
wrong_ce("unknown_reduction_means_mean", "test_cross_entropy_errors",
         "Treats any reduction other than 'sum' and 'none' as 'mean' instead of raising.",
         ('if reduction not in ("mean", "sum", "none"):', "if False:"))
wrong_ce("no_shift", "test_cross_entropy_extremes",
         "LSE as np.log(np.sum(np.exp(x))): exp(92) overflows float32 and the loss is inf.",
         ("logits - np.max(logits, axis=-1, keepdims=True)", "logits"))
wrong_ce("mask_product", "test_cross_entropy_ignore_index",
         "Zeroes ignored rows by multiplying with a mask: a NaN in an ignored row survives (nan * 0 = nan).",
         ("np.where(valid, -picked, 0)", "(-picked * valid)"))
wrong_ce("sum_is_mean", "test_cross_entropy_reductions",
         "Swaps the reductions: 'sum' returns the mean.",
         ('if reduction == "sum":', "if False:"))
wrong_ce("loss_in_float64", "test_cross_entropy_dtype",
         "Computes in float64 throughout: float32 and float16 logits give a float64 loss.",
         ("np.asarray(logits)", "np.asarray(logits, dtype=np.float64)"))

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

wrong_grad = mistakes(globals(), "03-cross-entropy", "cross_entropy_grad")

wrong_grad("divides_by_batch_size", "test_cross_entropy_grad_ignore_index",
           "Divides by the batch size N instead of the number of non-ignored targets.",
           ("max(int(np.sum(valid)), 1)", "max(valid.size, 1)"))
wrong_grad("not_divided", "test_cross_entropy_grad_values",
           "Gradient of the summed loss: softmax - onehot without dividing by the number of targets.",
           ("(probs - onehot) / n_valid", "probs - onehot"))
wrong_grad("grad_sign_error", "test_cross_entropy_grad_values",
           "onehot - softmax: the gradient of the log-likelihood, not of the loss.",
           ("(probs - onehot)", "(onehot - probs)"))
wrong_grad("ignored_rows_not_zeroed", "test_cross_entropy_grad_ignore_index",
           "Gives ignored rows softmax(x) (their one-hot is empty) instead of 0.",
           ("np.where(valid[..., None], (probs - onehot) / n_valid, 0)", "((probs - onehot) / n_valid)"))
wrong_grad("grad_off_by_one", "test_cross_entropy_grad_values",
           "Puts the -1 of the one-hot at index y - 1.",
           ("== targets[..., None]", "== (targets[..., None] - 1) % n_classes"))
wrong_grad("naive_softmax_in_grad", "test_cross_entropy_grad_extremes",
           "Uses the unshifted softmax: exp(92) overflows float32 and the gradient is NaN.",
           ("logits - np.max(logits, axis=-1, keepdims=True)", "logits"))
wrong_grad("nan_when_all_ignored", "test_cross_entropy_grad_ignore_index",
           "Divides by the raw count of valid targets: with every target ignored, 0 / 0 makes the gradient NaN.",
           ("(probs - onehot) / n_valid, 0)", "probs - onehot, 0) / np.sum(valid)"))
wrong_grad("grad_in_float64", "test_cross_entropy_grad_dtype",
           "Computes in float64 throughout: float32 logits give a float64 gradient.",
           ("np.asarray(logits)", "np.asarray(logits, dtype=np.float64)"))
wrong_grad("grad_no_error_for_a_bad_target", "test_cross_entropy_grad_errors",
           "Never checks the target range: a target of K gives an all-zero one-hot, -1 an out-of-range one.",
           ("if np.any(bad):", "if False:"))

# ---------------------------------------------------------------- cross_entropy_grad: right


@right("cross_entropy_grad")
def grad_with_scipy_and_eye(logits, targets, ignore_index=-100):
    """scipy.special.softmax minus rows of the identity matrix, scaled by 1 / n and masked with np.where."""
    from scipy.special import softmax

    scores = np.asarray(logits) * 1.0  # integers become float64; a Python float keeps float16 and float32 (NEP 50)
    labels = np.asarray(targets)
    if not np.issubdtype(labels.dtype, np.integer) or scores.ndim not in (1, 2):
        raise ValueError(f"need integer targets and logits of shape (N, K) or (K,), got {labels.dtype} targets "
                         f"and logits of shape {scores.shape}")
    if labels.shape != scores.shape[:-1]:
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

# ---------------------------------------------------------------- written outside the project
# Correct versions written by a helper acting as a student who never saw the reference (other formulas,
# library calls and dtype handling): each must get full marks.



@right("cross_entropy")
def ce_row_loop(logits, targets, ignore_index=-100, reduction="mean"):
    """A Python loop over the rows, each row's -log_softmax[y] computed from the shifted row."""
    x = np.asarray(logits)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    t = np.asarray(targets)
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError("targets must be integers")
    if x.ndim == 1 and t.ndim == 0:
        rows, tt = x[None, :], t[None]
    elif x.ndim == 2 and t.ndim == 1 and t.shape[0] == x.shape[0]:
        rows, tt = x, t
    else:
        raise ValueError(f"logits of shape {x.shape} do not fit targets of shape {t.shape}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"invalid reduction {reduction!r}")
    K = rows.shape[1]
    losses = np.zeros(rows.shape[0], dtype=x.dtype)
    n = 0
    for i in range(rows.shape[0]):
        y = int(tt[i])
        if y == ignore_index:
            continue
        if not 0 <= y < K:
            raise ValueError(f"target {y} is out of range for {K} classes")
        row = rows[i]
        with np.errstate(all="ignore"):
            z = row - row.max()
            losses[i] = np.log(np.exp(z).sum()) - z[y]
        n += 1
    if reduction == "none":
        return losses[0] if x.ndim == 1 else losses
    if reduction == "sum":
        return losses.sum()
    with np.errstate(all="ignore"):
        return np.divide(losses.sum(), n, dtype=x.dtype) if n else x.dtype.type(np.nan)


@right("cross_entropy_grad")
def grad_row_loop(logits, targets, ignore_index=-100):
    """Python loop over the valid rows, float16 computed in float32 then cast back."""
    x = np.asarray(logits)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    out_dtype = x.dtype
    w = x.astype(np.float32) if x.dtype == np.float16 else x
    t = np.asarray(targets)
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError("targets must be integer class indices")
    if w.ndim not in (1, 2) or t.shape != w.shape[:-1]:
        raise ValueError(f"bad shape: logits {w.shape}, targets {t.shape}")
    W = np.atleast_2d(w)
    T = np.atleast_1d(t)
    K = W.shape[1]
    valid = [i for i in range(len(T)) if int(T[i]) != ignore_index]
    for i in valid:
        if not 0 <= int(T[i]) < K:
            raise ValueError(f"target {int(T[i])} out of range")
    g = np.zeros_like(W)
    for i in valid:
        with np.errstate(all="ignore"):
            e = np.exp(W[i] - W[i].max())
            g[i] = e / e.sum()
        g[i, int(T[i])] -= 1
        g[i] /= len(valid)
    return g.reshape(w.shape).astype(out_dtype)

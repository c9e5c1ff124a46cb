"""Mutant table of 05-softcap: how students get the softcap, its gradient, the capped loss and the environment
variable wrong, and correct versions unlike the reference."""

import numpy as np

from mutants import mistakes, right

# ---------------------------------------------------------------- softcap: wrong

wrong_softcap = mistakes(globals(), "05-softcap", "softcap")

wrong_softcap("tanh_times_cap", "test_softcap_values",
              "tanh(x) * cap: forgets to divide x by the cap inside the tanh.",
              ("c * np.tanh(x / c)", "np.tanh(x) * c"))
wrong_softcap("multiplies_inside", "test_softcap_values",
              "cap * tanh(x * cap): multiplies by the cap inside the tanh instead of dividing.",
              ("np.tanh(x / c)", "np.tanh(x * c)"))
wrong_softcap("hard_clip", "test_softcap_values",
              "np.clip(x, -cap, cap): a hard clip, not the smooth softcap.",
              ("c * np.tanh(x / c)", "np.clip(x, -c, c)"))
wrong_softcap("forgets_to_multiply_back", "test_softcap_values",
              "tanh(x / cap): squashes into (-1, 1) instead of (-cap, cap).",
              ("c * np.tanh(x / c)", "np.tanh(x / c)"))
wrong_softcap("accepts_a_zero_cap", "test_softcap_errors_and_dtype",
              "Never checks the cap: cap = 0 divides by zero and returns nan or 0 silently.",
              ("if not (math.isfinite(c) and c > 0):", "if False:"))
wrong_softcap("lets_nan_through", "test_softcap_errors_and_dtype",
              "Checks only `cap <= 0`: a nan cap passes (nan <= 0 is False) and the result is all nan.",
              ("not (math.isfinite(c) and c > 0)", "c <= 0"))
wrong_softcap("none_means_zero_cap", "test_softcap_values",
              "Treats cap=None as 'cap everything to 0' instead of 'no cap'.",
              ("return x.copy()", "return np.zeros_like(x)"))
wrong_softcap("always_float64", "test_softcap_errors_and_dtype",
              "Converts everything to float64: float32 logits come back float64.",
              ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))

# ---------------------------------------------------------------- softcap: right


@right("softcap")
def softcap_through_expm1(x, cap):
    """tanh(u) = sign(u) * -expm1(-2|u|) / (1 + exp(-2|u|)), which never overflows, times the cap."""
    import math

    values = np.asarray(x) * 1.0  # a new array; integers become float64, float16 and float32 stay (NEP 50)
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

wrong_slope = mistakes(globals(), "05-softcap", "softcap_grad")

wrong_slope("forgets_the_cap_inside", "test_softcap_grad_values",
            "1 - tanh(x)**2: the derivative of tanh at x, not at x / cap.",
            ("x.astype(wide) / c", "x.astype(wide)"))
wrong_slope("keeps_the_outer_cap", "test_softcap_grad_values",
            "cap * (1 - tanh(x / cap)**2): forgets that the inner 1 / cap cancels the outer cap.",
            ("(1 - t * t)", "c * (1 - t * t)"))
wrong_slope("forgets_the_square", "test_softcap_grad_values",
            "1 - tanh(x / cap): the square is missing.",
            ("(1 - t * t)", "(1 - t)"))
wrong_slope("linearised", "test_softcap_grad_values",
            "1 - (x / cap)**2: replaces tanh by its argument (and goes negative past the cap).",
            ("np.tanh(x.astype(wide) / c)", "x.astype(wide) / c"))
wrong_slope("hard_clip_gradient", "test_softcap_grad_values",
            "The gradient of a hard clip: 1 inside (-cap, cap), 0 outside.",
            ("(1 - t * t)", "(np.abs(x) < c)"))
wrong_slope("sech_not_squared", "test_softcap_grad_values",
            "1 / cosh(x / cap): sech instead of sech**2.",
            ("(1 - t * t)", "(1 / np.cosh(x.astype(wide) / c))"))
wrong_slope("accepts_a_zero_cap_grad", "test_softcap_grad_errors_and_dtype",
            "Never checks the cap: cap = 0 returns nan or 0 silently.",
            ("if not (math.isfinite(c) and c > 0):", "if False:"))
wrong_slope("always_float64_grad", "test_softcap_grad_errors_and_dtype",
            "Computes and returns float64 whatever the input dtype.",
            ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))

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

wrong_loss = mistakes(globals(), "05-softcap", "softcapped_cross_entropy")

wrong_loss("forgets_the_cap", "test_softcapped_cross_entropy_values",
           "Computes the plain cross-entropy of the raw logits: the cap is validated but never applied.",
           ("capped = softcap(logits, cap)", "softcap(logits, cap)\n    capped = logits"))
wrong_loss("caps_the_log_probabilities", "test_softcapped_cross_entropy_values",
           "Applies the cap after log-softmax, to the log-probabilities, instead of to the logits.",
           ("capped = softcap(logits, cap)", "capped = logits"),
           ("log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))",
            "log_probs = softcap(shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True)), cap)"))
wrong_loss("tanh_times_cap_inside_the_loss", "test_softcapped_cross_entropy_values",
           "Caps with tanh(x) * cap instead of cap * tanh(x / cap).",
           ("capped = softcap(logits, cap)", "capped = logits if cap is None else np.tanh(logits) * cap"))
wrong_loss("no_shift_in_the_log_sum_exp", "test_softcapped_cross_entropy_values",
           "log(sum(exp(z))) without the shift: fine with a cap, overflows without one.",
           ("capped - np.max(capped, axis=-1, keepdims=True)", "capped"))
wrong_loss("mean_over_every_row", "test_softcapped_cross_entropy_ignore",
           "Ignored rows count 0 but still count in the mean's denominator.",
           ("np.sum(losses) / capped.dtype.type(np.sum(valid))", "np.mean(losses)"))
wrong_loss("ignore_index_always_minus_100", "test_softcapped_cross_entropy_ignore",
           "Hard-codes -100 instead of using the ignore_index argument.",
           ("valid = targets != ignore_index", "valid = targets != -100"))
wrong_loss("no_target_check", "test_softcapped_cross_entropy_errors",
           "Indexes with the targets unchecked: 4 raises IndexError, -1 silently reads the last class.",
           ("if np.any(bad):", "if False:"))
wrong_loss("unknown_reduction_means_mean", "test_softcapped_cross_entropy_errors",
           "Any reduction other than 'sum' and 'none' silently becomes 'mean'.",
           ('if reduction not in ("mean", "sum", "none"):', "if False:"))

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

wrong_env = mistakes(globals(), "05-softcap", "logit_softcap_from_env")

wrong_env("returns_the_string", "test_logit_softcap_from_env_values",
          "Returns the variable's text ('15') instead of the number 15.0.",
          ("return value", "return value if text is None else text"))
wrong_env("ignores_the_environment", "test_logit_softcap_from_env_values",
          "Always returns the default: the variable is never read.",
          ('os.environ.get("LOGIT_SOFTCAP")', "None"))
wrong_env("parses_with_int", "test_logit_softcap_from_env_values",
          "int() instead of float(): '2.5' is rejected.",
          ("float(text)", "float(int(text))"))
wrong_env("ignores_the_default_argument", "test_logit_softcap_from_env_values",
          "Falls back to 30.0 whatever `default` says.",
          ("value = float(default)", "value = 30.0"))
wrong_env("reads_the_wrong_variable", "test_logit_softcap_from_env_values",
          "Reads SOFTCAP instead of LOGIT_SOFTCAP.",
          ('os.environ.get("LOGIT_SOFTCAP")', 'os.environ.get("SOFTCAP")'))
wrong_env("accepts_zero", "test_logit_softcap_from_env_errors",
          "Never checks the value: LOGIT_SOFTCAP=0 is returned, and the softcap would divide by 0.",
          ("if not (math.isfinite(value) and value > 0):", "if False:"))
wrong_env("lets_nan_and_inf_through_env", "test_logit_softcap_from_env_errors",
          "Checks only `value <= 0` (as parameter-golf does): nan and inf pass.",
          ("not (math.isfinite(value) and value > 0)", "value <= 0"))
wrong_env("unhelpful_message", "test_logit_softcap_from_env_errors",
          "Raises, but with a message that does not say what is wrong.",
          ('f"logit_softcap must be positive (and finite), got {value}"', '"invalid configuration"'))

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

# ---------------------------------------------------------------- written outside the project
# Correct versions written by a helper acting as a student who never saw the reference (other formulas,
# library calls and dtype handling): each must get full marks.


@right("softcap")
def softcap_expm1_symmetric(x, cap):
    """tanh written with expm1 on |u| (sign restored): accurate near 0 and saturating without overflow."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if cap is None:
        return x.copy()
    c = float(cap)
    if math.isnan(c) or math.isinf(c) or not c > 0:
        raise ValueError(f"invalid cap {cap!r}: the cap must be > 0 and finite")
    u = x / c
    with np.errstate(all="ignore"):
        em = np.expm1(-2 * np.abs(u))
        t = -em / (2 + em)
    return (c * np.sign(u) * t).astype(x.dtype, copy=False)


@right("softcap_grad")
def grad_sech_squared(x, cap):
    """1 / cosh(x / cap) ** 2 (sech^2: no cancellation for large |x|)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if cap is None:
        return np.ones(x.shape, dtype=x.dtype)
    c = float(cap)
    if not math.isfinite(c) or c <= 0:
        raise ValueError("cap must be positive and finite")
    with np.errstate(over="ignore"):
        return (1 / np.cosh(x / c) ** 2).astype(x.dtype, copy=False)


@right("softcapped_cross_entropy")
def sce_scipy_loop(logits, targets, cap, ignore_index=-100, reduction="mean"):
    """Row loop with scipy.special.logsumexp on the capped row; float16 computed in float32."""
    from scipy.special import logsumexp as sp_lse
    x = np.asarray(logits)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    out_dtype = x.dtype
    if x.dtype == np.float16:
        x = x.astype(np.float32)
    if cap is not None:
        try:
            c = float(cap)
        except (TypeError, ValueError):
            raise ValueError("cap must be a number") from None
        if not (0 < c < math.inf):
            raise ValueError("cap must be positive and finite")
        x = c * np.tanh(x / c)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"invalid reduction {reduction!r}")
    t = np.asarray(targets)
    if x.ndim not in (1, 2) or t.shape != x.shape[:-1]:
        raise ValueError(f"targets {t.shape} and logits {x.shape}: shape mismatch")
    rows = np.atleast_2d(x)
    ts = np.atleast_1d(t)
    K = rows.shape[1]
    losses = np.zeros(len(rows), dtype=x.dtype)
    n = 0
    for i, (row, y) in enumerate(zip(rows, ts)):
        y = int(y)
        if y == ignore_index:
            continue
        if y < 0 or y >= K:
            raise ValueError(f"target {y} out of range for {K} classes")
        with np.errstate(all="ignore"):
            losses[i] = sp_lse(row) - row[y]
        n += 1
    if reduction == "none":
        return (losses[0] if x.ndim == 1 else losses).astype(out_dtype)
    if reduction == "sum":
        return losses.sum().astype(out_dtype)
    with np.errstate(all="ignore"):
        return (losses.sum() / n if n else np.float64(np.nan)).astype(out_dtype)


# ---------------------------------------------------------------- logit_softcap_from_env


@right("logit_softcap_from_env")
def env_parameter_golf_style(default=30.0):
    """parameter-golf's one-liner float(os.environ.get("LOGIT_SOFTCAP", default)) plus the finite check."""
    logit_softcap = float(os.environ.get("LOGIT_SOFTCAP", default))
    if not (logit_softcap > 0.0) or logit_softcap == float("inf"):
        raise ValueError(f"logit_softcap must be positive, got {logit_softcap}")
    return logit_softcap

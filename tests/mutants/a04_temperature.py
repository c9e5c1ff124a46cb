"""Mutant table of 04-temperature: how students get temperature, entropy and sampling wrong, and correct
versions unlike the reference."""

import numpy as np

from mutants import mistakes, right

# ---------------------------------------------------------------- softmax_with_temperature: wrong

wrong_softmax = mistakes(globals(), "04-temperature", "softmax_with_temperature")

wrong_softmax("multiplies_by_the_temperature", "test_softmax_with_temperature_values",
              "Multiplies the logits by T instead of dividing: T = 2 sharpens instead of flattening.",
              (") / t", ") * t"))
wrong_softmax("ignores_the_temperature", "test_softmax_with_temperature_values",
              "Validates the temperature and then forgets to use it: a plain softmax.",
              (") / t", ")"))
wrong_softmax("no_shift", "test_softmax_with_temperature_limits",
              "Divides by T but does not subtract the maximum: x / 0.001 overflows exp.",
              ("(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))", "x"))
wrong_softmax("no_check_of_the_temperature", "test_softmax_with_temperature_errors",
              "Never checks the temperature: T = 0 gives nan, T = -1 reverses the order, without any error.",
              ("if not (math.isfinite(t) and t > 0):", "if False:"))
wrong_softmax("lets_nan_and_inf_through", "test_softmax_with_temperature_errors",
              "Checks only `temperature <= 0`: nan and inf pass (nan <= 0 is False).",
              ("not (math.isfinite(t) and t > 0)", "t <= 0"))
wrong_softmax("global_maximum", "test_softmax_with_temperature_limits",
              "Shifts a batch by its global maximum: at a low temperature the other rows underflow to 0 / 0.",
              ("np.max(x, axis=axis, keepdims=True, initial", "np.max(x, initial"))
wrong_softmax("always_float64", "test_softmax_with_temperature_dtype",
              "Computes and returns float64 whatever the input dtype.",
              ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))
wrong_softmax("divides_by_the_square", "test_softmax_with_temperature_values",
              "Divides by T**2 (confusing temperature with a variance).",
              (") / t", ") / t**2"))

# ---------------------------------------------------------------- softmax_with_temperature: right


@right("softmax_with_temperature")
def scipy_softmax_of_the_scaled_logits(x, temperature, axis=-1):
    """scipy.special.softmax of x / T, with the checks written as one comparison chain."""
    from scipy.special import softmax

    t = float(temperature)
    if not 0 < t < float("inf"):  # False for nan too
        raise ValueError(f"bad temperature {temperature!r}: it must be a positive finite number")
    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return softmax(array / t, axis=axis)


@right("softmax_with_temperature")
def exp_of_log_softmax_times_inverse(x, temperature, axis=-1):
    """Multiplies by 1 / T and exponentiates the log-softmax (z - max - log(sum(exp(z - max))))."""
    import math

    if math.isnan(temperature) or math.isinf(temperature) or temperature <= 0:
        raise ValueError("the temperature has to be finite and > 0")
    values = np.array(x, copy=True)
    if values.dtype.kind != "f":
        values = values.astype(float)
    z = values * (1.0 / float(temperature))
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        shifted = z - z.max(axis=axis, keepdims=True)
        return np.exp(shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True)))


# ---------------------------------------------------------------- entropy_from_logits: wrong

wrong_entropy = mistakes(globals(), "04-temperature", "entropy_from_logits")

wrong_entropy("log_of_zero_gives_nan", "test_entropy_from_logits_stable",
              "-sum(p * log(p)) from the probabilities: an underflowed p = 0 gives 0 * log(0) = nan.",
              ("return np.where(total == 0, 0, np.log(total)) - np.sum(terms, axis=axis)",
               "return -np.sum(probabilities * np.log(probabilities), axis=axis)"))
wrong_entropy("epsilon_inside_the_log", "test_entropy_from_logits_stable",
              "Avoids log(0) with log(p + 1e-12): no nan, but a biased entropy near one-hot distributions.",
              ("return np.where(total == 0, 0, np.log(total)) - np.sum(terms, axis=axis)",
               "return -np.sum(probabilities * np.log(probabilities + 1e-12), axis=axis)"))
wrong_entropy("in_bits", "test_entropy_from_logits_values",
              "Uses log2: the entropy in bits, not nats.",
              ("np.where(total == 0, 0, np.log(total)) - np.sum(terms, axis=axis)",
               "(np.where(total == 0, 0, np.log(total)) - np.sum(terms, axis=axis)) / np.log(2)"))
wrong_entropy("multiplies_by_the_temperature_h", "test_entropy_from_logits_values",
              "Multiplies the logits by T instead of dividing.",
              (") / t", ") * t"))
wrong_entropy("keeps_the_axis", "test_entropy_from_logits_values",
              "Returns the entropy with the reduced axis kept (shape (N, 1) instead of (N,)).",
              ("np.sum(weights, axis=axis)", "np.sum(weights, axis=axis, keepdims=True)"),
              ("np.sum(terms, axis=axis)", "np.sum(terms, axis=axis, keepdims=True)"))
wrong_entropy("wrong_sign", "test_entropy_from_logits_values",
              "Forgets the minus sign: sum(p log p), a negative number.",
              ("np.where(total == 0, 0, np.log(total)) - np.sum(terms, axis=axis)",
               "np.sum(terms, axis=axis) - np.where(total == 0, 0, np.log(total))"))
wrong_entropy("no_shift_h", "test_entropy_from_logits_stable",
              "log(sum(exp(z))) without the shift: exp(1000) overflows.",
              ("(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))", "x"))
wrong_entropy("no_check_of_the_temperature_h", "test_entropy_from_logits_errors_and_dtype",
              "Never checks the temperature: T = 0 returns nan instead of raising.",
              ("if not (math.isfinite(t) and t > 0):", "if False:"))
wrong_entropy("always_float64_h", "test_entropy_from_logits_errors_and_dtype",
              "Computes and returns float64 whatever the input dtype.",
              ("np.asarray(x)", "np.asarray(x, dtype=np.float64)"))

# ---------------------------------------------------------------- entropy_from_logits: right


@right("entropy_from_logits")
def entropy_with_scipy(x, temperature=1.0, axis=-1):
    """scipy.special.entr (which defines 0 log 0 = 0) of scipy.special.softmax."""
    from scipy.special import entr, softmax

    t = float(temperature)
    if not 0 < t < float("inf"):
        raise ValueError(f"temperature {temperature!r} is not a positive finite number")
    array = np.asarray(x)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    with np.errstate(invalid="ignore", under="ignore"):
        return entr(softmax(array / t, axis=axis)).sum(axis=axis)


@right("entropy_from_logits")
def entropy_from_log_probabilities(x, temperature=1.0, axis=-1):
    """-sum(p * log_p) with log_p = z - logsumexp(z) from scipy, and p * log_p set to 0 where p == 0."""
    import math

    from scipy.special import logsumexp

    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError("temperature must be > 0 and finite")
    values = np.asarray(x)
    values = values.astype(values.dtype if values.dtype.kind == "f" else np.float64)
    z = np.moveaxis(values / float(temperature), axis, -1)
    with np.errstate(all="ignore"):
        log_p = z - logsumexp(z, axis=-1, keepdims=True)
        p = np.exp(log_p)
        products = np.where(p == 0, 0, p * log_p)
    return -products.sum(axis=-1)


# ---------------------------------------------------------------- sample_with_temperature: wrong

wrong_sample = mistakes(globals(), "04-temperature", "sample_with_temperature")

wrong_sample("always_the_argmax", "test_sample_with_temperature_frequencies",
             "Greedy decoding: returns the argmax, never a random draw.",
             ("rng.choice(z.size, p=weights / np.sum(weights))", "np.argmax(z)"))
wrong_sample("multiplies_by_the_temperature_s", "test_sample_with_temperature_frequencies",
             "Draws from softmax(logits * T).",
             (") / t", ") * t"))
wrong_sample("ignores_the_temperature_s", "test_sample_with_temperature_frequencies",
             "Draws from softmax(logits) whatever the temperature.",
             (") / t", ")"))
wrong_sample("uniform_draw", "test_sample_with_temperature_frequencies",
             "Draws every index with the same probability.",
             ("rng.choice(z.size, p=weights / np.sum(weights))", "rng.integers(z.size)"))
wrong_sample("uses_the_global_generator", "test_sample_with_temperature_rng",
             "Ignores `rng` and draws with np.random.choice: not reproducible from the seed.",
             ("rng.choice(", "np.random.choice("))
wrong_sample("makes_its_own_seeded_generator", "test_sample_with_temperature_rng",
             "Ignores `rng` and draws with a generator seeded 0: every seed gives the same draws.",
             ("rng.choice(", "np.random.default_rng(0).choice("))
wrong_sample("no_shift_s", "test_sample_with_temperature_limits_and_errors",
             "exp(logits / T) without the shift: at T = 0.001 it overflows and rng.choice gets nan.",
             ("(z - np.max(z))", "z"))
wrong_sample("no_check_of_the_temperature_s", "test_sample_with_temperature_limits_and_errors",
             "Never checks the temperature: T = inf draws uniformly, T = 0 fails inside rng.choice with an unclear "
             "message.",
             ("if not (math.isfinite(t) and t > 0):", "if False:"))

# ---------------------------------------------------------------- sample_with_temperature: right


@right("sample_with_temperature")
def gumbel_max(logits, temperature, rng):
    """The Gumbel-max trick: argmax(logits / T + Gumbel noise) is distributed as softmax(logits / T)."""
    t = float(temperature)
    if not 0 < t < float("inf"):
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    z = np.asarray(logits, dtype=float) / t
    return int(np.argmax(z + rng.gumbel(size=z.shape)))


@right("sample_with_temperature")
def inverse_cdf(logits, temperature, rng):
    """One uniform number from `rng`, located in the cumulative probabilities with searchsorted."""
    import math

    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError("temperature must be a positive, finite number")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    with np.errstate(under="ignore"):
        cumulative = np.cumsum(np.exp(z - z.max()))
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


@right("sample_with_temperature")
def gumbel_on_log_probabilities_letting_numpy_warn(logits, temperature, rng):
    """Gumbel-max on log(p) with no np.errstate: log(0) of a masked logit makes NumPy warn on stderr, which must
    not cost points."""
    import math

    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError("temperature must be a positive finite number")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    p = np.exp(z - z.max())
    p = p / p.sum()
    return int(np.argmax(np.log(p) + rng.gumbel(size=p.shape)))

# ---------------------------------------------------------------- written outside the project
# Correct versions written by a helper acting as a student who never saw the reference (other formulas,
# library calls and dtype handling): each must get full marks.


@right("softmax_with_temperature")
def swt_exp_minus_lse(x, temperature, axis=-1):
    """exp(z - logsumexp(z)) with z = x / T and a max-shifted log-sum-exp."""
    T = float(temperature)
    if not (T > 0 and T != math.inf):  # also false for NaN
        raise ValueError(f"temperature {temperature!r} is not a positive finite number")
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x / T
        m = z.max(axis=axis, keepdims=True)
        lse = m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))
        return np.exp(z - lse)


@right("entropy_from_logits")
def ent_minus_p_logp(x, temperature=1.0, axis=-1):
    """H = -sum p * log p with log p = s - log S from the shifted logits, 0 where p == 0."""
    T = float(temperature)
    if math.isnan(T) or math.isinf(T) or T <= 0:
        raise ValueError("temperature must be > 0 and finite")
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        s = (x - x.max(axis=axis, keepdims=True)) / T
        logS = np.log(np.exp(s).sum(axis=axis, keepdims=True))
        logp = s - logS
        p = np.exp(logp)
        return -np.sum(np.where(p == 0, 0, p * logp), axis=axis)


@right("sample_with_temperature")
def sample_gumbel_max(logits, temperature, rng):
    """Gumbel-max trick: argmax(logits / T + Gumbel noise) drawn with rng.gumbel."""
    T = float(temperature)
    if not math.isfinite(T) or T <= 0:
        raise ValueError("temperature must be positive and finite")
    z = np.asarray(logits, dtype=np.float64) / T
    return int(np.argmax(z + rng.gumbel(size=z.shape)))


@right("sample_with_temperature")
def sample_inverse_cdf(logits, temperature, rng):
    """Inverse CDF: one rng.random() and np.searchsorted on the cumulative probabilities."""
    T = float(temperature)
    if not math.isfinite(T) or T <= 0:
        raise ValueError(f"temperature must be > 0 and finite, got {temperature!r}")
    z = np.asarray(logits, dtype=np.float64)
    z = (z - z.max()) / T
    w = np.exp(z)
    cdf = np.cumsum(w / w.sum())
    u = rng.random()
    return int(min(np.searchsorted(cdf, u, side="right"), len(cdf) - 1))

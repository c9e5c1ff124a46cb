"""Mutant table of 04-temperature: how students get temperature, entropy and sampling wrong, and correct
versions unlike the reference."""

import numpy as np

from mutants import right, wrong

# ---------------------------------------------------------------- softmax_with_temperature: wrong


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_values")
def multiplies_by_the_temperature(x, temperature, axis=-1):
    """Multiplies the logits by T instead of dividing: T = 2 sharpens instead of flattening."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x * t
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_values")
def ignores_the_temperature(x, temperature, axis=-1):
    """Validates the temperature and then forgets to use it: a plain softmax."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_limits")
def no_shift(x, temperature, axis=-1):
    """Divides by T but does not subtract the maximum: x / 0.001 overflows exp."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        e = np.exp(x / t)
        return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_errors")
def no_check_of_the_temperature(x, temperature, axis=-1):
    """Never checks the temperature: T = 0 gives nan, T = -1 reverses the order, without any error."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x / float(temperature)
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_errors")
def lets_nan_and_inf_through(x, temperature, axis=-1):
    """Checks only `temperature <= 0`: nan and inf pass (nan <= 0 is False)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x / float(temperature)
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_limits")
def global_maximum(x, temperature, axis=-1):
    """Shifts a batch by its global maximum: at a low temperature the other rows underflow to 0 / 0."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x / t
        e = np.exp(z - np.max(z))
        return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_dtype")
def always_float64(x, temperature, axis=-1):
    """Computes and returns float64 whatever the input dtype."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(x, dtype=np.float64) / t
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@wrong("softmax_with_temperature", caught_by="test_softmax_with_temperature_values")
def divides_by_the_square(x, temperature, axis=-1):
    """Divides by T**2 (confusing temperature with a variance)."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t**2
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


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


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_stable")
def log_of_zero_gives_nan(x, temperature=1.0, axis=-1):
    """-sum(p * log(p)) from the probabilities: an underflowed p = 0 gives 0 * log(0) = nan."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        p = e / np.sum(e, axis=axis, keepdims=True)
        return -np.sum(p * np.log(p), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_stable")
def epsilon_inside_the_log(x, temperature=1.0, axis=-1):
    """Avoids log(0) with log(p + 1e-12): no nan, but a biased entropy near one-hot distributions."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        p = e / np.sum(e, axis=axis, keepdims=True)
        return -np.sum(p * np.log(p + 1e-12), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_values")
def in_bits(x, temperature=1.0, axis=-1):
    """Uses log2: the entropy in bits, not nats."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    s = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(s)
    total = np.sum(e, axis=axis, keepdims=True)
    p = e / total
    return (np.squeeze(np.log(total), axis=axis) - np.sum(np.where(p > 0, p * s, 0), axis=axis)) / np.log(2)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_values")
def multiplies_by_the_temperature_h(x, temperature=1.0, axis=-1):
    """Multiplies the logits by T instead of dividing."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x * t
    s = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(s)
    total = np.sum(e, axis=axis, keepdims=True)
    p = e / total
    return np.squeeze(np.log(total), axis=axis) - np.sum(np.where(p > 0, p * s, 0), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_values")
def keeps_the_axis(x, temperature=1.0, axis=-1):
    """Returns the entropy with the reduced axis kept (shape (N, 1) instead of (N,))."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    with np.errstate(all="ignore"):
        s = z - np.max(z, axis=axis, keepdims=True)
        e = np.exp(s)
        total = np.sum(e, axis=axis, keepdims=True)
        p = e / total
        return np.log(total) - np.sum(np.where(p > 0, p * s, 0), axis=axis, keepdims=True)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_values")
def wrong_sign(x, temperature=1.0, axis=-1):
    """Forgets the minus sign: sum(p log p), a negative number."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    with np.errstate(all="ignore"):
        s = z - np.max(z, axis=axis, keepdims=True)
        e = np.exp(s)
        total = np.sum(e, axis=axis, keepdims=True)
        p = e / total
        return np.sum(np.where(p > 0, p * s, 0), axis=axis) - np.squeeze(np.log(total), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_stable")
def no_shift_h(x, temperature=1.0, axis=-1):
    """log(sum(exp(z))) without the shift: exp(1000) overflows."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = x / t
    with np.errstate(all="ignore"):
        e = np.exp(z)
        total = np.sum(e, axis=axis, keepdims=True)
        p = e / total
        return np.squeeze(np.log(total), axis=axis) - np.sum(np.where(p > 0, p * z, 0), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_errors_and_dtype")
def no_check_of_the_temperature_h(x, temperature=1.0, axis=-1):
    """Never checks the temperature: T = 0 returns nan instead of raising."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        z = x / float(temperature)
        s = z - np.max(z, axis=axis, keepdims=True)
        e = np.exp(s)
        total = np.sum(e, axis=axis, keepdims=True)
        p = e / total
        return np.squeeze(np.log(total), axis=axis) - np.sum(np.where(p > 0, p * s, 0), axis=axis)


@wrong("entropy_from_logits", caught_by="test_entropy_from_logits_errors_and_dtype")
def always_float64_h(x, temperature=1.0, axis=-1):
    """Computes and returns float64 whatever the input dtype."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(x, dtype=np.float64) / t
    with np.errstate(all="ignore"):
        s = z - np.max(z, axis=axis, keepdims=True)
        e = np.exp(s)
        total = np.sum(e, axis=axis, keepdims=True)
        p = e / total
        return np.squeeze(np.log(total), axis=axis) - np.sum(np.where(p > 0, p * s, 0), axis=axis)


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


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_frequencies")
def always_the_argmax(logits, temperature, rng):
    """Greedy decoding: returns the argmax, never a random draw."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    return int(np.argmax(np.asarray(logits, dtype=np.float64) / t))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_frequencies")
def multiplies_by_the_temperature_s(logits, temperature, rng):
    """Draws from softmax(logits * T)."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64) * t
    w = np.exp(z - z.max())
    return int(rng.choice(z.size, p=w / w.sum()))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_frequencies")
def ignores_the_temperature_s(logits, temperature, rng):
    """Draws from softmax(logits) whatever the temperature."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64)
    w = np.exp(z - z.max())
    return int(rng.choice(z.size, p=w / w.sum()))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_frequencies")
def uniform_draw(logits, temperature, rng):
    """Draws every index with the same probability."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    return int(rng.integers(len(logits)))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_rng")
def uses_the_global_generator(logits, temperature, rng):
    """Ignores `rng` and draws with np.random.choice: not reproducible from the seed."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64) / t
    w = np.exp(z - z.max())
    return int(np.random.choice(z.size, p=w / w.sum()))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_rng")
def makes_its_own_seeded_generator(logits, temperature, rng):
    """Ignores `rng` and draws with a generator seeded 0: every seed gives the same draws."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64) / t
    w = np.exp(z - z.max())
    rng = np.random.default_rng(0)
    return int(rng.choice(z.size, p=w / w.sum()))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_limits_and_errors")
def no_shift_s(logits, temperature, rng):
    """exp(logits / T) without the shift: at T = 0.001 it overflows and rng.choice gets nan."""
    import math

    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError("temperature must be positive")
    with np.errstate(all="ignore"):
        w = np.exp(np.asarray(logits, dtype=np.float64) / t)
        return int(rng.choice(w.size, p=w / w.sum()))


@wrong("sample_with_temperature", caught_by="test_sample_with_temperature_limits_and_errors")
def no_check_of_the_temperature_s(logits, temperature, rng):
    """Never checks the temperature: T = inf draws uniformly, T = 0 fails inside rng.choice with an unclear message."""
    with np.errstate(all="ignore"):
        z = np.asarray(logits, dtype=np.float64) / float(temperature)
        w = np.exp(z - z.max())
        return int(rng.choice(z.size, p=w / w.sum()))


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

"""The reference solutions of 04-temperature against independent references: PyTorch, SciPy and mpmath.

The notebook's tests use hand-derived answers and a from-scratch chi-square test (to keep the graded notebook
light); these tests check the reference solutions against torch.softmax, torch.distributions and scipy.stats.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from solution_functions import load

ns = load("04-temperature")
softmax_with_temperature = ns["softmax_with_temperature"]
entropy_from_logits = ns["entropy_from_logits"]
sample_with_temperature = ns["sample_with_temperature"]
inf, nan = np.inf, np.nan

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}
temperatures = st.floats(0.05, 20.0)
arrays = hnp.arrays(st.sampled_from([np.float32, np.float64]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                    elements=st.floats(-50, 50, width=32))


def torch_softmax(x, temperature, axis):
    return torch.softmax(torch.from_numpy(np.ascontiguousarray(x)) / temperature, dim=axis).numpy()


@settings(max_examples=60, deadline=None)
@given(arrays, temperatures, st.integers(-1, 2))
def test_softmax_with_temperature_matches_torch(x, temperature, axis):
    axis = axis % x.ndim
    got = softmax_with_temperature(x, temperature, axis=axis)
    expected = torch_softmax(x, temperature, axis)
    assert got.dtype == x.dtype
    tol = 64 * EPS[x.dtype.type]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("row", [[inf, 1.0, 2.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [-inf, 0.0, 1.0]])
def test_softmax_with_temperature_non_finite_rows_like_torch(row):
    x = np.array(row)
    got, expected = softmax_with_temperature(x, 0.7), torch_softmax(x, 0.7, -1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 8), elements=st.floats(-20, 20)))
def test_limits_one_hot_and_uniform(x):
    top = np.flatnonzero(x == x.max())
    cold = softmax_with_temperature(x, 1e-9)
    expected = np.zeros_like(x)
    expected[top] = 1.0 / top.size
    gaps = np.sort(np.unique(x))
    if gaps.size < 2 or (gaps[-1] - gaps[-2]) > 1e-6:  # a clear winner: one-hot (or shared by exact ties)
        np.testing.assert_allclose(cold, expected, atol=1e-12)
    np.testing.assert_allclose(softmax_with_temperature(x, 1e12), np.full(x.size, 1.0 / x.size), rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays, temperatures, st.integers(-1, 2))
def test_entropy_matches_torch_categorical(x, temperature, axis):
    axis = axis % x.ndim
    wide = torch.from_numpy(np.moveaxis(x.astype(np.float64), axis, -1).copy())
    expected = torch.distributions.Categorical(logits=wide / temperature).entropy().numpy()
    got = entropy_from_logits(x, temperature, axis=axis)
    assert got.dtype == x.dtype and got.shape == expected.shape
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def mp_entropy(values, temperature):
    mpmath.mp.dps = 60
    z = [mpmath.mpf(v) / temperature for v in values]
    total = mpmath.fsum(mpmath.exp(v) for v in z)
    p = [mpmath.exp(v) / total for v in z]
    return float(-mpmath.fsum(q * mpmath.log(q) for q in p if q > 0))


@pytest.mark.parametrize(("values", "temperature"), [
    ([0.0, -1000.0], 1.0), ([1000.0, 1000.0, 999.0], 1.0), ([3.0, 1.0, 2.0], 0.01), ([5.0, 0.0, -5.0], 0.3),
    ([1.2, 4.7, 3.1, 0.5, 2.9], 1.0), ([1.2, 4.7, 3.1, 0.5, 2.9], 10.0), ([-700.0, -702.0], 0.5),
])
def test_entropy_against_mpmath(values, temperature):
    got = entropy_from_logits(np.array(values), temperature)
    assert np.isfinite(got)
    assert abs(got - mp_entropy(values, temperature)) <= 1e-14 + 1e-13 * abs(got)


def test_entropy_is_never_nan_for_finite_or_masked_input():
    rng = np.random.default_rng(0)
    x = rng.normal(scale=400.0, size=(200, 7))
    x[::3, 2] = -inf
    h = entropy_from_logits(x, 0.05)
    assert np.all(np.isfinite(h)) and np.all(h >= -1e-12) and np.all(h <= math.log(7) + 1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 5.0])
def test_sampler_frequencies_pass_scipy_chisquare(temperature):
    logits = np.array([1.2, 4.7, 3.1, 0.5, 2.9, 2.0])
    rng = np.random.default_rng(int(temperature * 100))
    n = 20000
    draws = np.array([sample_with_temperature(logits, temperature, rng) for _ in range(n)])
    expected = n * torch.softmax(torch.from_numpy(logits) / temperature, dim=0).numpy()
    observed = np.bincount(draws, minlength=logits.size)
    keep = expected >= 5  # chi-square needs expected counts of at least 5; pool the rest
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    if expected[-1] < 5:
        observed, expected = observed[:-1], expected[:-1]
        expected *= observed.sum() / expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_sampler_is_reproducible_and_returns_ints():
    a = [sample_with_temperature([0.0, 0.1, 0.2], 1.0, np.random.default_rng(9)) for _ in range(1)]
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    first = [sample_with_temperature([0.0, 0.1, 0.2], 1.0, rng1) for _ in range(100)]
    second = [sample_with_temperature([0.0, 0.1, 0.2], 1.0, rng2) for _ in range(100)]
    assert first == second and isinstance(a[0], int)
    assert {sample_with_temperature([1.0, 9.0, 2.0], 1e-4, rng1) for _ in range(100)} == {1}


@pytest.mark.parametrize("function", [
    lambda t: softmax_with_temperature([1.0, 2.0], t),
    lambda t: entropy_from_logits([1.0, 2.0], t),
    lambda t: sample_with_temperature([1.0, 2.0], t, np.random.default_rng(0)),
])
@pytest.mark.parametrize("temperature", [0.0, -0.0, -1.0, nan, inf, -inf])
def test_bad_temperatures_raise(function, temperature):
    with pytest.raises(ValueError, match="temperature"):
        function(temperature)

"""The reference solutions of 02-logsumexp against independent references: PyTorch, SciPy and mpmath.

The notebook's hidden tests spell out torch's non-finite behaviour by hand (to keep the graded notebooks
light); these tests check that the reference solutions really match torch.logsumexp / torch.log_softmax,
element for element, and agree with an exact reference on finite input.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax as scipy_log_softmax, logsumexp as scipy_logsumexp

from references import DTYPES, EPS, assert_same
from solution_functions import load

ns = load("02-logsumexp")
logsumexp, log_softmax = ns["logsumexp"], ns["log_softmax"]
inf, nan = np.inf, np.nan



def torch_lse(x, axis, keepdims=False):
    return torch.logsumexp(torch.from_numpy(np.ascontiguousarray(x)), dim=axis, keepdim=keepdims).numpy()


def torch_log_softmax(x, axis):
    return torch.log_softmax(torch.from_numpy(np.ascontiguousarray(x)), dim=axis).numpy()


NON_FINITE_ROWS = [
    [inf, 1.0, 2.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [inf, -inf, 0.0], [inf, inf, 1.0], [-inf, 0.0, 1.0],
    [nan, -inf, inf], [-inf, -inf, 5.0], [nan, inf, 0.0], [nan, -inf, -inf], [1000.0, -1000.0, 0.0],
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_torch_on_non_finite_rows(dtype, axis, keepdims):
    x = np.array(NON_FINITE_ROWS, dtype=dtype)
    with np.errstate(all="ignore"):
        assert_same(logsumexp(x, axis=axis, keepdims=keepdims), torch_lse(x, axis, keepdims), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_matches_torch_on_non_finite_rows(dtype, axis):
    x = np.array(NON_FINITE_ROWS, dtype=dtype)
    assert_same(log_softmax(x, axis=axis), torch_log_softmax(x, axis), dtype)


def test_plain_x_minus_max_gives_nan_where_torch_gives_inf():
    """The reason logsumexp handles an infinite maximum: the plain shifted form is NaN there."""
    row = np.array([inf, 1.0])
    with np.errstate(invalid="ignore"):
        plain = row.max() + np.log(np.sum(np.exp(row - row.max())))
    assert np.isnan(plain) and torch_lse(row, 0) == inf and logsumexp(row) == inf


def _special_floats(width):
    return st.one_of(st.floats(-80, 80, width=width), st.sampled_from([inf, -inf, nan]))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
           dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
           elements=_special_floats(16))),
       st.integers(-3, 2), st.booleans())
def test_random_arrays_with_non_finite_entries_match_torch(x, axis, keepdims):
    axis = axis % x.ndim
    dtype = x.dtype.type
    with np.errstate(all="ignore"):
        assert_same(logsumexp(x, axis=axis, keepdims=keepdims), torch_lse(x, axis, keepdims), dtype)
        assert_same(log_softmax(x, axis=axis), torch_log_softmax(x, axis), dtype)


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7),
                  elements=st.floats(-700, 700)),
       st.integers(-3, 2), st.booleans())
def test_finite_float64_agrees_with_scipy(x, axis, keepdims):
    axis = axis % x.ndim
    expected = scipy_logsumexp(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(logsumexp(x, axis=axis, keepdims=keepdims), expected, rtol=4e-15, atol=4e-15)
    np.testing.assert_allclose(log_softmax(x, axis=axis), scipy_log_softmax(x, axis=axis), rtol=1e-13, atol=1e-12)


def _exact_lse(values):
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in values)))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DTYPES), st.lists(st.floats(-60, 60, width=16), min_size=1, max_size=30))
def test_accuracy_against_mpmath_within_a_few_eps(dtype, values):
    x = np.array(values, dtype=dtype)
    exact = _exact_lse(x.astype(float))
    got = float(logsumexp(x))
    # The shifted form's error is a few eps relative to max(|LSE|, 1) (Blanchard, Higham & Higham 2021).
    assert abs(got - exact) <= 8 * EPS[dtype] * max(abs(exact), 1.0) + 4 * EPS[dtype] * math.log(len(values) + 1)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                  elements=st.floats(-300, 300)),
       st.floats(-1e4, 1e4))
def test_bounds_and_shift_invariance(x, shift):
    lse = logsumexp(x)
    top = x.max(axis=-1)
    k = x.shape[-1]
    assert np.all(top <= lse) and np.all(lse <= top + math.log(k) + 1e-12 * np.maximum(1, np.abs(top)))
    shift = float(np.round(shift))  # an integer shift is exact in float64 for these magnitudes
    np.testing.assert_allclose(logsumexp(x + shift), lse + shift, rtol=1e-14, atol=1e-11)
    np.testing.assert_allclose(log_softmax(x + shift), log_softmax(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("function", [logsumexp, log_softmax])
def test_lists_and_integers_compute_in_float64(function):
    assert np.asarray(function([1, 2, 3])).dtype == np.float64
    assert np.asarray(function(np.array([1, 2], dtype=np.int8))).dtype == np.float64
    assert np.asarray(function(np.array([1, 2], dtype=np.float16))).dtype == np.float16


def test_logsumexp_keepdims_shapes_match_torch():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    for axis in range(-3, 3):
        for keepdims in (False, True):
            assert logsumexp(x, axis=axis, keepdims=keepdims).shape == torch_lse(x, axis, keepdims).shape

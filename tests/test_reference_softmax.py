"""The reference solutions of 01-softmax against independent references: PyTorch and SciPy.

The notebook's hidden tests spell out torch's non-finite behaviour by hand (to keep the graded notebooks
light); these tests check that the reference solution really matches torch.softmax, element for element.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import softmax as scipy_softmax

from references import assert_same
from solution_functions import load

ns = load("01-softmax")
naive_softmax, stable_softmax = ns["naive_softmax"], ns["stable_softmax"]
inf, nan = np.inf, np.nan



def torch_softmax(x, axis):
    return torch.softmax(torch.from_numpy(np.ascontiguousarray(x)), dim=axis).numpy()


NON_FINITE_ROWS = [
    [inf, 1.0, 2.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [inf, inf, 1.0], [-inf, 0.0, 1.0],
    [inf, -inf, 0.0], [-inf, -inf, 5.0], [nan, -inf, inf], [1000.0, -1000.0, 0.0],
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_stable_softmax_matches_torch_on_non_finite_rows(dtype):
    x = np.array(NON_FINITE_ROWS, dtype=dtype)
    for axis in (-1, 0):
        assert_same(stable_softmax(x, axis=axis), torch_softmax(x, axis), dtype)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float16, np.float32, np.float64]),
                  hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                  elements=st.floats(-60, 60, width=16)),
       st.integers(-1, 2), st.floats(-5000, 5000))
def test_stable_softmax_matches_torch_and_scipy_on_random_arrays(x, axis, shift):
    axis = axis % x.ndim
    assert_same(stable_softmax(x, axis=axis), torch_softmax(x, axis), x.dtype.type)
    # Shift invariance, checked in float64 where adding `shift` is exact enough to compare.
    wide = x.astype(np.float64)
    np.testing.assert_allclose(stable_softmax(wide + np.round(shift), axis=axis), scipy_softmax(wide, axis=axis),
                               rtol=1e-12, atol=1e-15)


def test_naive_softmax_really_overflows():
    with np.errstate(all="ignore"):
        out = naive_softmax(np.array([1, 92, 3, 0, 2], dtype=np.float32))
    assert out.dtype == np.float32 and np.isnan(out[1])
    np.testing.assert_array_equal(out[[0, 2, 3, 4]], 0.0)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-30, 30)),
       st.integers(-1, 2))
def test_naive_softmax_agrees_with_scipy_where_it_does_not_overflow(x, axis):
    axis = axis % x.ndim
    np.testing.assert_allclose(naive_softmax(x, axis=axis), scipy_softmax(x, axis=axis), rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("function", [naive_softmax, stable_softmax])
def test_lists_and_integers_compute_in_float64(function):
    assert function([1, 2, 3]).dtype == np.float64
    assert function(np.array([1, 2], dtype=np.int8)).dtype == np.float64
    np.testing.assert_allclose(function([[0, 0], [1, 1]], axis=0), [[1 / (1 + np.e), 1 / (1 + np.e)],
                                                                    [np.e / (1 + np.e), np.e / (1 + np.e)]])

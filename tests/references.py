"""What the tests of the reference solutions share: machine epsilons and one strict comparison."""

import numpy as np

DTYPES = [np.float16, np.float32, np.float64]
EPS = {dtype: float(np.finfo(dtype).eps) for dtype in DTYPES}


def assert_same(got, expected, dtype, ulps=8):
    """Same dtype and shape, NaN where NaN, the same infinities, finite values within ``ulps`` epsilons."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == dtype and got.shape == expected.shape, (got.dtype, got.shape, dtype, expected.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    tol = ulps * EPS[np.dtype(dtype).type]
    np.testing.assert_allclose(got[finite].astype(float), expected[finite].astype(float), rtol=tol, atol=tol)

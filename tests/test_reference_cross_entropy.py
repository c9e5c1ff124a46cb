"""The reference solutions of 03-cross-entropy against PyTorch: F.cross_entropy and torch.autograd.

Random shapes, dtypes, ignore_index and reductions with hypothesis; non-finite logits; the ValueErrors.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from references import DTYPES, EPS, assert_same
from solution_functions import load

ns = load("03-cross-entropy")
cross_entropy, cross_entropy_grad = ns["cross_entropy"], ns["cross_entropy_grad"]
inf, nan = np.inf, np.nan



def torch_ce(logits, targets, ignore_index=-100, reduction="mean"):
    return F.cross_entropy(torch.from_numpy(np.ascontiguousarray(logits)), torch.as_tensor(targets),
                           ignore_index=ignore_index, reduction=reduction).numpy()


def torch_grad(logits, targets, ignore_index=-100):
    x = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float64)).requires_grad_(True)
    F.cross_entropy(x, torch.as_tensor(targets), ignore_index=ignore_index).backward()
    return x.grad.numpy()


@st.composite
def batches(draw, dtypes=DTYPES):
    """Logits (N, K) or (K,) in a random dtype, targets in range, some equal to ignore_index."""
    dtype = draw(st.sampled_from(dtypes))
    k = draw(st.integers(1, 8))
    one_row = draw(st.booleans())
    n = 1 if one_row else draw(st.integers(0, 6))
    scale = draw(st.sampled_from([1.0, 30.0, 300.0])) if dtype != np.float16 else 4.0
    logits = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-1, 1))) * scale
    ignore_index = draw(st.sampled_from([-100, -1, 0, k - 1]))
    targets = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    ignored = draw(hnp.arrays(bool, (n,)))
    targets = np.where(ignored, ignore_index, targets)
    logits = logits.astype(dtype)
    if one_row:
        return logits[0], targets[0], ignore_index
    return logits, targets, ignore_index


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_matches_torch(case, reduction):
    logits, targets, ignore_index = case
    expected = torch_ce(logits, targets, ignore_index, reduction)
    with np.errstate(all="ignore"):
        got = cross_entropy(logits, targets, ignore_index=ignore_index, reduction=reduction)
    # A sum of float16 losses rounds at every step: allow for it in proportion to the batch size.
    ulps = 16 * max(1, np.size(targets)) if logits.dtype == np.float16 else 16
    assert_same(got, expected, logits.dtype.type, ulps=ulps)


@settings(max_examples=100, deadline=None)
@given(batches(dtypes=[np.float64]))
def test_gradient_matches_torch_autograd(case):
    logits, targets, ignore_index = case
    got = cross_entropy_grad(logits, targets, ignore_index=ignore_index)
    np.testing.assert_allclose(got, torch_grad(logits, targets, ignore_index), rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(batches(dtypes=[np.float32, np.float16]))
def test_gradient_keeps_the_dtype(case):
    logits, targets, ignore_index = case
    got = cross_entropy_grad(logits, targets, ignore_index=ignore_index)
    assert got.dtype == logits.dtype and got.shape == logits.shape
    expected = torch_grad(logits.astype(np.float64), targets, ignore_index)
    tol = 8 * EPS[logits.dtype.type]
    np.testing.assert_allclose(got.astype(float), expected, rtol=tol, atol=tol)


def test_every_target_ignored_matches_torch():
    logits = np.random.default_rng(0).normal(size=(3, 4))
    targets = np.full(3, -100)
    assert np.isnan(cross_entropy(logits, targets)) and np.isnan(torch_ce(logits, targets))
    assert cross_entropy(logits, targets, reduction="sum") == 0.0
    # torch.autograd gives a zero gradient (nothing depends on the logits); so does the reference.
    np.testing.assert_array_equal(torch_grad(logits, targets), 0.0)
    np.testing.assert_array_equal(cross_entropy_grad(logits, targets), 0.0)


NON_FINITE = np.array([[nan, 2.0, 3.0], [inf, 5.0, 6.0], [1.0, -inf, 2.0], [-inf, -inf, -inf],
                       [inf, 1.0, 2.0], [1.0, 2.0, inf], [-inf, 0.0, -inf], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("targets", [[1, 0, 1, 0, 1, 2, 1, 0], [-100, 0, 1, -100, 1, 2, 1, -100],
                                     [0, 2, 2, 1, 0, 2, 1, 2]])
def test_non_finite_logits_match_torch(dtype, targets):
    logits = NON_FINITE.astype(dtype)
    with np.errstate(all="ignore"):
        for reduction in ("none", "sum", "mean"):
            assert_same(cross_entropy(logits, targets, reduction=reduction),
                        torch_ce(logits, np.array(targets), reduction=reduction), dtype, ulps=16)


def test_ignored_nan_rows_do_not_poison_the_loss_or_the_gradient():
    logits = np.array([[nan, nan], [0.0, 1.0]])
    targets = np.array([-100, 1])
    assert_same(cross_entropy(logits, targets), torch_ce(logits, targets), np.float64, ulps=16)
    got = cross_entropy_grad(logits, targets)
    np.testing.assert_array_equal(got[0], 0.0)
    np.testing.assert_allclose(got[1], torch_grad(logits, targets)[1])
    # The one place the course differs from torch on purpose: autograd through log_softmax multiplies the
    # ignored row's zero upstream gradient by its NaN softmax (0 * nan = nan); the spec says ignored rows get 0.
    assert np.isnan(torch_grad(logits, targets)[0]).all()


def test_seed_walk_through_is_about_88_9_nats():
    loss = cross_entropy(np.array([1.2, 92.0, 3.1, 0.5, 2.9], dtype=np.float32), 2)
    assert loss.dtype == np.float32 and abs(float(loss) - 88.9) < 0.05
    assert float(loss) == pytest.approx(float(torch_ce(np.array([1.2, 92.0, 3.1, 0.5, 2.9], np.float32),
                                                        np.array(2))), rel=1e-6)


@pytest.mark.parametrize("function", [cross_entropy, cross_entropy_grad])
@pytest.mark.parametrize(("logits", "targets", "match"), [
    (np.zeros((3, 5)), [0, 5, 1], "out of range"),
    (np.zeros((3, 5)), [0, -1, 1], "out of range"),
    (np.zeros(5), -3, "out of range"),
    (np.zeros((3, 5)), [0, 1], "shape"),
    (np.zeros((3, 5)), 1, "shape"),
    (np.zeros((2, 3, 5)), np.zeros((2, 3), dtype=int), "shape"),
    (np.zeros((3, 5)), [0.0, 1.0, 2.0], "integer"),
])
def test_bad_input_raises_a_value_error_naming_the_problem(function, logits, targets, match):
    with pytest.raises(ValueError, match=match):
        function(logits, targets)


@pytest.mark.parametrize("reduction", ["avg", None, "MEAN", "batchmean"])
def test_unknown_reduction_raises(reduction):
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(np.zeros((2, 3)), [0, 1], reduction=reduction)

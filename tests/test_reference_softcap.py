"""The reference solutions of 05-softcap against independent references: PyTorch (autograd and
F.cross_entropy), mpmath, and the closed form of the lowest reachable loss."""

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from solution_functions import load

ns = load("05-softcap")
softcap, softcap_grad = ns["softcap"], ns["softcap_grad"]
softcapped_cross_entropy, logit_softcap_from_env = ns["softcapped_cross_entropy"], ns["logit_softcap_from_env"]
inf, nan = np.inf, np.nan

caps = st.floats(0.5, 100.0)
arrays = hnp.arrays(st.sampled_from([np.float32, np.float64]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                    elements=st.floats(-500, 500, width=32))


def torch_softcap(x, cap):
    return cap * torch.tanh(x / cap)


@settings(max_examples=60, deadline=None)
@given(arrays, caps)
def test_softcap_and_its_gradient_match_torch_autograd(x, cap):
    t = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    capped = torch_softcap(t, cap)
    capped.sum().backward()
    got = softcap(x, cap)
    assert got.dtype == x.dtype
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, capped.detach().numpy(), rtol=tol, atol=tol * cap)
    grad = softcap_grad(x, cap)
    assert grad.dtype == x.dtype
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)), caps)
def test_softcap_is_bounded_and_keeps_the_order(x, cap):
    y = softcap(x, cap)
    assert np.all(np.abs(y) <= cap)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(y[order]) >= 0), "the softcap is monotone: it never swaps two logits"


@pytest.mark.parametrize("x", [0.0, 1.0, -3.0, 29.0, 45.0, -60.0, 150.0, 400.0])
@pytest.mark.parametrize("cap", [1.0, 30.0, 50.0])
def test_softcap_gradient_against_mpmath(x, cap):
    mpmath.mp.dps = 50
    exact = float(mpmath.sech(mpmath.mpf(x) / cap) ** 2)
    # 1 - tanh^2 loses its relative accuracy far out (cancellation): it is accurate to a few eps absolutely.
    assert abs(softcap_grad(np.array(x), cap) - exact) <= 4 * np.finfo(np.float64).eps
    assert abs(softcap(np.array(x), cap) - float(cap * mpmath.tanh(mpmath.mpf(x) / cap))) <= 4e-16 * cap


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(2, 9), st.one_of(st.none(), caps), st.sampled_from(["mean", "sum", "none"]),
       st.integers(0, 2**32 - 1), st.sampled_from([-100, 0, -1]))
def test_softcapped_cross_entropy_matches_torch(n, k, cap, reduction, seed, ignore_index):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=60.0, size=(n, k))
    targets = rng.integers(0, k, size=n)
    targets[rng.random(n) < 0.3] = ignore_index
    z = torch.from_numpy(logits)
    z = z if cap is None else torch_softcap(z, cap)
    expected = F.cross_entropy(z, torch.from_numpy(targets), ignore_index=ignore_index, reduction=reduction).numpy()
    got = softcapped_cross_entropy(logits, targets, cap, ignore_index=ignore_index, reduction=reduction)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_single_row_and_float32_like_torch():
    logits = np.array([1000.0, -3.0, 20.0, 7.0], dtype=np.float32)
    for cap in (None, 30.0):
        z = torch.from_numpy(logits)
        z = z if cap is None else torch_softcap(z, cap)
        expected = F.cross_entropy(z, torch.tensor(2)).item()
        got = softcapped_cross_entropy(logits, 2, cap)
        assert got.dtype == np.float32
        assert abs(float(got) - expected) <= 1e-5 * max(1.0, abs(expected))


@pytest.mark.parametrize("vocabulary", [5, 50257, 262144])
@pytest.mark.parametrize("cap", [2.0, 5.0, 10.0, 30.0])
def test_lowest_reachable_loss_is_the_closed_form(vocabulary, cap):
    logits = np.full((1, vocabulary), -1e5)
    logits[0, 1] = 1e5
    direct = float(softcapped_cross_entropy(logits, [1], cap))
    closed = math.log1p((vocabulary - 1) * math.exp(-2 * cap))
    mpmath.mp.dps = 50
    exact = float(mpmath.log(1 + (vocabulary - 1) * mpmath.exp(-2 * mpmath.mpf(cap))))
    assert abs(closed - exact) <= 1e-15 * exact
    # The direct loss is log-sum-exp minus the target's logit, both about `cap`: accurate to a few eps * cap.
    assert abs(direct - closed) <= 8 * np.finfo(np.float64).eps * cap


@pytest.mark.parametrize(("call", "match"), [
    (lambda: softcapped_cross_entropy(np.zeros((2, 3)), [0, 3], 30.0), "target"),
    (lambda: softcapped_cross_entropy(np.zeros((2, 3)), [0, -2], 30.0), "target"),
    (lambda: softcapped_cross_entropy(np.zeros((2, 3)), [0, 1], 30.0, reduction="avg"), "reduction"),
    (lambda: softcapped_cross_entropy(np.zeros((2, 3)), [0], 30.0), "shape"),
    (lambda: softcapped_cross_entropy(np.zeros(3), [0, 1], 30.0), "shape"),
    (lambda: softcapped_cross_entropy(np.zeros((2, 3)), [0, 1], -1.0), "cap"),
    (lambda: softcap([1.0], 0.0), "cap"),
    (lambda: softcap([1.0], nan), "cap"),
    (lambda: softcap_grad([1.0], inf), "cap"),
])
def test_errors_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("variable", "expected"), [(None, 30.0), ("15", 15.0), ("2.5", 2.5), ("1e-3", 0.001)])
def test_env_reader_reads_a_float(monkeypatch, variable, expected):
    if variable is None:
        monkeypatch.delenv("LOGIT_SOFTCAP", raising=False)
    else:
        monkeypatch.setenv("LOGIT_SOFTCAP", variable)
    got = logit_softcap_from_env()
    assert type(got) is float and got == expected


@pytest.mark.parametrize("variable", ["0", "-1", "nan", "inf", "-inf"])
def test_env_reader_rejects_like_parameter_golf(monkeypatch, variable):
    monkeypatch.setenv("LOGIT_SOFTCAP", variable)
    with pytest.raises(ValueError, match="logit_softcap must be positive"):
        logit_softcap_from_env()


def test_env_reader_rejects_text(monkeypatch):
    monkeypatch.setenv("LOGIT_SOFTCAP", "thirty")
    with pytest.raises(ValueError, match="LOGIT_SOFTCAP"):
        logit_softcap_from_env()

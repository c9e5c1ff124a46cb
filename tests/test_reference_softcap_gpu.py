"""The reference solutions of 06-softcap-gpu against autograd through the plain formula, gradcheck in float64,
low-precision dtypes, ignore_index, errors, memory, and random shapes with hypothesis."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from softcap_course.memory import peak_tensor_bytes
from solution_functions import load

ns = load("06-softcap-gpu")
softcap_cross_entropy = ns["softcap_cross_entropy"]
chunked = ns["chunked_linear_softcap_cross_entropy"]


def plain(logits, targets, cap, ignore_index=-100):
    return F.cross_entropy(cap * torch.tanh(logits / cap), targets, ignore_index=ignore_index)


def grads(loss_fn, *tensors):
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    loss = loss_fn(*leaves)
    loss.backward()
    return [loss.detach()] + [leaf.grad for leaf in leaves]


def assert_all_close(got, expected, rtol=1e-10, atol=1e-12):
    for g, e in zip(got, expected):
        torch.testing.assert_close(g.double(), e.double(), rtol=rtol, atol=atol)


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(6, 5, generator=gen, dtype=torch.float64) * 4).requires_grad_(True)
    t = torch.tensor([0, 4, -100, 2, 2, 1])
    assert torch.autograd.gradcheck(lambda z: softcap_cross_entropy(z, t, 2.0), (x,))
    h = torch.randn(9, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 4, -100, 2, 2, 1, 3, -100, 0])
    assert torch.autograd.gradcheck(lambda a, b: chunked(a, b, t, 1.5, chunk_size=4), (h, w))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 9), st.integers(1, 5), st.floats(0.2, 60.0), st.integers(1, 14),
       st.floats(0.1, 30.0), st.integers(0, 2 ** 31 - 1), st.sampled_from([-100, -1, 3]))
def test_random_shapes_match_autograd_through_the_plain_formula(n, v, d, cap, chunk, scale, seed, ignore):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, v, generator=gen, dtype=torch.float64) * scale
    t = torch.randint(0, v, (n,), generator=gen)
    t[torch.rand(n, generator=gen) < 0.3] = ignore
    t[0] = 0  # at least one valid target
    assert_all_close(grads(lambda z: softcap_cross_entropy(z, t, cap, ignore_index=ignore), x),
                     grads(lambda z: plain(z, t, cap, ignore), x))
    h = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w = torch.randn(v, d, generator=gen, dtype=torch.float64) * scale / 3
    assert_all_close(grads(lambda a, b: chunked(a, b, t, cap, chunk_size=chunk, ignore_index=ignore), h, w),
                     grads(lambda a, b: plain(a @ b.T, t, cap, ignore), h, w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_inputs_give_float32_loss_and_gradients_in_their_dtype(dtype):
    gen = torch.Generator().manual_seed(2)
    # Multiples of 1/8 with small D: the matmul is exact in every dtype, so float64 is an exact reference.
    h = (torch.randint(-8, 9, (20, 4), generator=gen) / 8.0).to(dtype)
    w = (torch.randint(-8, 9, (300, 4), generator=gen) / 8.0).to(dtype)
    t = torch.randint(0, 300, (20,), generator=gen)
    t[5] = -100
    ref = grads(lambda a, b: plain(a @ b.T, t, 30.0), h.double(), w.double())
    got = grads(lambda a, b: chunked(a, b, t, 30.0, chunk_size=6), h, w)
    assert got[0].dtype == torch.float32 and got[0].dim() == 0
    assert got[1].dtype == dtype and got[2].dtype == dtype
    torch.testing.assert_close(got[0].double(), ref[0], rtol=2e-6, atol=0)
    for g, e in zip(got[1:], ref[1:]):
        torch.testing.assert_close(g.double(), e, rtol=2 ** -6, atol=4e-3 * float(e.abs().max()))
    z = h.double() @ w.double().T
    ref = grads(lambda a: plain(a, t, 30.0), z)
    got = grads(lambda a: softcap_cross_entropy(a, t, 30.0), z.to(dtype))
    assert got[0].dtype == torch.float32 and got[1].dtype == dtype
    torch.testing.assert_close(got[0].double(), ref[0], rtol=2e-6, atol=0)
    torch.testing.assert_close(got[1].double(), ref[1], rtol=2 ** -6, atol=4e-3 * float(ref[1].abs().max()))


def test_float32_agrees_with_float64_to_float32_precision():
    gen = torch.Generator().manual_seed(3)
    h, w = torch.randn(64, 16, generator=gen), torch.randn(1000, 16, generator=gen)
    t = torch.randint(0, 1000, (64,), generator=gen)
    ref = grads(lambda a, b: plain(a @ b.T, t, 30.0), h.double(), w.double())
    assert_all_close(grads(lambda a, b: chunked(a, b, t, 30.0, chunk_size=20), h, w), ref, rtol=1e-4, atol=1e-6)


def test_no_grad_and_one_row_and_integer_cap():
    x = torch.tensor([3.0, -1.0, 40.0], dtype=torch.float64)
    expected = plain(x[None], torch.tensor([1]), 4.0)
    torch.testing.assert_close(softcap_cross_entropy(x, torch.tensor(1), 4), expected)
    with torch.no_grad():
        h, w = torch.randn(5, 2, requires_grad=True), torch.randn(3, 2, requires_grad=True)
        loss = chunked(h, w, torch.tensor([0, 1, 2, 0, 1]), 5.0, chunk_size=2)
    assert loss.grad_fn is None and loss.dtype == torch.float32


@pytest.mark.parametrize("bad_cap", [0.0, -1.0, math.inf, -math.inf, math.nan])
def test_bad_cap_raises(bad_cap):
    with pytest.raises(ValueError, match="cap"):
        softcap_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), bad_cap)
    with pytest.raises(ValueError, match="cap"):
        chunked(torch.zeros(2, 3), torch.zeros(4, 3), torch.tensor([0, 1]), bad_cap)


def test_bad_targets_shapes_and_chunk_sizes_raise():
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    for bad in (torch.tensor([0, 3]), torch.tensor([-1, 0]), torch.tensor([0.0, 1.0])):
        with pytest.raises(ValueError, match="target"):
            softcap_cross_entropy(x, bad, 1.0)
    with pytest.raises(ValueError, match="shape"):
        softcap_cross_entropy(x, torch.tensor([0]), 1.0)
    h, w = torch.zeros(2, 3), torch.zeros(4, 3)
    for bad_chunk in (0, -1):
        with pytest.raises(ValueError, match="chunk_size"):
            chunked(h, w, t, 1.0, chunk_size=bad_chunk)
    with pytest.raises(TypeError, match="chunk_size must be an integer"):
        chunked(h, w, t, 1.0, chunk_size=2.5)
    with pytest.raises(ValueError, match="shape"):
        chunked(h, torch.zeros(4, 2), t, 1.0)
    with pytest.raises(ValueError, match="target"):
        chunked(h, w, torch.tensor([0, 4]), 1.0)


def test_peak_memory_grows_with_chunk_size_not_with_n():
    def forward_backward(n, chunk_size):
        gen = torch.Generator().manual_seed(n)
        h = torch.randn(n, 8, generator=gen, requires_grad=True)
        w = torch.randn(512, 8, generator=gen, requires_grad=True)
        t = torch.randint(0, 512, (n,), generator=gen)
        return peak_tensor_bytes(lambda: chunked(h, w, t, 30.0, chunk_size=chunk_size).backward())[1]

    small, large = forward_backward(128, 64), forward_backward(2048, 64)
    logits_bytes = 2048 * 512 * 4
    assert large < logits_bytes / 4, (large, logits_bytes)
    # 16 times more rows: only the (N, D) gradient and the per-row vectors grow, not the chunk buffers.
    assert large - small < 2048 * 8 * 4 * 4
    assert forward_backward(512, 256) > 2 * forward_backward(512, 32)


def test_memory_tracker_sees_eager_logits_and_what_autograd_saves():
    h = torch.randn(512, 8, requires_grad=True)
    w = torch.randn(256, 8, requires_grad=True)
    t = torch.randint(0, 256, (512,))
    _, peak, largest = peak_tensor_bytes(lambda: plain(h @ w.T, t, 30.0).backward())
    assert largest >= 512 * 256 * 4 and peak >= 2 * 512 * 256 * 4

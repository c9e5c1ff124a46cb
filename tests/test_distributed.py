"""The process launcher of chapter 8: results rank by rank, errors and hangs reported, never a stuck test."""

import pytest
import torch
import torch.nn.functional as F

from softcap_course.distributed import run_on_ranks, run_vocab_parallel, shard_widths


def test_shard_widths_are_even_and_cover_the_vocabulary():
    assert shard_widths(10, 3) == [4, 3, 3]
    assert shard_widths(8, 4) == [2, 2, 2, 2]
    assert sum(shard_widths(262_144, 7)) == 262_144


def test_each_rank_returns_its_own_value_after_an_all_reduce():
    def rank_sum(rank, world):
        import torch.distributed as dist

        value = torch.tensor([float(rank + 1)])
        dist.all_reduce(value)
        return rank, world, float(value)

    assert run_on_ranks(rank_sum, 3) == [(0, 3, 6.0), (1, 3, 6.0), (2, 3, 6.0)]


def test_a_raising_rank_raises_the_same_builtin_error_with_its_rank():
    def picky(rank, world):
        if rank == 1:
            raise ValueError("cap must be positive")
        return rank

    with pytest.raises(ValueError, match="on rank 1 of 2: cap must be positive"):
        run_on_ranks(picky, 2)


def test_a_rank_that_skips_a_collective_is_reported_not_waited_for_forever():
    def unbalanced(rank, world):
        import torch.distributed as dist

        if rank == 0:
            dist.all_reduce(torch.ones(1))
        return rank

    with pytest.raises((TimeoutError, RuntimeError)):
        run_on_ranks(unbalanced, 2, timeout=3.0)


def test_vocab_parallel_run_hands_each_rank_its_columns_and_collects_the_gradients():
    # A stand-in "loss" that needs no communication: the sum of each shard times its vocab_start + 1. The gradient
    # of rank r's shard is then vocab_start + 1 everywhere, and the shards are the right columns.
    def local_only(local, targets, cap, vocab_start, group=None, ignore_index=-100):
        return (local * (vocab_start + 1)).sum()

    logits = torch.arange(20.0).reshape(2, 10)
    ranks = run_vocab_parallel(local_only, logits, [0, 1], 30.0, [3, 3, 4], grad_loss=2.0)
    assert [r.vocab_start for r in ranks] == [0, 3, 6]
    for r, (start, width) in zip(ranks, ((0, 3), (3, 3), (6, 4))):
        assert float(r.loss) == float(logits[:, start:start + width].sum() * (start + 1))
        assert torch.equal(r.grad, torch.full((2, width), 2.0 * (start + 1)))
    with pytest.raises(ValueError, match="add up"):
        run_vocab_parallel(local_only, logits, [0, 1], 30.0, [3, 3])


def test_replicas_get_groups_of_their_own():
    def group_sum(local, targets, cap, vocab_start, group=None, ignore_index=-100):
        import torch.distributed as dist

        total = local.detach().sum().reshape(1)
        dist.all_reduce(total, group=group)
        return total[0] + 0 * F.relu(local).sum()

    logits = torch.ones(1, 4)
    ranks = run_vocab_parallel(group_sum, logits, [0], 30.0, [2, 2], replicas=2)
    assert [float(r.loss) for r in ranks] == [4.0] * 4  # each group of 2 sums its own 4 ones, not all 8


def test_a_ranks_own_error_is_reported_before_its_partners_broken_connection():
    def raises_before_the_collective(rank, world):
        import torch.distributed as dist

        if rank == 1:
            raise ValueError("a target is out of range")
        dist.all_reduce(torch.ones(1))  # rank 0 waits for rank 1, which left: gloo raises a RuntimeError here

    with pytest.raises(ValueError, match="on rank 1 of 2: a target is out of range"):
        run_on_ranks(raises_before_the_collective, 2, timeout=10.0)


def test_an_unwritten_function_says_so_instead_of_an_empty_message():
    def blank(rank, world):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match=r"on rank 0 of 2: not written yet \(it raised NotImplementedError\)"):
        run_on_ranks(blank, 2, timeout=20.0)

    def silent(rank, world):
        raise KeyError()

    with pytest.raises(Exception, match="KeyError with no message"):
        run_on_ranks(silent, 1, timeout=20.0)


def _collectives(rank, world):
    """Every kind of collective once, on a tensor of 5 numbers (objects: a list of 100 floats); returns the count."""
    import pickle

    import torch.distributed as dist

    from softcap_course.distributed import count_collectives

    moved = count_collectives()
    x = torch.ones(5)
    dist.all_reduce(x)
    dist.broadcast(x, src=0)
    dist.all_gather([torch.empty(5) for _ in range(world)], x)
    dist.all_gather_into_tensor(torch.empty(5 * world), x)
    counts = {"reduce_and_gather": moved()}
    dist.all_gather_object([None] * world, [0.5] * 100)
    counts["object"] = moved() - counts["reduce_and_gather"]
    counts["pickled_numbers"] = len(pickle.dumps([0.5] * 100)) // 4
    return counts


def test_collectives_are_counted_in_the_numbers_they_carry():
    """An all-reduce or broadcast of 5 numbers carries 5; an all-gather, what it gathers (5 per rank); an object,
    its pickled size at 4 bytes a number, once per rank."""
    for counts in run_on_ranks(_collectives, 3):
        assert counts["reduce_and_gather"] == 5 + 5 + 15 + 15
        assert counts["object"] == 3 * counts["pickled_numbers"]


def test_a_gathered_vocabulary_is_counted_and_three_all_reduces_are_not_much():
    import torch.distributed as dist

    def three_all_reduces(local, targets, cap, vocab_start, group=None):
        stats = torch.zeros(3, local.shape[0])
        dist.all_reduce(stats[0].contiguous(), op=dist.ReduceOp.MAX, group=group)
        dist.all_reduce(stats[1].contiguous(), group=group)
        dist.all_reduce(stats[2].contiguous(), group=group)
        return local.sum() * 0

    def gathers(local, targets, cap, vocab_start, group=None):
        shards = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
        dist.all_gather(shards, local.detach(), group=group)
        return local.sum() * 0

    logits, targets = torch.zeros(4, 600), torch.zeros(4, dtype=torch.long)
    assert [r.moved for r in run_vocab_parallel(three_all_reduces, logits, targets, 30.0, [300, 300])] == [12, 12]
    assert [r.moved for r in run_vocab_parallel(gathers, logits, targets, 30.0, [300, 300])] == [2400, 2400]

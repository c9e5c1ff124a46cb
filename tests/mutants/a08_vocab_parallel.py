"""Mutant table of 08-vocab-parallel: how a vocabulary-parallel softcapped cross-entropy goes wrong across processes,
and correct versions written unlike the reference (per-shard log-sum-exps, all_gather, autograd through
differentiable collectives).

Wrong entries are the reference with one deliberate mistake (``mistakes``); the correct alternatives are written out.
The notebook's imports (``math``, ``torch``, ``dist``, ``F``) are all an entry may rely on.
"""

from mutants import mistakes, right, wrong

mistake = mistakes(globals(), "08-vocab-parallel", "vocab_parallel_softcap_cross_entropy")

mistake("local_max_only", "test_vocab_parallel_softcap_cross_entropy_values",
      "Shifts each rank's exponentials by its own row maximum and adds them up: sums taken against different "
      "shifts, right only when every rank's maximum is the same.",
      ("            dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=group)\n", ""),
      shows="each rank shifted by its own row maximum")
mistake("sum_not_reduced", "test_vocab_parallel_softcap_cross_entropy_values",
      "Never all-reduces the sums of exponentials: each rank's log-sum-exp covers its own columns only.",
      ("            dist.all_reduce(sum_exp, op=dist.ReduceOp.SUM, group=group)\n", ""),
      shows="log-sum-exp covers only its own columns")
mistake("target_logit_on_every_rank", "test_vocab_parallel_softcap_cross_entropy_values",
      "Takes s[target - vocab_start] on every rank, clamped into its columns, and adds them all up: the target's "
      "logit plus one stray logit from every other rank.",
      ("picked = torch.where(owned, capped.gather(1, safe_index[:, None])[:, 0], torch.zeros((), dtype=wide))",
       "picked = torch.where(valid, capped.gather(1, local_index.clamp(0, width - 1)[:, None])[:, 0], "
       "torch.zeros((), dtype=wide))"),
      shows="target's logit comes from every rank")
mistake("local_mean", "test_vocab_parallel_softcap_cross_entropy_values",
      "Divides by the number of targets this rank owns instead of every valid target: a local mean, different on "
      "every rank.",
      ("            count = valid.sum()\n", "            count = owned.sum()\n"),
      shows="divided by the number of targets in its own columns")
mistake("gradient_without_slope", "test_vocab_parallel_softcap_cross_entropy_grad",
      "Leaves out the softcap's slope 1 - (s / cap) ** 2 in backward.",
      ("            grad *= 1.0 - (capped / cap) ** 2\n", ""),
      shows="multiply by the softcap's slope")
mistake("onehot_at_global_index", "test_vocab_parallel_softcap_cross_entropy_grad",
      "Subtracts the onehot at the global target index on every rank (wrapped into the shard), not only on the "
      "rank that holds the target.",
      ("            grad[rows[owned], safe_index[owned]] -= 1.0\n",
       "            grad[rows[valid], (safe_index + vocab_start)[valid] % grad.shape[1]] -= 1.0\n"),
      shows="the onehot only where the target is yours")
mistake("local_lse_in_backward", "test_vocab_parallel_softcap_cross_entropy_grad",
      "Backward takes the softmax against its own shard's log-sum-exp instead of the global one the forward computed "
      "(the notebook's Drill 3): each rank's probabilities sum to 1 over its own columns.",
      ("            grad = torch.exp(capped - lse[:, None])\n",
       "            grad = torch.exp(capped - torch.logsumexp(capped, dim=1, keepdim=True))\n"),
      shows="GLOBAL log-sum-exp")
mistake("ignores_grad_loss", "test_vocab_parallel_softcap_cross_entropy_grad",
      "Does not multiply by the incoming gradient grad_loss.",
      ("grad * (grad_loss / count)", "grad / count"),
      shows="multiply by grad_loss")
mistake("ignored_rows_not_zeroed", "test_vocab_parallel_softcap_cross_entropy_ignore_index",
      "Leaves the softmax times the slope in the gradient of ignored rows.",
      ("            grad = torch.where(valid[:, None], grad * (grad_loss / count), 0.0)\n",
       "            grad = grad * (grad_loss / count)\n"),
      shows="zero gradient on every rank")
mistake("default_group", "test_vocab_parallel_softcap_cross_entropy_group",
      "Reduces over every process of the job (group=None) instead of the group it was given.",
      ("dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=group)", "dist.all_reduce(row_max, op=dist.ReduceOp.MAX)"),
      ("dist.all_reduce(sum_exp, op=dist.ReduceOp.SUM, group=group)", "dist.all_reduce(sum_exp, op=dist.ReduceOp.SUM)"),
      ("dist.all_reduce(target_and_owners, op=dist.ReduceOp.SUM, group=group)",
       "dist.all_reduce(target_and_owners, op=dist.ReduceOp.SUM)"),
      shows="pass group=group")
mistake("loss_in_shard_dtype", "test_vocab_parallel_softcap_cross_entropy_dtypes",
      "Computes the softcap and the loss in the shard's dtype: a bfloat16 loss.",
      ("wide = torch.float64 if local.dtype == torch.float64 else torch.float32", "wide = local.dtype"),
      shows="must give a float32 scalar loss")
mistake("no_shift", "test_vocab_parallel_softcap_cross_entropy_stability",
      "Sums exp(s) without any shift (and adds log of it): exp overflows float32 once capped logits pass 88.",
      ("            sum_exp = torch.exp(capped - row_max[:, None]).sum(dim=1)\n",
       "            sum_exp = torch.exp(capped).sum(dim=1)\n            row_max = torch.zeros_like(row_max)\n"),
      shows="shift by the global row maximum")
mistake("logits_gathered", "test_vocab_parallel_softcap_cross_entropy_communication",
      "Assembles the whole capped logits on every rank (an all-reduce of a zero-padded (N, V) tensor) and takes the "
      "row maxima from them: right values, but N * V numbers through the network instead of a few per row.",
      ("            row_max = capped.max(dim=1).values\n            dist.all_reduce(row_max, op=dist.ReduceOp.MAX, "
       "group=group)\n",
       "            vocab = torch.tensor([vocab_start + width])\n"
       "            dist.all_reduce(vocab, op=dist.ReduceOp.MAX, group=group)\n"
       "            whole = torch.zeros(capped.shape[0], int(vocab), dtype=wide)\n"
       "            whole[:, vocab_start:vocab_start + width] = capped\n"
       "            dist.all_reduce(whole, op=dist.ReduceOp.SUM, group=group)  # every rank now holds all the logits\n"
       "            row_max = whole.max(dim=1).values\n"),
      shows="never gather the logits")
mistake("out_of_range_unnoticed", "test_vocab_parallel_softcap_cross_entropy_errors",
      "Never checks that every valid target has an owner: a target >= V silently gets a target logit of 0.",
      ("            if bool((valid & (target_and_owners[1] == 0)).any()):",
       "            if False:"),
      shows="held by no rank")
mistake("no_cap_check", "test_vocab_parallel_softcap_cross_entropy_errors",
      "Accepts cap <= 0, inf and nan.",
      ("    if not (math.isfinite(cap) and cap > 0):", "    if False:"),
      shows="cap is positive and finite")


@right("vocab_parallel_softcap_cross_entropy")
def per_shard_log_sum_exps(local_logits, targets, cap, vocab_start, group=None, ignore_index=-100):
    """Cut Cross-Entropy's way: each rank's log-sum-exp of its shard, merged across ranks (MAX, then SUM of
    exp(lse_r - M)); the target logit and the owner count in one all-reduce; the gradient recomputed from the raw
    shard in backward; checks written differently."""
    if cap is None or isinstance(cap, bool) or not isinstance(cap, (int, float)):
        raise TypeError("cap must be a number")
    if not cap > 0 or cap == float("inf"):
        raise ValueError(f"bad cap {cap}")
    if not isinstance(vocab_start, int) or isinstance(vocab_start, bool) or vocab_start < 0:
        raise ValueError("vocab_start must be >= 0")
    if not torch.is_tensor(targets):
        targets = torch.tensor(targets)
    if torch.is_floating_point(targets):
        raise ValueError("targets must hold integer class indices")
    if local_logits.ndim != 2 or targets.ndim != 1 or len(targets) != len(local_logits):
        raise ValueError(f"bad shape {tuple(local_logits.shape)} / {tuple(targets.shape)}")
    targets = targets.to(torch.int64)
    n_local = local_logits.shape[1]

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = cap * torch.tanh(x.float() / cap)
            shard_lse = torch.logsumexp(s, dim=1)
            top = shard_lse.clone()
            dist.all_reduce(top, op=dist.ReduceOp.MAX, group=group)
            total = torch.exp(shard_lse - top)
            dist.all_reduce(total, group=group)
            lse = top + torch.log(total)
            mine = (targets >= vocab_start) & (targets < vocab_start + n_local) & (targets != ignore_index)
            column = (targets - vocab_start).clamp(0, n_local - 1)
            both = torch.zeros(2, len(targets))
            both[0] = torch.where(mine, s[torch.arange(len(targets)), column], 0.0)
            both[1] = mine.float()
            dist.all_reduce(both, group=group)
            keep = targets != ignore_index
            if (keep & (both[1] < 0.5)).any():
                raise ValueError("target index out of the vocabulary")
            ctx.save_for_backward(x, lse, column, mine, keep)
            n = keep.sum()
            return ((lse - both[0]) * keep).sum() / n

        @staticmethod
        def backward(ctx, g):
            x, lse, column, mine, keep = ctx.saved_tensors
            t = torch.tanh(x.float() / cap)
            p = torch.exp(cap * t - lse[:, None])
            p[torch.arange(len(column))[mine], column[mine]] -= 1
            n = keep.sum()
            out = p * (1 - t * t) * keep[:, None] * (g / n) if n > 0 else torch.zeros_like(p)
            return out.to(x.dtype)

    return Loss.apply(local_logits)


@right("vocab_parallel_softcap_cross_entropy")
def all_gather_then_autograd(local_logits, targets, cap, vocab_start, group=None, ignore_index=-100):
    """Plain autograd, with the communication kept out of the graph: each rank all-gathers the shards' log-sum-exps
    (detached) and the target logits' owners; the loss is written so that its gradient for the local shard is right
    (log-sum-exp's gradient is softmax against the global lse, added through a detached correction)."""
    import numbers
    if not isinstance(cap, numbers.Real) or isinstance(cap, bool):
        raise TypeError("cap must be real")
    if not math.isfinite(cap) or cap <= 0:
        raise ValueError("cap must be positive and finite")
    if not isinstance(vocab_start, numbers.Integral) or vocab_start < 0:
        raise ValueError("vocab_start: a non-negative integer")
    t = torch.as_tensor(targets)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError("integer targets expected")
    if local_logits.dim() != 2 or t.shape != (local_logits.shape[0],):
        raise ValueError("shape mismatch")
    t = t.long()
    world = dist.get_world_size(group)
    wide = torch.float64 if local_logits.dtype == torch.float64 else torch.float32
    s = cap * torch.tanh(local_logits.to(wide) / cap)
    local_lse = torch.logsumexp(s, dim=1)
    gathered = [torch.empty_like(local_lse) for _ in range(world)]
    dist.all_gather(gathered, local_lse.detach(), group=group)
    global_lse = torch.logsumexp(torch.stack(gathered), dim=0)
    # d global_lse / d s_j = exp(s_j - global_lse) = exp(local_lse - global_lse) * d local_lse / d s_j
    weight = torch.exp(local_lse.detach() - global_lse)
    lse_term = global_lse + weight * (local_lse - local_lse.detach())
    index = t - vocab_start
    mine = (index >= 0) & (index < s.shape[1]) & (t != ignore_index)
    target_s = torch.where(mine, s.gather(1, index.clamp(0, s.shape[1] - 1)[:, None])[:, 0], 0.0)
    reduced = torch.stack([target_s.detach(), mine.to(wide)])
    dist.all_reduce(reduced, group=group)
    valid = t != ignore_index
    if bool((valid & (reduced[1] == 0)).any()):
        raise ValueError("a target is in no shard")
    target_term = reduced[0] + (target_s - target_s.detach())
    rows = torch.where(valid, lse_term - target_term, torch.zeros((), dtype=wide))
    return rows.sum() / valid.sum()


@right("vocab_parallel_softcap_cross_entropy")
def two_all_reduces_float64(local_logits, targets, cap, vocab_start, group=None, ignore_index=-100):
    """Computes in float64 whatever the dtype (then returns a float32 loss), packs the row maxima and the target
    logits into one MAX all-reduce (a target logit is at least -cap, so absent ones are sent as -inf) and the sums of
    exponentials into one SUM: two collectives instead of three."""
    import numbers
    if not isinstance(cap, numbers.Real) or isinstance(cap, bool):
        raise TypeError("cap: not a real number")
    if not (0 < cap < math.inf):
        raise ValueError(f"cap={cap!r} is not a positive finite number")
    if not isinstance(vocab_start, int) or vocab_start < 0:
        raise ValueError("vocab_start must be a non-negative int")
    labels = torch.as_tensor(targets)
    if labels.is_floating_point():
        raise ValueError("targets: integer indices needed")
    if local_logits.dim() != 2 or labels.dim() != 1 or labels.numel() != local_logits.shape[0]:
        raise ValueError("the shape of targets must be (N,) for local_logits (N, V_local)")
    labels = labels.long()
    width = local_logits.shape[1]
    valid = labels != ignore_index
    inside = valid & (labels >= vocab_start) & (labels < vocab_start + width)

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = cap * torch.tanh(x.double() / cap)
            col = (labels - vocab_start).clamp(0, width - 1)
            mine = torch.where(inside, s[torch.arange(len(labels)), col], torch.tensor(-math.inf, dtype=torch.float64))
            packed = torch.stack([s.max(1).values, mine])
            dist.all_reduce(packed, op=dist.ReduceOp.MAX, group=group)
            top, target_logit = packed[0], packed[1]
            if bool((valid & torch.isinf(target_logit)).any()):
                raise ValueError("target outside the vocabulary")
            denom = torch.exp(s - top[:, None]).sum(1)
            dist.all_reduce(denom, group=group)
            lse = top + denom.log()
            ctx.save_for_backward(s, lse, col)
            ctx.dtype = x.dtype
            per_row = torch.where(valid, lse - target_logit, torch.zeros_like(lse))
            return (per_row.sum() / valid.sum()).float()

        @staticmethod
        def backward(ctx, g):
            s, lse, col = ctx.saved_tensors
            grad = torch.exp(s - lse[:, None])
            hit = torch.zeros_like(grad)
            hit[torch.arange(len(col))[inside], col[inside]] = 1.0
            grad = (grad - hit) * (1 - (s / cap) ** 2) * valid[:, None] * (g.double() / valid.sum())
            return torch.nan_to_num(grad, nan=0.0).to(ctx.dtype)

    return Fn.apply(local_logits)


@wrong("vocab_parallel_softcap_cross_entropy", caught_by="test_vocab_parallel_softcap_cross_entropy_grad",
       shows="times too large, the number of ranks")
def differentiable_all_reduce_counts_the_loss_on_every_rank(local_logits, targets, cap, vocab_start, group=None,
                                                            ignore_index=-100):
    """Plain autograd through torch.distributed.nn's differentiable all_reduce: its backward sums the gradient
    over the ranks, as if each rank's copy of the loss were a different term, so every rank's gradient is P times
    too large (right on one process only)."""
    from torch.distributed.nn.functional import all_reduce as differentiable_all_reduce
    if not isinstance(cap, (int, float)) or not math.isfinite(cap) or cap <= 0:
        raise ValueError("cap must be positive and finite")
    labels = torch.as_tensor(targets)
    if labels.is_floating_point():
        raise ValueError("integer targets expected")
    if local_logits.dim() != 2 or labels.shape != (local_logits.shape[0],):
        raise ValueError("shape mismatch")
    s = cap * torch.tanh(local_logits.float() / cap)
    top = s.max(1).values.detach().clone()
    dist.all_reduce(top, op=dist.ReduceOp.MAX, group=group)
    total = differentiable_all_reduce(torch.exp(s - top[:, None]).sum(1), group=group)
    index = labels - vocab_start
    mine = (index >= 0) & (index < s.shape[1]) & (labels != ignore_index)
    picked = torch.where(mine, s.gather(1, index.clamp(0, s.shape[1] - 1)[:, None])[:, 0], torch.zeros(()))
    target_logit = differentiable_all_reduce(picked, group=group)
    valid = labels != ignore_index
    owners = mine.float()
    dist.all_reduce(owners, group=group)
    if bool((valid & (owners == 0)).any()):
        raise ValueError("target out of range")
    rows = torch.where(valid, top + torch.log(total) - target_logit, torch.zeros(()))
    return rows.sum() / valid.sum()

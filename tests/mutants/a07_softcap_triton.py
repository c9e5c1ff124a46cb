"""Mutant table of 07-softcap-triton: how a softcapped cross-entropy kernel and the autograd Function around it go
wrong in Triton, and correct versions written unlike the reference.

Wrong kernels are the reference with one deliberate mistake (``mistakes``); the correct kernels are written out as
source (a ``@triton.jit`` function cannot be defined here without Triton's interpreter), the correct wrappers as
functions. A kernel's mistake also fails the wrapper's tests, which launch it: ``DEPENDENTS`` says so.
The notebook's imports (``math``, ``os``, ``torch``, ``F``, ``triton``, ``tl``) are all an entry may rely on.
"""

from mutants import mistakes, right, right_source, right_variant

# A wrong kernel may also cost the tests of the function that launches it.
DEPENDENTS = {"softcap_cross_entropy_kernel": ("triton_softcap_cross_entropy",)}

# ---------------------------------------------------------------- softcap_cross_entropy_kernel: wrong

wrong_kernel = mistakes(globals(), "07-softcap-triton", "softcap_cross_entropy_kernel")

wrong_kernel("no_online_rescaling", "test_softcap_cross_entropy_kernel_blocks",
             "Adds each block's exp(s - m') to a running sum taken against the old maximum, without rescaling it by "
             "exp(m - m'): right while the maximum stays in the first block, wrong as soon as a later block raises it.",
             ("running_sum = running_sum * tl.exp(running_max - next_max) + ", "running_sum = running_sum + "),
             shows="multiply the running sum by exp(m - m')")
wrong_kernel("shift_by_cap", "test_softcap_cross_entropy_kernel_values",
             "Shifts the exponentials by the cap, a bound of every capped logit, instead of the row's maximum: no "
             "overflow, but exp(s - cap) underflows to 0 when a whole row lies far below the cap.",
             ("next_max = tl.maximum(running_max, tl.max(s, axis=0))", "next_max = tl.maximum(running_max, cap)"),
             shows="not by a constant such as cap")
wrong_kernel("slope_of_raw_logits", "test_softcap_cross_entropy_kernel_grad",
             "Multiplies by 1 - tanh(x) ** 2, the slope of tanh(x), instead of the softcap's 1 - tanh(x / cap) ** 2.",
             ("        grad = (probability - tl.where(cols == target, 1.0, 0.0)) * (1.0 - t * t) * grad_scale",
              "        raw_t = 1.0 - 2.0 / (tl.exp(2.0 * x) + 1.0)\n"
              "        grad = (probability - tl.where(cols == target, 1.0, 0.0)) * (1.0 - raw_t * raw_t) * grad_scale"),
             shows="tanh(x / cap) (not tanh(x))")
wrong_kernel("last_partial_block_dropped", "test_softcap_cross_entropy_kernel_values",
             "Loops over whole blocks only (n_cols // BLOCK_SIZE of them) in the first pass: the columns of a last, "
             "partial block, and a row shorter than one block, never reach the log-sum-exp.",
             ("    for start in range(0, n_cols, BLOCK_SIZE):\n        cols = start + tl.arange(0, BLOCK_SIZE)\n"
              "        x = tl.load(row_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)\n"
              "        # tanh",
              "    for start in range(0, n_cols - BLOCK_SIZE + 1, BLOCK_SIZE):\n"
              "        cols = start + tl.arange(0, BLOCK_SIZE)\n"
              "        x = tl.load(row_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)\n"
              "        # tanh"),
             shows="a row shorter than one block")
wrong_kernel("padding_counted", "test_softcap_cross_entropy_kernel_values",
             "Loads the columns past the row's end as 0 and leaves them in the sum: each adds exp(0 - m) to it.",
             ("        s = tl.where(cols < n_cols, s, -float(\"inf\"))  # columns past the row's end add exp(-inf) = 0\n",
              ""),
             shows="columns past n_cols must add nothing")
wrong_kernel("padding_loaded_as_minus_inf", "test_softcap_cross_entropy_kernel_values",
             "Loads the columns past the row's end as -inf and leaves out the tl.where after the softcap (the notebook's "
             "Drill 2): the softcap maps -inf to -cap, so each padding column still adds exp(-cap - m) to the sum.",
             ("        x = tl.load(row_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)\n        # tanh",
              "        x = tl.load(row_ptr + cols, mask=cols < n_cols, other=-float(\"inf\")).to(tl.float32)\n        # tanh"),
             ("        s = tl.where(cols < n_cols, s, -float(\"inf\"))  # columns past the row's end add exp(-inf) = 0\n",
              ""),
             shows="a -inf loaded there is capped to -cap")
wrong_kernel("exponentials_never_shifted", "test_softcap_cross_entropy_kernel_saturated",
             "Sums exp(s) of the capped logits directly, without the running maximum: fine while the cap keeps exp(cap) "
             "inside float32, inf as soon as a capped logit passes 88.7.",
             ("running_sum = running_sum * tl.exp(running_max - next_max) + tl.sum(tl.exp(s - next_max), axis=0)",
              "running_sum = running_sum + tl.sum(tl.exp(s), axis=0)"),
             ("    lse = running_max + tl.log(running_sum)", "    lse = tl.log(running_sum)"),
             shows="shift every exponential by the running maximum")
# Run in the interpreter, refused by the GPU compiler: each loses the compile test's point and nothing else.
BLOCK_LOOP = ("        cols = start + tl.arange(0, BLOCK_SIZE)\n"
              "        x = tl.load(row_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)\n        # tanh")
wrong_kernel("sum_started_as_int", "test_softcap_cross_entropy_kernel_compiles",
             "Starts the running sum as the int 0: the interpreter adds floats to it, the GPU compiler refuses a "
             "loop-carried variable whose type changes from int32 to fp32.",
             ("    running_sum = 0.0\n", "    running_sum = 0\n"),
             shows="start a float accumulator as a float")
wrong_kernel("break_in_block_loop", "test_softcap_cross_entropy_kernel_compiles",
             "Leaves the block loop with break once past the row's end (it never is): fine in the interpreter, "
             "'unsupported AST node type: Break' for the GPU compiler.",
             (BLOCK_LOOP, "        if start >= n_cols:\n            break\n" + BLOCK_LOOP),
             shows="has no break")
wrong_kernel("return_in_block_loop", "test_softcap_cross_entropy_kernel_compiles",
             "Returns from inside the block loop once past the row's end (it never is): fine in the interpreter, "
             "the GPU compiler cannot have a return inside a for.",
             (BLOCK_LOOP, "        if start >= n_cols:\n            return\n" + BLOCK_LOOP),
             shows="a return inside a for loop")
wrong_kernel("grad_scale_ignored", "test_softcap_cross_entropy_kernel_grad",
             "Writes softmax - onehot times the slope without grad_scale: the gradient of the sum, not of the mean.",
             ("* (1.0 - t * t) * grad_scale", "* (1.0 - t * t)"),
             shows="write grad_scale *")
wrong_kernel("ignored_rows_computed", "test_softcap_cross_entropy_kernel_ignored_rows",
             "Never compares the target with ignore_index: an ignored row gets a loss and a gradient (its target "
             "never matches a column, so it is softmax * slope).",
             ("    if target == ignore_index:  # an ignored row: no loss, and a zero gradient",
              "    if False:"),
             shows="ignore_index has loss 0")
wrong_kernel("rows_assumed_contiguous", "test_softcap_cross_entropy_kernel_layout_and_dtypes",
             "Addresses row r at logits_ptr + r * n_cols, ignoring row_stride: wrong for rows stored further apart.",
             ("row_ptr = logits_ptr + row * row_stride", "row_ptr = logits_ptr + row * n_cols"),
             shows="r * row_stride")
wrong_kernel("tanh_as_ratio", "test_softcap_cross_entropy_kernel_saturated",
             "Writes tanh(z) as (exp(2z) - 1) / (exp(2z) + 1): inf / inf = NaN as soon as exp(2z) overflows.",
             ("        s = cap * (1.0 - 2.0 / (tl.exp(2.0 * x / cap) + 1.0))",
              "        s = cap * (tl.exp(2.0 * x / cap) - 1.0) / (tl.exp(2.0 * x / cap) + 1.0)"),
             ("        t = 1.0 - 2.0 / (tl.exp(2.0 * x / cap) + 1.0)\n        probability",
              "        t = (tl.exp(2.0 * x / cap) - 1.0) / (tl.exp(2.0 * x / cap) + 1.0)\n        probability"),
             shows="never divides inf by inf")
wrong_kernel("target_logit_not_capped", "test_softcap_cross_entropy_kernel_values",
             "Subtracts the raw logit of the target, x[target], instead of its capped value s[target].",
             ("        target_logit += tl.sum(tl.where(cols == target, s, 0.0), axis=0)",
              "        target_logit += tl.sum(tl.where(cols == target, x, 0.0), axis=0)"),
             shows="target's capped logit")
wrong_kernel("gradient_from_block_max", "test_softcap_cross_entropy_kernel_blocks",
             "Writes each block's gradient in the first pass, against the running log-sum-exp so far: the softmax "
             "of the early blocks uses a denominator that is not yet the row's.",
             ("        target_logit += tl.sum(tl.where(cols == target, s, 0.0), axis=0)\n",
              "        target_logit += tl.sum(tl.where(cols == target, s, 0.0), axis=0)\n"
              "        partial_lse = running_max + tl.log(running_sum)\n"
              "        early = (tl.exp(s - partial_lse) - tl.where(cols == target, 1.0, 0.0)) * (1.0 - (s / cap) * (s / cap))\n"
              "        tl.store(row_ptr + cols, early * grad_scale, mask=cols < n_cols)\n"),
             ("    # Pass 2: with the row's log-sum-exp known, each block's gradient is written over the logits it came from.\n"
              "    for start in range(0, n_cols, BLOCK_SIZE):",
              "    for start in range(0, 0, BLOCK_SIZE):"),
             shows="final log-sum-exp of the whole row")

# ---------------------------------------------------------------- softcap_cross_entropy_kernel: right

right_source(globals(), "softcap_cross_entropy_kernel", "three_passes",
             "Three passes instead of an online log-sum-exp: the row's maximum, then the sum of exp(s - max), then "
             "the gradient; tanh as 2 * sigmoid(2z) - 1; the target's logit loaded directly.", r'''
@triton.jit
def softcap_cross_entropy_kernel(logits_ptr, row_stride, targets_ptr, losses_ptr, n_cols, cap, grad_scale,
                                 ignore_index, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(0)
    base = logits_ptr + pid.to(tl.int64) * row_stride
    label = tl.load(targets_ptr + pid)
    keep = label != ignore_index
    offsets = tl.arange(0, BLOCK_SIZE)
    row_max = -float("inf")
    for first in range(0, n_cols, BLOCK_SIZE):
        idx = first + offsets
        z = tl.load(base + idx, mask=idx < n_cols, other=-float("inf")).to(tl.float32) / cap
        capped = cap * (2.0 * tl.sigmoid(2.0 * z) - 1.0)
        row_max = tl.maximum(row_max, tl.max(tl.where(idx < n_cols, capped, -float("inf")), axis=0))
    total = 0.0
    for first in range(0, n_cols, BLOCK_SIZE):
        idx = first + offsets
        z = tl.load(base + idx, mask=idx < n_cols, other=0.0).to(tl.float32) / cap
        capped = cap * (2.0 * tl.sigmoid(2.0 * z) - 1.0)
        total += tl.sum(tl.where(idx < n_cols, tl.exp(capped - row_max), 0.0), axis=0)
    safe_label = tl.where(keep, label, 0)
    z_target = tl.load(base + safe_label).to(tl.float32) / cap
    target_capped = cap * (2.0 * tl.sigmoid(2.0 * z_target) - 1.0)
    loss = row_max + tl.log(total) - target_capped
    tl.store(losses_ptr + pid, tl.where(keep, loss, 0.0))
    scale = tl.where(keep, grad_scale, 0.0)
    for first in range(0, n_cols, BLOCK_SIZE):
        idx = first + offsets
        z = tl.load(base + idx, mask=idx < n_cols, other=0.0).to(tl.float32) / cap
        th = 2.0 * tl.sigmoid(2.0 * z) - 1.0
        p = tl.exp(cap * th - row_max) / total
        g = (p - (idx == label).to(tl.float32)) * (1.0 - th * th) * scale
        tl.store(base + idx, g, mask=idx < n_cols)
''')

right_source(globals(), "softcap_cross_entropy_kernel", "exp2_vector_accumulators",
             "Flash-attention style: a vector of per-lane running maxima and sums (reduced once at the end), "
             "exponentials in base 2 (exp2 of log2(e) times the argument), tanh from exp(-2|z|) with the sign put "
             "back, and the ignored row handled by a zero scale instead of an early return.", r'''
@triton.jit
def softcap_cross_entropy_kernel(logits_ptr, row_stride, targets_ptr, losses_ptr, n_cols, cap, grad_scale,
                                 ignore_index, BLOCK_SIZE: tl.constexpr):
    LOG2E: tl.constexpr = 1.4426950408889634
    r = tl.program_id(0).to(tl.int64)
    ptr = logits_ptr + r * row_stride
    y = tl.load(targets_ptr + r)
    lanes = tl.arange(0, BLOCK_SIZE)
    m = tl.full([BLOCK_SIZE], -float("inf"), tl.float32)
    acc = tl.zeros([BLOCK_SIZE], tl.float32)
    picked = tl.zeros([BLOCK_SIZE], tl.float32)
    for off in range(0, n_cols, BLOCK_SIZE):
        c = off + lanes
        v = tl.load(ptr + c, mask=c < n_cols, other=0.0).to(tl.float32)
        e = tl.exp2(-2.0 * LOG2E * tl.abs(v) / cap)
        th = (1.0 - e) / (1.0 + e)
        th = tl.where(v < 0, -th, th)
        sv = tl.where(c < n_cols, cap * th, -float("inf"))
        m_new = tl.maximum(m, sv)
        # lanes that have seen nothing yet keep m = -inf: their sum stays 0 (exp2 of -inf)
        acc = tl.where(m_new == -float("inf"), 0.0, acc * tl.exp2((m - m_new) * LOG2E) + tl.exp2((sv - m_new) * LOG2E))
        m = m_new
        picked += tl.where(c == y, sv, 0.0)
    big = tl.max(m, axis=0)
    total = tl.sum(tl.where(m == -float("inf"), 0.0, acc * tl.exp2((m - big) * LOG2E)), axis=0)
    lse = big + tl.log2(total) / LOG2E
    live = y != ignore_index
    tl.store(losses_ptr + r, tl.where(live, lse - tl.sum(picked, axis=0), 0.0))
    factor = tl.where(live, grad_scale, 0.0)
    for off in range(0, n_cols, BLOCK_SIZE):
        c = off + lanes
        v = tl.load(ptr + c, mask=c < n_cols, other=0.0).to(tl.float32)
        e = tl.exp2(-2.0 * LOG2E * tl.abs(v) / cap)
        th = (1.0 - e) / (1.0 + e)
        th = tl.where(v < 0, -th, th)
        prob = tl.exp2((cap * th - lse) * LOG2E)
        out = tl.where(c == y, prob - 1.0, prob) * (1.0 - th) * (1.0 + th) * factor
        tl.store(ptr + c, out, mask=c < n_cols)
''')

# ---------------------------------------------------------------- triton_softcap_cross_entropy: wrong

wrong_wrapper = mistakes(globals(), "07-softcap-triton", "triton_softcap_cross_entropy")

wrong_wrapper("gradient_not_averaged", "test_triton_softcap_cross_entropy_grad",
              "Launches the kernel with grad_scale = 1: the gradient of the sum of the row losses, not of their mean.",
              ("1.0 / max(n_valid, 1), ignore_index", "1.0, ignore_index"),
              shows="grad_scale = 1 / (number of valid targets)")
wrong_wrapper("mean_over_all_rows", "test_triton_softcap_cross_entropy_ignore_index",
              "Counts every row, ignored ones included, in the mean and in grad_scale.",
              ("n_valid = int((targets != ignore_index).sum())", "n_valid = n_rows"),
              shows="do not count in the mean")
wrong_wrapper("ignores_grad_loss", "test_triton_softcap_cross_entropy_grad",
              "Returns the kernel's gradient from backward without multiplying it by the incoming grad_loss.",
              ("return grad * grad_loss.to(grad.dtype), None", "return grad, None"),
              shows="returns grad_loss times the saved gradient")
wrong_wrapper("overwrites_callers_logits", "test_triton_softcap_cross_entropy_inputs",
              "Hands the kernel the caller's own logits (when they are contiguous): the caller's tensor ends up "
              "holding the gradient.",
              ("grad = raw.detach().clone(memory_format=torch.contiguous_format)", "grad = raw.detach().contiguous()"),
              shows="changed the logits it was given")
wrong_wrapper("strides_kept", "test_triton_softcap_cross_entropy_inputs",
              "Copies the logits with clone(), which keeps a transposed tensor's strides: the kernel then reads each "
              "row's entries as if they were next to each other in memory.",
              ("raw.detach().clone(memory_format=torch.contiguous_format)", "raw.detach().clone()"),
              shows="contiguous")
wrong_wrapper("loss_in_logits_dtype", "test_triton_softcap_cross_entropy_dtypes",
              "Keeps the row losses in the logits' dtype: a bfloat16 loss.",
              ("losses = torch.empty(n_rows, dtype=torch.float32, device=raw.device)",
               "losses = torch.empty(n_rows, dtype=raw.dtype, device=raw.device)"),
              shows="must give a float32 scalar loss")
wrong_wrapper("float32_gradient_buffer", "test_triton_softcap_cross_entropy_memory",
              "Gives the kernel a float32 buffer and converts the gradient to the logits' dtype in backward: right "
              "values, but for bfloat16 logits twice their size in the buffer plus a converted copy.",
              ("grad = raw.detach().clone(memory_format=torch.contiguous_format)",
               "grad = raw.detach().to(torch.float32, memory_format=torch.contiguous_format, copy=True)"),
              ("return grad * grad_loss.to(grad.dtype), None", "return (grad * grad_loss).to(ctx.raw_dtype), None"),
              ("ctx.save_for_backward(grad)", "ctx.save_for_backward(grad)\n            ctx.raw_dtype = raw.dtype"),
              shows="in the logits' dtype (not float32)")
wrong_wrapper("all_ignored_gives_zero", "test_triton_softcap_cross_entropy_ignore_index",
              "Divides by max(n_valid, 1): with every target ignored the loss is 0 instead of 0 / 0 = NaN.",
              ("return losses.sum() / n_valid  #", "return losses.sum() / max(n_valid, 1)  #"),
              shows="0 / 0 = NaN")
wrong_wrapper("no_cap_check", "test_triton_softcap_cross_entropy_errors",
              "Accepts cap <= 0, inf and nan, and returns nonsense instead of raising.",
              ("if not (math.isfinite(cap) and cap > 0):", "if False:"),
              shows="cap is positive and finite")
wrong_wrapper("negative_targets_accepted", "test_triton_softcap_cross_entropy_errors",
              "Checks only targets >= V: a target of -1 makes the kernel read before the row.",
              ("((targets < 0) | (targets >= n_cols))", "(targets >= n_cols)"),
              shows="negative indices must not wrap around")

# ---------------------------------------------------------------- triton_softcap_cross_entropy: right


@right("triton_softcap_cross_entropy")
def backward_scales_by_count(logits, targets, cap, ignore_index=-100):
    """Launches the kernel with grad_scale = 1 (the gradient of the sum) and divides by the valid count in backward;
    the buffer made with empty_like + copy_; errors checked in another order; targets as int64 via .to()."""
    if cap is None or isinstance(cap, bool) or not isinstance(cap, (int, float)):
        raise TypeError("cap must be a number")
    if cap != cap or cap <= 0 or cap == float("inf"):
        raise ValueError("cap must be positive and finite")
    if not torch.is_tensor(targets):
        targets = torch.tensor(targets)
    if torch.is_floating_point(targets):
        raise ValueError("targets must be integer class indices")
    if logits.ndim != 2 or targets.ndim != 1 or len(targets) != len(logits):
        raise ValueError(f"bad shape: {tuple(logits.shape)} and {tuple(targets.shape)}")
    vocab = logits.shape[-1]
    valid = targets != ignore_index
    if ((targets[valid] < 0) | (targets[valid] >= vocab)).any():
        raise ValueError("target index out of range")
    labels = targets.to(device=logits.device, dtype=torch.int64).contiguous()
    count = valid.sum().item()

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            buf = torch.empty_like(x, memory_format=torch.contiguous_format)
            buf.copy_(x)
            rows = torch.zeros(x.shape[0], dtype=torch.float32, device=x.device)
            softcap_cross_entropy_kernel[(x.shape[0],)](buf, buf.stride(0), labels, rows, vocab, float(cap), 1.0,
                                                        ignore_index, BLOCK_SIZE=triton.next_power_of_2(vocab))
            ctx.save_for_backward(buf)
            return rows.sum() / count if count else rows.sum() * float("nan")

        @staticmethod
        def backward(ctx, g):
            (buf,) = ctx.saved_tensors
            if count == 0:
                return torch.zeros_like(buf)
            return buf.mul_(g / count)  # in place, as Liger does: the buffer is ours

    return Loss.apply(logits)


right_variant(globals(), "triton_softcap_cross_entropy", "fixed_block_of_64", "backward_scales_by_count",
              "The same wrapper with a fixed BLOCK_SIZE of 64, smaller than most rows: the kernel loops over blocks.",
              ("BLOCK_SIZE=triton.next_power_of_2(vocab)", "BLOCK_SIZE=64"))


@right("triton_softcap_cross_entropy")
def contiguous_then_clone(logits, targets, cap, ignore_index=-100):
    """Builds the buffer with .contiguous() and, only when that returned the caller's tensor, .clone(); counts
    the valid targets on the device and divides by that tensor; returns the gradient in place in backward."""
    import numbers
    if not isinstance(cap, numbers.Real) or isinstance(cap, bool):
        raise TypeError("cap: a real number is needed")
    if not math.isfinite(cap) or cap <= 0:
        raise ValueError(f"cap={cap}: must be finite and > 0")
    t = torch.as_tensor(targets, device=logits.device)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError("targets: integer class indices expected")
    if logits.dim() != 2 or t.shape != (logits.shape[0],):
        raise ValueError("shape of logits (N, V) and targets (N,) do not match")
    out_of_range = (t != ignore_index) & ((t < 0) | (t >= logits.shape[1]))
    if out_of_range.any():
        raise ValueError(f"target out of range: {t[out_of_range][:3].tolist()}")
    t = t.long()
    n_valid = (t != ignore_index).sum()

    class KernelLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, labels):
            work = x.detach().contiguous()
            if work.data_ptr() == x.data_ptr():
                work = work.clone()
            losses = torch.empty(x.shape[0], device=x.device, dtype=torch.float32)
            scale = 1.0 / n_valid.item() if n_valid.item() > 0 else 0.0
            softcap_cross_entropy_kernel[(x.shape[0],)](work, work.stride(0), labels, losses, x.shape[1], cap, scale,
                                                        ignore_index, BLOCK_SIZE=min(1024, triton.next_power_of_2(x.shape[1])))
            ctx.save_for_backward(work)
            return losses.sum() / n_valid.to(torch.float32)

        @staticmethod
        def backward(ctx, grad_out):
            (work,) = ctx.saved_tensors
            if not torch.equal(grad_out, torch.ones_like(grad_out)):
                work.mul_(grad_out.to(work.dtype))
            return work, None

    return KernelLoss.apply(logits, t)

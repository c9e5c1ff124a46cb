"""Several CPU processes on ``torch.distributed``'s gloo backend, for chapter 8's vocabulary-parallel loss.

``run_on_ranks(function, world_size)`` calls ``function(rank, world_size)`` in that many processes, forked from this
one (so a function defined in a notebook is there too) and joined in a gloo process group over the loopback interface
(no GPU, no network), and returns what each returned. ``run_vocab_parallel(function, logits, targets, cap, widths)``
splits the ``(N, V)`` logits by columns into shards of the given widths, one process per shard, and calls on every rank

    loss = function(local_logits, targets, cap, vocab_start, [group=...,] [ignore_index=...])

with ``local_logits`` a leaf tensor that requires grad, then ``(loss * grad_loss).backward()``. It returns, rank by
rank, the loss and the gradient of that rank's shard, for the caller to compare with a single-process reference.
``replicas=2`` runs two independent copies of the problem side by side (twice the processes), each copy in a process
group of its own passed as ``group=``: a function that ignores ``group`` and talks to every process gets it wrong.

A rank that raises makes the call raise the same built-in exception class, with the rank in the message; a rank
that hangs (a collective the other ranks never join) is stopped after ``timeout`` seconds with a message that says so.
What the processes print goes nowhere (nbgrader scores a test cell 0 for any stderr output).

Inside the grader's verification, ``function`` is a proxy of the sandboxed worker's: the whole run then happens in
the worker, on the student's real function, and only data comes back.
"""

import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass

from softcap_course.raised import raised_class, raised_reply

__all__ = ["RankResult", "run_on_ranks", "run_vocab_parallel", "shard_widths"]


@dataclass
class RankResult:
    rank: int
    replica: int
    vocab_start: int
    loss: object  # the loss tensor this rank returned (detached), or whatever else it returned
    grad: object  # the gradient of this rank's shard (None if the loss did not reach it)
    moved: int = 0  # numbers this rank's collectives carried, forward and backward (see count_collectives)


def shard_widths(vocab, ranks):
    """Widths of ``ranks`` shards of ``vocab`` columns, as even as possible (the first ones one wider)."""
    return [vocab // ranks + (1 if r < vocab % ranks else 0) for r in range(ranks)]


# What each collective carries, in numbers (tensor elements), from its arguments: an all-reduce carries its tensor, an
# all-gather what it gathers, a point-to-point call what it sends or receives. An object collective carries its
# pickled bytes, counted at 4 bytes a number.
def _numel(tensor):
    return int(tensor.numel()) if hasattr(tensor, "numel") else 0


def _total(tensors):
    return sum(_numel(t) for t in (tensors or ()))


def _pickled(objects):
    return sum(len(pickle.dumps(o)) // 4 for o in (objects or ()) if o is not None)


def _ops(operations):
    return sum(_numel(op.tensor) for op in operations or ())


# collective -> (position of the argument that says what it carries, that argument's keyword, how many numbers it
# holds, position of the group argument when every rank's copy counts (gather, all_gather_object), else None).
_CARRIED = {
    "all_reduce": (0, "tensor", _numel, None),
    "reduce": (0, "tensor", _numel, None),
    "broadcast": (0, "tensor", _numel, None),
    "send": (0, "tensor", _numel, None),
    "recv": (0, "tensor", _numel, None),
    "isend": (0, "tensor", _numel, None),
    "irecv": (0, "tensor", _numel, None),
    "all_gather": (0, "tensor_list", _total, None),
    "all_gather_into_tensor": (0, "output_tensor", _numel, None),
    "reduce_scatter": (1, "input_list", _total, None),
    "reduce_scatter_tensor": (1, "input", _numel, None),
    "all_to_all": (1, "input_tensor_list", _total, None),
    "all_to_all_single": (1, "input", _numel, None),
    "gather": (0, "tensor", _numel, 3),
    "scatter": (0, "tensor", _numel, 3),
    "batch_isend_irecv": (0, "p2p_op_list", _ops, None),
    "all_gather_object": (1, "obj", lambda obj: _pickled([obj]), 2),
    "broadcast_object_list": (0, "object_list", _pickled, None),
    "gather_object": (0, "obj", lambda obj: _pickled([obj]), 3),
    "scatter_object_list": (1, "scatter_object_input_list", _pickled, None),
}


def _carried(name, args, kwargs):
    """How many numbers the call ``name(*args, **kwargs)`` of a collective carries."""
    import torch.distributed as dist

    index, keyword, measure, group_index = _CARRIED[name]
    numbers = measure(args[index] if len(args) > index else kwargs.get(keyword))
    if group_index is not None:
        numbers *= dist.get_world_size(kwargs.get("group", args[group_index] if len(args) > group_index else None))
    return numbers


def count_collectives():
    """Wrap ``torch.distributed``'s collectives in this process so that each adds what it carries to a counter;
    returns a function that reads the counter. Meant for a rank's own (forked) process: the wrapping lasts as long
    as the process."""
    import torch.distributed as dist
    import torch.distributed.distributed_c10d as c10d

    carried, depth = [0], [0]

    def counted(name, original):
        def collective(*args, **kwargs):
            if depth[0] == 0:  # the outermost call only: all_gather_object is made of all_gathers of its own
                try:
                    carried[0] += _carried(name, args, kwargs)
                except Exception:  # noqa: BLE001 (wrong arguments: the collective itself says what is wrong)
                    pass
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
        collective._counted = True
        return collective

    for name in _CARRIED:
        for module in (dist, c10d):
            original = getattr(module, name, None)
            if original is not None and not getattr(original, "_counted", False):
                setattr(module, name, counted(name, original))
    return lambda: carried[0]


def _rank_main(function, rank, world, store, timeout, pipe):
    import datetime

    import torch
    import torch.distributed as dist

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # the loopback interface: no network needed, none used
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout))
        # Every rank waits here until all are connected: otherwise a rank that finishes at once (and exits) can close
        # its side of the mesh while a slower partner is still connecting, and that partner fails with "Gloo
        # connectFullMesh failed ... Connection closed by peer" instead of running the function.
        dist.barrier()
        result = {"value": function(rank, world)}
    except BaseException as error:  # noqa: BLE001 (the student's code may raise anything)
        result = raised_reply(error)
    try:
        pipe.send_bytes(pickle.dumps(result))
    except BaseException:  # noqa: BLE001 (an unpicklable return value)
        pipe.send_bytes(pickle.dumps({"raised": "TypeError", "original": "TypeError",
                                      "message": "a rank returned something that cannot be sent back"}))
    pipe.close()
    try:
        dist.destroy_process_group()
    finally:
        os._exit(0)


def run_on_ranks(function, world_size, *, timeout=30.0):
    """Call ``function(rank, world_size)`` in ``world_size`` processes forked from this one, joined in a gloo process
    group (the default group) over the loopback interface; returns their return values, rank by rank."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    folder = tempfile.mkdtemp(prefix="softcap-gloo-")
    processes, pipes = [], []
    deadline = time.monotonic() + timeout + 5.0
    replies = [None] * world_size
    try:
        for rank in range(world_size):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_rank_main, daemon=True,
                                      args=(function, rank, world_size, os.path.join(folder, "store"), timeout, sender))
            process.start()
            sender.close()
            processes.append(process)
            pipes.append(receiver)
        for rank, pipe in enumerate(pipes):
            left = deadline - time.monotonic()
            if left > 0 and pipe.poll(left):
                try:
                    replies[rank] = pickle.loads(pipe.recv_bytes())
                except EOFError:
                    replies[rank] = None
    finally:
        for process in processes:
            process.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            if process.is_alive():
                process.kill()
                process.join()
        shutil.rmtree(folder, ignore_errors=True)
    raised = [(rank, reply) for rank, reply in enumerate(replies) if reply is not None and "raised" in reply]
    if raised:
        # A rank's own error first: the RuntimeErrors of its partners (a connection it dropped) come from it.
        rank, reply = min(raised, key=lambda item: (item[1]["raised"] == "RuntimeError", item[0]))
        kind = raised_class(reply)

        def said(one):
            return (one["message"].splitlines()[0][:80] if one["message"] else
                    "not written yet (it raised NotImplementedError)" if one["original"] == "NotImplementedError"
                    else f"{one['original']} with no message")

        message = reply["message"] or said(reply)
        others = [f"rank {r}: {o['original']}: {said(o)}" for r, o in raised if r != rank
                  and (o["original"], said(o)) != (reply["original"], said(reply))]
        same = len(raised) - 1 - len(others)
        raise kind(f"on rank {rank} of {world_size}: {message}"
                   + (f" (the same on {same} other rank{'s' if same > 1 else ''})" if same else "")
                   + (f" (and {'; '.join(others)})" if others else ""))
    missing = [rank for rank, reply in enumerate(replies) if reply is None]
    if missing:
        raise TimeoutError(f"rank(s) {missing} of {world_size} did not finish within {timeout:.0f} s: every rank must "
                           "call the same collectives (all_reduce ...) in the same order, on the same group, or the "
                           "others wait for it forever")
    return [reply["value"] for reply in replies]


def run_vocab_parallel(function, logits, targets, cap, widths, *, ignore_index=None, grad_loss=1.0, replicas=1,
                       timeout=30.0):
    """Run ``function`` on ``sum(widths)``-column logits split into ``len(widths)`` shards, one process each (times
    ``replicas``); returns a list of ``RankResult``, rank by rank."""
    if getattr(function, "_proxy", False) and hasattr(function, "remote_vocab_parallel"):
        return function.remote_vocab_parallel(logits, targets, cap, widths, ignore_index=ignore_index,
                                              grad_loss=grad_loss, replicas=replicas, timeout=timeout)
    import torch

    if not isinstance(targets, torch.Tensor):  # the graded functions take a tensor of targets
        targets = torch.as_tensor(targets)
    widths = [int(w) for w in widths]
    if sum(widths) != logits.shape[-1] or any(w < 0 for w in widths):
        raise ValueError(f"shard widths {widths} do not add up to the {logits.shape[-1]} columns of the logits")
    starts = [sum(widths[:r]) for r in range(len(widths))]
    shards = [logits.detach()[:, start:start + width].contiguous() for start, width in zip(starts, widths)]
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}

    def one_rank(rank, world):
        import torch.distributed as dist

        replica, index = divmod(rank, len(widths))
        groups = [dist.new_group(list(range(r * len(widths), (r + 1) * len(widths)))) for r in range(replicas)] \
            if replicas > 1 else []
        call_kwargs = dict(kwargs, group=groups[replica]) if groups else dict(kwargs)
        local = shards[index].clone().requires_grad_(True)
        moved = count_collectives()
        loss = function(local, targets, cap, starts[index], **call_kwargs)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            (loss * grad_loss).backward()
        return RankResult(rank, replica, starts[index], loss.detach() if isinstance(loss, torch.Tensor) else loss,
                          local.grad, moved())

    return run_on_ranks(one_rank, len(widths) * replicas, timeout=timeout)

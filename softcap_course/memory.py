"""How much tensor memory a piece of PyTorch code holds at its worst moment, on any device (chapter 6).

On a GPU, ``torch.cuda.max_memory_allocated`` answers that.  On a CPU PyTorch keeps no such statistic, so
``TensorMemoryTracker`` watches every tensor operation instead (a ``TorchDispatchMode`` sees each ATen call,
forward and backward): it records the storage of each tensor an operation returns, forgets it as soon as
nothing refers to it any more (a weak reference to the storage, the same kind PyTorch uses internally),
and keeps the largest sum of live storages seen after any operation.  Tensors that existed before the
``with`` block (the inputs) are not counted, nor are views and in-place results (they share an argument's
storage: nothing is allocated); tensors saved by autograd for the backward pass are, for as
long as autograd keeps them.  Temporaries allocated *inside* a single ATen kernel are invisible, so the
figure is a lower bound of the true peak, but a materialised ``(N, V)`` logits tensor is always an
operation's output and never escapes it.
"""

import contextlib

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["TensorMemoryTracker", "peak_tensor_bytes", "skip_triton_kernels", "kernels_are_skipped"]


class TensorMemoryTracker(TorchDispatchMode):
    """``with TensorMemoryTracker() as tracker: ...`` then ``tracker.peak_bytes`` and ``tracker.largest_bytes``."""

    def __init__(self):
        super().__init__()
        self._live = {}  # storage address -> (weak reference, bytes)
        self.peak_bytes = 0  # most bytes held by live tensors created inside the block, at any moment
        self.largest_bytes = 0  # the largest single storage created inside the block

    @classmethod
    def _should_skip_dynamo(cls):
        # TorchDispatchMode wraps __torch_dispatch__ in torch._dynamo.disable unless this says no; that wrapper
        # imports all of torch._dynamo (and sympy) on first use, about a second per autograded notebook.
        # Nothing here is ever compiled, so there is nothing to disable.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        # A view or an in-place result shares an argument's storage: it allocates nothing (a view of an input, made
        # before the block, is not counted either).
        given = {_key(value) for value in tree_flatten((args, kwargs))[0] if isinstance(value, torch.Tensor)}
        for value in tree_flatten(result)[0]:
            if isinstance(value, torch.Tensor):
                storage = value.untyped_storage()
                key = _key(value)
                known = self._live.get(key)
                if (known is None or known[0].expired()) and key not in given:
                    self._live[key] = (StorageWeakRef(storage), storage.nbytes())
                    self.largest_bytes = max(self.largest_bytes, storage.nbytes())
        for key in [key for key, (ref, _) in self._live.items() if ref.expired()]:
            del self._live[key]
        self.peak_bytes = max(self.peak_bytes, sum(size for _, size in self._live.values()))
        return result


def _key(tensor):
    storage = tensor.untyped_storage()
    return str(storage.device), storage.data_ptr()


def peak_tensor_bytes(function, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` under a ``TensorMemoryTracker``; returns (result, peak bytes, largest bytes)."""
    with TensorMemoryTracker() as tracker:
        result = function(*args, **kwargs)
    return result, tracker.peak_bytes, tracker.largest_bytes


_skipping = [False]


def kernels_are_skipped():
    """Whether ``skip_triton_kernels`` is on."""
    return _skipping[0]


@contextlib.contextmanager
def skip_triton_kernels():
    """Inside: every Triton kernel launch does nothing (chapter 7's memory test measures what a wrapper allocates,
    without the interpreter's own copies of its arguments, and in seconds instead of minutes). The grader's
    measurement of the same test skips them the same way."""
    try:
        from triton.runtime import interpreter, jit
    except ImportError:
        classes = []
    else:
        classes = [interpreter.InterpretedFunction, jit.JITFunction]
    saved = [cls.__dict__["run"] for cls in classes]
    for cls in classes:
        cls.run = lambda self, *args, **kwargs: None
    _skipping[0] = True
    try:
        yield
    finally:
        _skipping[0] = False
        for cls, run in zip(classes, saved):
            cls.run = run

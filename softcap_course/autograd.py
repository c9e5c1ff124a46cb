"""A scalar autograd ``Value``, small enough to read in one sitting (in the spirit of micrograd and microgpt).

Every ``Value`` remembers the Values it was computed from and the local derivative with respect to each, so
``loss.backward()`` can walk the graph backwards and leave d loss / d v in ``v.grad`` for every ``v`` on the way
(the chain rule, applied once per edge, in reverse topological order).

Pure Python (``math`` only): the book ships this file to the reader's browser, where the exercises run in Pyodide.
"""

import math


class Value:
    """A float that records how it was computed, for reverse-mode differentiation."""

    __slots__ = ("data", "grad", "_parents", "_local_grads")

    def __init__(self, data, _parents=(), _local_grads=()):
        if isinstance(data, Value):
            raise TypeError("Value(v) of a Value: use v itself (a new Value would cut the graph)")
        self.data = float(data)
        self.grad = 0.0
        self._parents = _parents  # the Values this one was computed from
        self._local_grads = _local_grads  # d self / d parent, one per parent

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # -- arithmetic: each result keeps its parents and the local derivatives -------------------------------------
    def __add__(self, other):
        other = _lift(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = _lift(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError("Value ** x takes a plain number x")
        return Value(self.data ** exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_lift(other))

    def __truediv__(self, other):
        return self * _lift(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return _lift(other) - self

    def __rtruediv__(self, other):
        return _lift(other) / self

    def exp(self):
        result = math.exp(self.data)  # raises OverflowError past about 709.78, like any float exp in Python
        return Value(result, (self,), (result,))

    def log(self):
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,))

    # -- comparisons look at the numbers, so max(values) works ---------------------------------------------------
    def __lt__(self, other):
        return self.data < _lift(other).data

    def __gt__(self, other):
        return self.data > _lift(other).data

    def __le__(self, other):
        return self.data <= _lift(other).data

    def __ge__(self, other):
        return self.data >= _lift(other).data

    # -- the backward pass ------------------------------------------------------------------------------------------
    def backward(self):
        """Set ``v.grad`` = d self / d v for every Value ``v`` this one depends on (gradients accumulate)."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: long chains do not hit Python's recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent in node._parents)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node._parents, node._local_grads):
                parent.grad += local * node.grad


def _lift(x):
    return x if isinstance(x, Value) else Value(x)

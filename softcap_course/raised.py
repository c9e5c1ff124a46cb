"""An exception as data, to send it across a process boundary (the verification worker, chapter 8's ranks)
and raise it again on the other side as the nearest built-in class: nothing but data crosses, so no pickle."""

import builtins

_ALLOWED_EXCEPTIONS = {name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
                       and issubclass(getattr(builtins, name), Exception)}


def raised_reply(error):
    """An exception as data: the nearest built-in class (a student's `class CapError(ValueError)` travels as a
    ValueError), the original class's name and the message."""
    builtin = next(c.__name__ for c in type(error).__mro__ if getattr(builtins, c.__name__, None) is c)
    return {"raised": builtin if builtin in _ALLOWED_EXCEPTIONS else "Exception", "original": type(error).__name__,
            "message": str(error)[:2000]}


def raised_class(reply):
    """The built-in exception class a ``raised_reply`` names (Exception for anything else)."""
    name = reply["raised"]
    return getattr(builtins, name) if name in _ALLOWED_EXCEPTIONS else Exception

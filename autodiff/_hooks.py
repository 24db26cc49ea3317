"""Gradient hooks (`t.register_hook(fn)`) and the handle that removes them."""
from __future__ import annotations

import itertools

from .errors import op_error

__all__ = ["HookHandle"]

_hook_ids = itertools.count()


class HookHandle:
    """Returned by `register_hook` (and nn's hook registrations): `.remove()` unregisters
    the hook; also a context manager that removes it on exit."""

    def __init__(self, hooks: dict, fn=None):
        self._hooks = hooks
        self.id = next(_hook_ids)
        if fn is not None:
            hooks[self.id] = fn

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def run(t, g, create_graph):
    """Call t's hooks on its gradient g in order; a hook's non-None return replaces g."""
    for fn in list(t._extra.get("hooks", {}).values()):
        r = fn(g if create_graph else Tensor._make(g, None, False))
        if r is not None:
            r = r if isinstance(r, Tensor) else Tensor(r)
            if r.shape != t.shape:
                raise op_error(ValueError, "backward", f"hook {fn!r} returned a gradient of "
                               f"shape {r.shape} for a tensor of shape {t.shape}")
            if r.dtype != t.dtype:  # e.g. a Python float: float32 by default
                r = r.to(dtype=t.dtype)
            g = r if create_graph else r.data
    return g


from .tensor import Tensor  # noqa: E402  (circular)

"""Containers: Sequential (a chain), ModuleList and ModuleDict (registered collections)."""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(container, idx) -> int:
    """A non-negative position for an int index (negative counts from the end)."""
    n = len(container)
    try:
        i = operator.index(idx)
    except TypeError:
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, not "
                        f"{type(idx).__name__}") from None
    if not -n <= i < n:
        raise IndexError(f"{type(container).__name__} index {i} is out of range for "
                         f"{n} modules")
    return i + n if i < 0 else i


def _replace(container, key: str, module) -> None:
    """Put `module` under an existing key, keeping its position."""
    if not isinstance(module, Module):
        raise TypeError(f"{type(container).__name__}[{key!r}]: expected an nn.Module, got "
                        f"{type(module).__name__}")
    container._modules[key] = module
    module.__dict__["_name"] = key


def _view(cls, items):
    """A new container holding `items` ((name, module) pairs) without renaming the modules:
    a slice must not change the scope labels the modules carry in their real parent."""
    out = cls()
    out._modules.update(items)
    return out


def _numbered(modules):
    return [(str(i), m) for i, m in enumerate(modules)]


class _Indexed(Module):
    """Shared by Sequential and ModuleList: modules registered under '0', '1', ..."""

    def _renumber(self, modules) -> None:
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, idx, module) -> None:
        _replace(self, list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(self, idx)]
        self._renumber(mods)  # keep names 0..n-1 like PyTorch

    def append(self, module):
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        """Insert `module` before position `index` (like list.insert)."""
        if not isinstance(module, Module):  # before renumbering, which clears the registry
            raise TypeError(f"{type(self).__name__}.insert: expected an nn.Module, got "
                            f"{type(module).__name__}")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_Indexed):
    """Apply modules in order: Sequential(m1, m2, ...)(x) = ...m2(m1(x)).

    Also Sequential(OrderedDict(name=module, ...)); indexing, negative indices, slicing
    (a new Sequential sharing the modules), len, iteration, append.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self._add_checked(name, m)
        else:
            for i, m in enumerate(args):
                self._add_checked(str(i), m)

    def _add_checked(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: entry {name!r} is a {type(module).__name__}, not an "
                            "nn.Module (wrap functions in a Module subclass)")
        self.add_module(name, module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return _view(Sequential, list(self._modules.items())[idx])
        return list(self._modules.values())[_index(self, idx)]

    def append(self, module):
        self._add_checked(str(len(self)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (unlike a plain Python list)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return _view(ModuleList, _numbered(list(self._modules.values())[idx]))
        return list(self._modules.values())[_index(self, idx)]

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return _view(ModuleList, _numbered(list(self) + list(other)))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your "
                                  "module's forward (or use nn.Sequential for a chain)")


class ModuleDict(Module):
    """A dict of modules (insertion-ordered) whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str):
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no module {key!r} (keys: "
                           f"{list(self._modules)})") from None

    def __setitem__(self, key: str, module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{key!r}]: expected an nn.Module, got "
                            f"{type(module).__name__}")
        if key in self._modules:
            _replace(self, key, module)
        else:
            self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str):
        m = self[key]
        del self[key]
        return m

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        """Add modules from a mapping or an iterable of (name, module) pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for pair in items:
            key, m = pair
            self[key] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); look modules up by key in "
                                  "your module's forward")

"""Module and Parameter: the building blocks every layer subclasses.

A Module holds Parameters, buffers (non-trained state such as running means) and
sub-modules, all registered by plain attribute assignment, and turns them into dotted
names for `named_parameters()` and `state_dict()`. Calling a module runs `forward` inside
an `ad.scope`, so the graph remembers which module produced each node (viz draws clusters).
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

import autodiff as ad

from ._grads import zero_grads

__all__ = ["Module", "Parameter", "RemovableHandle", "functional_call"]


class Parameter(ad.Tensor):
    """A leaf Tensor that a Module registers as trainable when assigned as an attribute.

    `Parameter(t)` shares `t`'s array (like PyTorch); requires_grad defaults to True.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


#: The handle hook registrations return (torch.utils.hooks.RemovableHandle): the engine's
#: hook handle, `.remove()` unregisters, and a context manager.
RemovableHandle = ad.HookHandle


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_DEVICE_WORDS = ("cpu", "cuda")


def _values(named):
    """The values of (name, value) pairs, lazily: parameters() from named_parameters() etc."""
    return (value for _, value in named)


def _check_name(owner, kind: str, name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{type(owner).__name__}.register_{kind}: the name must be a string, "
                        f"got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{type(owner).__name__}.register_{kind}: bad name {name!r}; names must "
                       "be non-empty and contain no '.' (dots separate nesting levels)")


class Module:
    """Base class for layers and models: define `__init__` (assign Parameters, buffers and
    sub-modules as attributes, after `super().__init__()`) and `forward`.
    """

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = {}
        d["_forward_pre_hooks"] = {}
        d["_name"] = None  # the attribute name a parent registered this module under

    # ---------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: forward() is not implemented; a "
                                  "subclass of nn.Module must define forward(self, ...)")

    def _scope_label(self) -> str:
        # "<name>: <Class>", name = the attribute name under which a parent last registered
        # this module (slices of containers do not count), or just the class for a root.
        cls = type(self).__name__
        return cls if self._name is None else f"{self._name}: {cls}"

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if "_forward_pre_hooks" not in d:
            raise RuntimeError(f"{type(self).__name__} was called before Module.__init__(); "
                               "call super().__init__() first in its __init__")
        if d["_forward_pre_hooks"]:
            for hook in tuple(d["_forward_pre_hooks"].values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        if ad.is_grad_enabled():
            # Recorded nodes carry the scope; without recording there is nothing to label.
            with ad.scope(self._scope_label(), owner=self):
                out = self.forward(*args, **kwargs)
        else:
            out = self.forward(*args, **kwargs)
        if d["_forward_hooks"]:
            for hook in tuple(d["_forward_hooks"].values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call hook(module, args) before forward; a non-None return replaces the args."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call hook(module, args, output) after forward; a non-None return replaces it."""
        return self._add_hook(self._forward_hooks, hook, prepend)

    @staticmethod
    def _add_hook(hooks: dict, hook, prepend: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks, hook)
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks.update([items[-1]] + items[:-1])
        return handle

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, (Parameter, Module)):
            kind = "parameter" if isinstance(value, Parameter) else "module"
            if params is None:
                raise AttributeError(f"cannot assign {kind} {name!r} before "
                                     f"{type(self).__name__}.__init__ called "
                                     "super().__init__()")
            self._forget(name)
            if kind == "parameter":
                self.register_parameter(name, value)
            else:
                self.add_module(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign a "
                                f"{type(value).__name__} to parameter {name!r}; assign an "
                                "nn.Parameter or None (or copy values in with "
                                f"`with ad.no_grad(): m.{name}.data[...] = ...`)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign a "
                                f"{type(value).__name__} to sub-module {name!r}; assign an "
                                "nn.Module or None")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, ad.Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a "
                                f"{type(value).__name__} to buffer {name!r}; assign an "
                                "ad.Tensor or None")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop `name` from every registry and the instance dict (before re-registering)."""
        d = self.__dict__
        d.pop(name, None)
        d["_parameters"].pop(name, None)
        d["_modules"].pop(name, None)
        d["_buffers"].pop(name, None)
        d["_non_persistent"].discard(name)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: the registered items live in the dicts.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            items = d.get(registry)
            if items is not None and name in items:
                return items[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in d.get(registry, ()):
                del d[registry][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        extra = list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(super().__dir__()) | set(extra))

    def register_parameter(self, name: str, param) -> None:
        """Register `param` (a Parameter, or None for an absent one such as bias=False)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot register a parameter before Module.__init__() call")
        _check_name(self, "parameter", name)
        if name in self.__dict__ or (name in self._buffers or name in self._modules):
            raise KeyError(f"{type(self).__name__}.register_parameter: attribute {name!r} "
                           "already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter({name!r}): expected an "
                            f"nn.Parameter or None, got {type(param).__name__}; wrap it as "
                            "nn.Parameter(tensor)")
        if param is not None and not param.is_leaf:
            raise ValueError(f"{type(self).__name__}.register_parameter({name!r}): the "
                             "parameter was computed from other tensors; parameters must "
                             "be leaves (use nn.Parameter(t.detach()))")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register non-trained state (e.g. running statistics); persistent buffers are part
        of state_dict(), others are not. `tensor` may be None."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot register a buffer before Module.__init__() call")
        _check_name(self, "buffer", name)
        if name in self.__dict__ or name in self._parameters or name in self._modules:
            raise KeyError(f"{type(self).__name__}.register_buffer: attribute {name!r} "
                           "already exists")
        if tensor is not None and not isinstance(tensor, ad.Tensor):
            raise TypeError(f"{type(self).__name__}.register_buffer({name!r}): expected an "
                            f"ad.Tensor or None, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        """Register a sub-module (or None) under `name`."""
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot add a module before Module.__init__() call")
        _check_name(self, "module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module({name!r}): expected an "
                            f"nn.Module or None, got {type(module).__name__}")
        if name in self.__dict__ or name in self._parameters or name in self._buffers:
            raise KeyError(f"{type(self).__name__}.add_module: attribute {name!r} already "
                           "exists")
        self._modules[name] = module
        if module is not None:
            module.__dict__["_name"] = name

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at a dotted path such as 'encoder.0' ('' is self)."""
        mod = self
        for part in target.split(".") if target else ():
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no sub-module {part!r} "
                                     f"(looking up {target!r})")
            mod = child
        return mod

    # ---------------------------------------------------------------- iteration
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield (dotted name, module) for this module and every descendant (pre-order),
        each once unless remove_duplicate=False."""
        if memo is None:
            memo = set()
        # An explicit stack: no recursion limit for deeply nested models, and cheaper than
        # nested generators.
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = mod.__dict__["_modules"]
            if children:
                dot = name + "." if name else ""
                stack.extend((dot + k, c) for k, c in reversed(children.items())
                             if c is not None)

    def modules(self):
        return _values(self.named_modules())

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return _values(self.named_children())

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for mod_prefix, mod in mods:
            for name, value in mod.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (mod_prefix + "." + name if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """Yield (dotted name, Parameter), each shared parameter once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        return _values(self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        return _values(self.named_buffers(recurse=recurse))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalar parameters (shared ones counted once)."""
        return sum(p.numel() for p in self.parameters()
                   if not trainable_only or p.requires_grad)

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True):
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got "
                            f"{type(mode).__name__}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        """Evaluation mode (dropout off, normalisation uses running statistics); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Set requires_grad on every parameter (e.g. False to freeze); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to fresh zeros)."""
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn):
        """Call fn(m) on every descendant (children first) and on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- device and dtype
    def to(self, device=None, dtype=None):
        """Move parameters and buffers to `device` and/or cast the floating ones to `dtype`,
        in place (the Parameter objects stay the same, so optimizers keep working); returns
        self. `m.to("cuda")` and `m.to(ad.float64)` both work."""
        if dtype is None and device is not None and not (
                isinstance(device, str) and device.split(":")[0] in _DEVICE_WORDS):
            device, dtype = None, device  # m.to(ad.float64)
        dtype = ad.zeros(0, dtype=dtype).dtype if dtype is not None else None
        if dtype is not None and not (dtype.kind == "f" or dtype == ad.bfloat16):
            raise TypeError(f"{type(self).__name__}.to: dtype must be a floating type, got "
                            f"{dtype} (integer buffers keep their dtype anyway)")
        changed = []
        with ad.no_grad():
            for t in itertools.chain(self.parameters(), self.buffers()):
                floating = t.dtype.kind == "f" or t.dtype == ad.bfloat16
                new = t.to(device=device, dtype=dtype if floating else None).data
                if new is not t.data:
                    t.data = new
                    changed.append(t)
                if t.grad is not None:
                    t.grad.data = t.grad.to(device=device,
                                            dtype=dtype if floating else None).data
        if changed:
            ad.mark_modified(*changed)
        return self

    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, index: int = 0):
        return self.to(device=f"cuda:{index}")

    def float(self):
        return self.to(dtype=ad.float32)

    def double(self):
        return self.to(dtype=ad.float64)

    def half(self):
        return self.to(dtype=ad.float16)

    # ---------------------------------------------------------------- state dicts
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict {dotted name: Tensor} of parameters and persistent buffers.

        Values share memory with the module but are detached (keep_vars=True gives the
        Parameters themselves); copy them (or nn.save) before training further.
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from `state_dict` into the existing parameters and buffers, in place,
        keeping their dtype and device. Nothing is copied unless every entry fits.

        Raises one RuntimeError listing all shape mismatches, and with strict=True also all
        missing and unexpected keys. Returns (missing_keys, unexpected_keys).
        """
        name = type(self).__name__
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{name}.load_state_dict: expected a dict of tensors, got "
                            f"{type(state_dict).__name__}")
        targets = self.state_dict(keep_vars=True)  # the tensors themselves, to write into
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        mismatched, plans = [], []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value.data if isinstance(value, ad.Tensor) else value
            shape = tuple(getattr(arr, "shape", np.shape(arr)))
            if shape != tuple(target.shape):
                mismatched.append(f"{key}: checkpoint shape {shape}, model shape "
                                  f"{tuple(target.shape)}")
            else:
                plans.append((target, arr))
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"{name}.load_state_dict: the state dict does not fit the "
                               "model (nothing was loaded):\n  " + "\n  ".join(problems))
        with ad.no_grad():
            for target, arr in plans:
                if not isinstance(arr, ad.Tensor) and not hasattr(arr, "__array_namespace__"):
                    arr = np.asarray(arr)  # lists/numbers keep float64 until the cast
                src = ad.tensor(arr).to(device=target.device, dtype=target.dtype).data
                if getattr(target.data.flags, "writeable", True):
                    target.data[...] = src  # in place: views and optimizer state stay valid
                else:
                    target.data = src.copy() if src is arr else src
        if plans:
            ad.mark_modified(*[t for t, _ in plans])
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (layers override)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        head = self._get_name() + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def functional_call(module: Module, tensors: dict, args=(), kwargs=None):
    """Call `module(*args, **kwargs)` with some parameters/buffers replaced by the given
    Tensors ({dotted name: Tensor}, names as in state_dict), restoring them afterwards.

    Gradients then flow to the given tensors, which makes a layer a plain function of its
    weights, e.g. for `ad.gradcheck(lambda x, w: functional_call(m, {"weight": w}, x), ...)`.
    """
    if not isinstance(args, tuple):
        args = (args,)
    swaps = []
    try:
        for name, value in tensors.items():
            prefix, _, attr = name.rpartition(".")
            owner = module.get_submodule(prefix)
            for registry in (owner._parameters, owner._buffers):
                if attr in registry:
                    break
            else:
                raise KeyError(f"functional_call: {type(module).__name__} has no parameter or "
                               f"buffer named {name!r}")
            if not isinstance(value, ad.Tensor):
                raise TypeError(f"functional_call: the value for {name!r} must be an "
                                f"ad.Tensor, got {type(value).__name__}")
            swaps.append((registry, attr, registry[attr]))
            registry[attr] = value
        return module(*args, **(kwargs or {}))
    finally:
        for registry, attr, old in reversed(swaps):
            registry[attr] = old

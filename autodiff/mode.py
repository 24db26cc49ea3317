"""Thread-local grad mode (`no_grad`, `enable_grad`) and anomaly detection mode."""
from __future__ import annotations

import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled", "scope", "Scope", "current_scope", "observe_backward",
           "keep_grads", "set_keep_grads_limit", "get_keep_grads_limit"]


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scope = None        # innermost active Scope (nodes record it), or None
        self.observers = ()      # callbacks that watch each backward step
        # False while a create_graph backward rule runs; Tensor.__array__ sets it True
        # (the rule left the graph); None otherwise.
        self.array_escape = None
        self.keep_all = False    # inside ad.keep_grads(): backward keeps every gradient


state = _State()
_get_ident = threading.get_ident


def is_grad_enabled() -> bool:
    """Whether ops performed now record a graph (per thread)."""
    return state.grad_enabled


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (per thread)."""
    return state.anomaly


def _push(cm, value):
    """Remember what `cm` restores on exit, per thread and per entry: one instance may be
    entered again while active (a module-level `NG = ad.no_grad()` in recursive code) or
    in several threads at once."""
    stacks = cm.__dict__.get("_stacks")
    if stacks is None:
        stacks = cm._stacks = {}
    stacks.setdefault(_get_ident(), []).append(value)


def _pop(cm):
    stacks = cm._stacks
    key = _get_ident()
    stack = stacks[key]
    value = stack.pop()
    if not stack:
        del stacks[key]
    return value


class _Switch:
    """A context manager that is also a decorator; subclasses set `_attr` and `_value`."""

    _attr = ""
    _value = True

    def __enter__(self):
        _push(self, getattr(state, self._attr))
        setattr(state, self._attr, self._value)
        return self

    def __exit__(self, *exc):
        setattr(state, self._attr, _pop(self))
        return False

    def __call__(self, fn):
        switch = self.__class__
        params = self._args()
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, lambda: switch(*params))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with switch(*params):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


def _wrap_generator(fn, make_switch):
    """A decorated generator runs each of its steps under the mode, not just its creation
    (which runs no code of the body), and the caller's code between steps runs outside."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with make_switch():
                value = next(gen)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with make_switch():
                        gen.close()
                    raise
                except BaseException as exc:
                    with make_switch():
                        value = gen.throw(exc)
                else:
                    with make_switch():
                        value = gen.send(sent)
        except StopIteration as stop:
            return stop.value
    return wrapper


class _BareDecorator(_Switch):
    """A switch without arguments: `@no_grad` works as well as `@no_grad()`."""

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        return self if fn is None else self(fn)


class no_grad(_BareDecorator):
    """Disable graph recording inside the block (or decorated function); thread-local."""
    _attr, _value = "grad_enabled", False


class enable_grad(_BareDecorator):
    """Enable graph recording inside the block, e.g. within a `no_grad` region."""
    _attr, _value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """Set grad mode to `mode`: inside the block, in a decorated function, or (called as a
    plain statement, as in torch) from now on in this thread."""
    _attr = "grad_enabled"

    def __init__(self, mode: bool):
        self._value = bool(mode)
        self._prev = state.grad_enabled
        state.grad_enabled = self._value

    def __enter__(self):
        prev, self._prev = self._prev, None
        # The first entry restores the mode from before the constructor switched it.
        _push(self, state.grad_enabled if prev is None else prev)
        state.grad_enabled = self._value
        return self

    def __call__(self, fn):
        if self._prev is not None:
            state.grad_enabled = self._prev  # decorating must not switch the mode now
        return super().__call__(fn)

    def _args(self):
        return (self._value,)


class detect_anomaly(_Switch):
    """Raise as soon as a forward or backward step produces NaN/Inf, naming the op and
    where in user code the forward op was created. Off by default; free when off."""
    _attr = "anomaly"

    def __init__(self, enabled: bool = True):
        self._value = bool(enabled)

    def _args(self):
        return (self._value,)


class keep_grads(_BareDecorator):
    """Inside the block (or decorated function), backward keeps every gradient it computes
    for `ad.kept_grad` / `ad.kept_input_grads`, whatever the limit; thread-local."""
    _attr, _value = "keep_all", True


#: Elements of gradients one backward pass keeps (see ad.kept_grad); shared by all threads.
_keep_limit = [10_000]


def set_keep_grads_limit(elements: int) -> int:
    """Keep at most `elements` gradient elements per backward pass for `ad.kept_grad`
    (0 keeps none); returns the previous limit. The default, 10,000, shows every gradient
    of a lecture-sized graph and costs nothing measurable on a large model."""
    if isinstance(elements, bool) or not isinstance(elements, int) or elements < 0:
        raise ValueError(f"set_keep_grads_limit: elements must be an int >= 0, got "
                         f"{elements!r}")
    previous, _keep_limit[0] = _keep_limit[0], elements
    return previous


def get_keep_grads_limit() -> int:
    """The number of gradient elements one backward pass keeps for `ad.kept_grad`."""
    return _keep_limit[0]


def keep_limit():
    """The limit of the backward pass starting now in this thread (None: keep all)."""
    return None if state.keep_all else _keep_limit[0]


class Scope:
    """A labelled region of the forward pass (e.g. one call of an nn.Module).

    Nodes recorded inside `with ad.scope(label):` carry it as `node.scope`; scopes nest
    through `parent`. viz groups nodes of one scope into a cluster. `owner` is any object
    the caller wants to associate (nn puts the Module there).
    """

    __slots__ = ("label", "parent", "owner", "depth", "__weakref__")

    def __init__(self, label: str, parent: "Scope | None" = None, owner=None):
        self.label = str(label)
        self.parent = parent
        self.owner = owner
        self.depth = 0 if parent is None else parent.depth + 1

    def path(self) -> tuple:
        """The chain of scopes from the outermost to this one."""
        chain, s = [], self
        while s is not None:
            chain.append(s)
            s = s.parent
        return tuple(reversed(chain))

    def __repr__(self):
        return "Scope(" + " / ".join(s.label for s in self.path()) + ")"


def current_scope() -> "Scope | None":
    """The innermost active scope of this thread, or None."""
    return state.scope


class scope:
    """Label the ops recorded inside the block: `with ad.scope("encoder"): ...`.

    Each entry opens a new Scope nested in the current one; recorded nodes keep it in
    `node.scope` (None outside any scope). Costs nothing for unrecorded ops.
    """

    def __init__(self, label: str, owner=None):
        self.label = label
        self.owner = owner

    def __enter__(self) -> Scope:
        state.scope = Scope(self.label, state.scope, self.owner)
        return state.scope

    def __exit__(self, *exc):
        # Blocks nest, so the innermost scope of this thread is the one this exit closes;
        # nothing is stored on the instance (it may be re-entered, or used by threads).
        state.scope = state.scope.parent
        return False


class observe_backward:
    """Call `fn(tensor, grad, node, input_grads)` for every tensor backward processes.

    `grad` is the tensor's complete gradient (an array, or a Tensor under create_graph);
    `node` is the op that produced the tensor (None for leaves) and `input_grads` the tuple
    its backward rule returned, one entry per input (None for leaves). Used by viz to
    show every intermediate gradient and each step of backprop; thread-local; nests.
    """

    def __init__(self, fn):
        self.fn = fn

    def __enter__(self):
        _push(self, state.observers)
        state.observers = state.observers + (self.fn,)
        return self

    def __exit__(self, *exc):
        state.observers = _pop(self)
        return False

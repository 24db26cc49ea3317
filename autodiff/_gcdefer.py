"""Deferred full garbage collections while a large graph is alive (part of the speed layer).

Why: CPython's cyclic collector runs a full (generation-2) collection each time the
long-lived objects grew by a quarter, and each one traverses every object alive, so
building a graph of n nodes (a Tensor, a node and a few tuples each) costs O(n) extra
traversals of the whole graph: a 1,000,000-op chain took 7.0 s to build with the
collector on and 1.75 s with it off. The graph holds no reference cycles (nodes point to
their inputs only), so those traversals never free anything.

What: the fast path calls `checkpoint(tensor)` for one in every `EVERY` tensors it makes
with a graph. While at least `ARM_AT` such checkpoint tensors are alive (a graph of more
than ~EVERY nodes is held), the collector's thresholds for its two older generations
(`gc.set_threshold`'s threshold1 and threshold2) are raised so that their collections
wait (middle-generation ones were another ~8% of the build, freeing nothing either);
young-generation collections run as before (cycles that die young are still freed), and
`gc.collect()` still collects everything. When the checkpoints die (the graph is
freed) the thresholds the user had are put back, unless the user set a new one meanwhile
(then theirs stays). A training loop's graphs of a few hundred nodes never arm it.
"""
from __future__ import annotations

import gc
import threading
import weakref

__all__ = ["checkpoint", "deferring", "EVERY", "ARM_AT"]

EVERY = 1 << 14    # one checkpoint per 16,384 graph tensors made
ARM_AT = 2         # defer while this many checkpoints are alive (a graph of > ~16k nodes)
_DEFERRED = 1 << 30       # no middle or full collection until the graph is freed

_lock = threading.RLock()  # a weakref callback may run inside the locked region (a gc)
_alive = set()             # weak references to the checkpoint tensors alive
_saved = None              # the thresholds replaced while deferring, else None
_ours = None               # the thresholds set while deferring


def checkpoint(tensor) -> None:
    """Note a graph tensor; arm the deferral when enough checkpoints are alive."""
    global _saved, _ours
    with _lock:
        _alive.add(weakref.ref(tensor, _died))
        if _saved is None and len(_alive) >= ARM_AT:
            _saved = gc.get_threshold()
            _ours = (_saved[0], max(_saved[1], _DEFERRED), max(_saved[2], _DEFERRED))
            gc.set_threshold(*_ours)


def _died(ref) -> None:
    global _saved, _ours
    with _lock:
        _alive.discard(ref)
        if _saved is not None and len(_alive) < ARM_AT:
            if gc.get_threshold() == _ours:  # else the user changed it meanwhile: keep theirs
                gc.set_threshold(*_saved)
            _saved = _ours = None


def deferring() -> bool:
    """True while full collections are deferred (a large graph is alive)."""
    return _saved is not None

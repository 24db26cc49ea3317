"""Big graphs: the cyclic GC's older-generation collections wait while a large graph is
alive, and the user's thresholds come back exactly when it is freed (autodiff/_gcdefer.py)."""
import gc

import numpy as np
import pytest

import autodiff as ad
from autodiff import _fastpath, _gcdefer

pytestmark = pytest.mark.skipif(not _fastpath.ENABLED,
                                reason="the deferral is part of the fast path")


def _chain(n):
    x = ad.tensor(np.ones(2, np.float32), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    return x, y


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    gc.set_threshold(650, 9, 11)  # distinctive values, so a restore is visible
    yield (650, 9, 11)
    gc.set_threshold(*before)


def test_a_large_graph_defers_older_collections_and_freeing_it_restores(thresholds):
    x, y = _chain(3 * _gcdefer.EVERY)
    assert _gcdefer.deferring()
    t0, t1, t2 = gc.get_threshold()
    assert t0 == thresholds[0] and t1 >= 1 << 30 and t2 >= 1 << 30
    y.sum().backward()  # the graph still works as usual
    assert x.grad.data.tolist() == [1.0, 1.0]
    del y
    assert not _gcdefer.deferring()
    assert gc.get_threshold() == thresholds


def test_thresholds_the_user_sets_meanwhile_are_kept(thresholds):
    _, y = _chain(3 * _gcdefer.EVERY)
    assert _gcdefer.deferring()
    gc.set_threshold(123, 4, 5)
    del y
    assert not _gcdefer.deferring()
    assert gc.get_threshold() == (123, 4, 5)


def test_many_small_graphs_never_defer(thresholds):
    w = ad.tensor(np.ones(2, np.float32), requires_grad=True)
    for _ in range(3 * _gcdefer.EVERY // 4):
        ((w * 2.0).tanh() - 1.0).sum().backward()  # 4 graph tensors, freed every step
        assert gc.get_threshold() == thresholds
    assert not _gcdefer.deferring()

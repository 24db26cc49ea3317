"""The speed layer (autodiff/_fastpath.py) against the plain core it replaces.

AUTODIFF_FASTPATH=0 (read at import) runs function.py and graph.py as written; the default
runs the tuned equivalents. Both must give identical values and gradients, bit for bit.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff import _fastpath, function, graph

HERE = Path(__file__).resolve().parent


def _probe(tmp_path, fastpath):
    out = tmp_path / f"probe{fastpath}.npz"
    env = dict(os.environ, AUTODIFF_FASTPATH=fastpath, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, str(HERE / "fastpath_probe.py"), str(out)], env=env,
                   check=True, timeout=600)
    return np.load(out)


def test_fast_and_plain_core_give_identical_values_and_gradients(tmp_path):
    fast, plain = _probe(tmp_path, "1"), _probe(tmp_path, "0")
    keys = [k for k in fast.files if "fastpath enabled" not in k]
    assert keys == [k for k in plain.files if "fastpath enabled" not in k]
    assert len(keys) > 1000  # every op-table row, several cases and dtypes each
    assert str(fast[fast.files[-1]]) == "autodiff._fastpath"  # the two runs did differ
    assert str(plain[plain.files[-1]]) == "autodiff.function"
    for k in keys:
        a, b = fast[k], plain[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        assert a.tobytes() == b.tobytes(), f"{k}: fast and plain core differ"


@pytest.mark.skipif(not _fastpath.ENABLED, reason="checks the installed fast path")
def test_fast_apply_fills_every_tensor_slot_as_the_constructor_does():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    for t in (x * 2.0, x.sum(), ad.tensor([1.0]) + 1.0):
        ref = ad.Tensor._make(t.data, t._node, t.requires_grad)
        for slot in ad.Tensor.__slots__:
            if slot != "__weakref__":
                getattr(t, slot)  # set (an unset slot raises AttributeError)
                assert type(getattr(t, slot)) is type(getattr(ref, slot)) or slot in (
                    "_node", "_seq"), slot


def test_the_mode_follows_the_environment_variable():
    code = ("import autodiff as ad, autodiff.graph as g; "
            "print(ad.Function.apply.__func__.__module__, g._run.__module__)")
    for value, expected in (("0", "autodiff.function autodiff.graph"),
                            ("1", "autodiff._fastpath autodiff._fastpath")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, AUTODIFF_FASTPATH=value), check=True)
        assert out.stdout.split() == expected.split()
    assert (function.Function.apply.__func__ is _fastpath.apply) == _fastpath.ENABLED
    assert (graph._run is _fastpath.run) == _fastpath.ENABLED

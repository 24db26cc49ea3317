"""The op tables (autodiff/ops/tables.py) are the one source of the ops' Tensor methods."""
from __future__ import annotations

import types

import numpy as np
import pytest

import autodiff as ad
from autodiff.ops import tables

ROWS = tables.merged(tables.ELEMENTWISE + tables.STRUCTURAL)


def test_every_row_is_a_tensor_method_torch_has_too():
    torch = pytest.importorskip("torch", reason="torch names the methods to have")
    for name, op in ROWS.items():
        assert hasattr(torch.Tensor, name), f"torch.Tensor has no {name}: not a table row"
        method, fn = vars(ad.Tensor)[name], tables.public(op)
        if isinstance(fn, types.FunctionType):  # the public function itself, one docstring
            assert method is fn, f"Tensor.{name} is not its row's function"
        else:  # an op class's apply, wrapped (or a method tensor.py writes out)
            assert method.__qualname__ == f"Tensor.{name}"


def test_elementwise_rows_are_the_public_functions():
    for name, op in tables.merged(tables.ELEMENTWISE).items():
        assert getattr(ad, name) == tables.public(op), f"ad.{name} is not its table row"


def test_only_torchs_richer_operator_signatures_replace_rows():
    names = [name for table in tables.ELEMENTWISE + tables.STRUCTURAL for name in table]
    assert {n for n in names if names.count(n) > 1} == {"add", "sub", "div"}
    x = ad.tensor([5.0, -7.0])
    assert x.add(1, alpha=2).tolist() == [7.0, -5.0] and x.add(1, alpha=2).dtype == ad.float32
    assert x.sub(x, alpha=0.5).tolist() == [2.5, -3.5]
    assert x.div(2, rounding_mode="floor").tolist() == [2.0, -4.0]


def test_structural_methods_follow_torch():
    x = ad.tensor([[3.0, 1.0], [2.0, 4.0]])
    np.testing.assert_array_equal(x.flip(0).numpy(), [[2.0, 4.0], [3.0, 1.0]])
    np.testing.assert_array_equal(x.where(x > 2, 0.0).numpy(), [[3.0, 0.0], [0.0, 4.0]])
    assert x.view(-1).shape == (4,) and x[:1].expand(3, -1).shape == (3, 2)
    with pytest.raises(RuntimeError) as info:  # torch's view: no copy behind the user's back
        x.T.view(-1)
    assert info.value.op == "view"
    values, indices = x.sort(1, descending=True)
    assert values.tolist() == [[3.0, 1.0], [4.0, 2.0]] and indices.tolist() == [[0, 1], [1, 0]]

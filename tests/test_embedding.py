"""nn.Embedding / F.embedding: lookup, scatter-add gradients, padding_idx, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import functional as F


def test_lookup_and_scatter_add_gradient_closed_form(rng):
    emb = nn.Embedding(6, 3)
    ids = np.array([[1, 4, 1], [5, 1, 0]])
    out = emb(ad.tensor(ids))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[ids])
    g = rng.standard_normal((2, 3, 3)).astype(np.float32)
    out.backward(ad.tensor(g))
    expect = np.zeros((6, 3), np.float32)
    np.add.at(expect, ids, g)  # id 1 appears three times: its three gradients add up
    np.testing.assert_allclose(emb.weight.grad.data, expect, rtol=1e-6)
    assert np.all(emb.weight.grad.data[[2, 3]] == 0)


@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), rows=st.integers(1, 7),
       dim=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_any_id_shape(shape, rows, dim, seed):
    """out.shape = ids.shape + (dim,); d(sum out)/dW[r] = dim-vector of counts of r."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, rows, size=shape)
    emb = nn.Embedding(rows, dim)
    out = emb(ids)
    assert out.shape == tuple(shape) + (dim,)
    out.sum().backward()
    counts = np.bincount(ids.reshape(-1), minlength=rows).astype(np.float32)
    grad = emb.weight.grad
    if grad is None:  # no ids at all: nothing flowed back
        assert ids.size == 0
    else:
        np.testing.assert_array_equal(grad.data, np.repeat(counts[:, None], dim, axis=1))


def test_padding_idx_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 2, padding_idx=-1)
    assert emb.padding_idx == 4
    assert np.all(emb.weight.data[4] == 0)
    with ad.no_grad():
        emb.weight.data[4] = 7.0  # the forward still returns the stored row
    ids = ad.tensor(np.array([4, 0, 4, 2]))
    out = emb(ids)
    np.testing.assert_array_equal(out.data[0], [7.0, 7.0])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[:, 0], [1, 0, 1, 0, 0])


def test_init_is_standard_normal():
    ad.manual_seed(0)
    w = nn.Embedding(400, 50).weight.data
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(7, 4, padding_idx=2)
    theirs = torch.nn.Embedding(7, 4, padding_idx=2)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
    ids = rng.integers(0, 7, size=(3, 5))
    g = rng.standard_normal((3, 5, 4)).astype(np.float32)
    out = ours(ad.tensor(ids))
    out.backward(ad.tensor(g))
    out_t = theirs(torch.from_numpy(ids))
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(out.data, out_t.detach().numpy())
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6,
                               atol=1e-7)


def test_gradcheck_float64(rng):
    w = ad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    ids = np.array([[0, 3], [3, 3], [1, 0]])
    assert ad.gradcheck(lambda w: F.embedding(ids, w), (w,))
    # (padding_idx deliberately withholds a true gradient, so it is checked against torch)


def test_errors():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"\[0, 4\].*\[0, 5\]"):
        emb(ad.tensor(np.array([0, 5])))
    with pytest.raises(IndexError, match="Embedding"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        emb(ad.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="num_embeddings"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_from_pretrained_and_lists(rng):
    table = rng.standard_normal((3, 2)).astype(np.float32)
    emb = nn.Embedding.from_pretrained(ad.tensor(table))
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb([2, 0]).data, table[[2, 0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert "Embedding(3, 2)" == repr(emb)


def test_on_device(device):
    emb = nn.Embedding(4, 3).to(device)
    ids = ad.tensor(np.array([1, 1, 3]), device=device)
    out = emb(ids)
    out.sum().backward()
    assert out.device.startswith(device)
    np.testing.assert_array_equal(emb.weight.grad.cpu().numpy()[:, 0], [0, 2, 0, 1])

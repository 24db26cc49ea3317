"""L1/L2 penalties: which parameters they select, values, gradients, equivalence with SGD's
weight decay."""
import numpy as np
import pytest

import autodiff as ad
import nn
from nn import optim


class LayerNorm2d(nn.Module):
    """A stand-in normalisation layer with a 2-D scale (like LayerNorm over two axes)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(ad.ones(2, 3))
        self.bias = nn.Parameter(ad.zeros(2, 3))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.PReLU(4)
        self.norm = LayerNorm2d()
        self.fc2 = nn.Linear(4, 2, bias=False)


def test_default_selection_skips_biases_norms_and_vectors():
    net = Net()
    chosen = nn.penalized_parameters(net)
    assert [id(p) for p in chosen] == [id(net.fc1.weight), id(net.fc2.weight)]
    assert len(nn.penalized_parameters(net, include_all=True)) == 6
    # plain tensors: only the dimension rule is known
    assert len(nn.penalized_parameters(list(net.parameters()))) == 4
    # (name, tensor) pairs: the name rule applies too
    bias2d = ad.ones(2, 2, requires_grad=True)
    named = [("w", ad.ones(2, 2, requires_grad=True)), ("head.bias", bias2d)]
    assert nn.penalized_parameters(named) == [named[0][1]]


def test_values_and_gradients():
    ad.manual_seed(0)
    net = Net().to(dtype=ad.float64)
    w1, w2 = net.fc1.weight.numpy(), net.fc2.weight.numpy()
    l1 = nn.l1_penalty(net)
    l2 = nn.l2_penalty(net)
    assert l1.item() == pytest.approx(np.abs(w1).sum() + np.abs(w2).sum(), rel=1e-12)
    assert l2.item() == pytest.approx((w1 ** 2).sum() + (w2 ** 2).sum(), rel=1e-12)
    (l2 + 0.5 * l1).backward()
    np.testing.assert_allclose(net.fc1.weight.grad.numpy(), 2 * w1 + 0.5 * np.sign(w1))
    np.testing.assert_allclose(net.fc2.weight.grad.numpy(), 2 * w2 + 0.5 * np.sign(w2))
    assert net.fc1.bias.grad is None and net.norm.weight.grad is None and net.act.weight.grad is None
    everything = nn.l2_penalty(net, include_all=True).item()
    assert everything == pytest.approx(sum((p.numpy() ** 2).sum() for p in net.parameters()), rel=1e-12)


def test_gradcheck_and_shared_parameter_counted_once():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.Tanh(), lin)  # the same layer twice
    assert len(nn.penalized_parameters(model)) == 1
    w = ad.tensor(np.array([[0.5, -1.0], [2.0, -0.3]]), requires_grad=True)
    assert ad.gradcheck(lambda w: nn.l1_penalty([w]) + nn.l2_penalty([w]), (w,))


def test_empty_selection_is_zero():
    assert nn.l2_penalty(nn.PReLU()).item() == 0.0
    assert nn.l1_penalty([]).item() == 0.0
    with pytest.raises(TypeError, match="penalty: expected a Module, Tensors or \\(name, Tensor\\) pairs"):
        nn.l2_penalty([3.0])


def test_half_l2_penalty_equals_sgd_weight_decay():
    ad.manual_seed(1)
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x, t = ad.randn(5, 3), ad.randn(5, 2)
    wd = 0.1
    opt_a = optim.SGD([{"params": [a.weight], "weight_decay": wd}, {"params": [a.bias]}], lr=0.5)
    opt_b = optim.SGD(b.parameters(), lr=0.5)
    for _ in range(3):
        opt_a.zero_grad()
        nn.MSELoss()(a(x), t).backward()
        opt_a.step()
        opt_b.zero_grad()
        (nn.MSELoss()(b(x), t) + wd / 2 * nn.l2_penalty(b)).backward()
        opt_b.step()
    np.testing.assert_allclose(a.weight.numpy(), b.weight.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.bias.numpy(), b.bias.numpy(), rtol=1e-5, atol=1e-7)


def test_penalty_on_device(device):
    net = nn.Linear(3, 2).to(device=device)
    p = nn.l2_penalty(net)
    p.backward()
    assert p.device == net.weight.device and net.weight.grad.device == net.weight.device

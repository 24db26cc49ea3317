"""nn.Module, nn.Parameter and the containers: registration, iteration, modes, devices,
state dicts, hooks, scopes and repr."""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import optim


class Block(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.fc1 = nn.Linear(n, 4)
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("running", ad.zeros(2))
        self.register_buffer("scratch", ad.ones(2), persistent=False)
        self.scale = 2.0  # plain attribute

    def forward(self, x):
        return self.fc2(self.fc1(x).relu()) * self.scale + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        self.gain = nn.Parameter(ad.ones(1))

    def forward(self, x):
        return self.head(self.block(x)) * self.gain


# ---------------------------------------------------------------- Parameter

def test_parameter_is_a_leaf_tensor_sharing_data():
    t = ad.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, ad.Tensor) and p.requires_grad and p.is_leaf
    assert p.data is t.data
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    y = p * 2 + 1  # ops on Parameters give plain Tensors
    assert type(y) is ad.Tensor and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.data, np.full((2, 3), 2.0, np.float32))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert nn.Parameter().shape == (0,)


def test_parameter_of_ints_refuses_grad():
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(ad.tensor([1, 2]))


def test_parameter_from_nonleaf_is_a_leaf():
    x = ad.randn(3, requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.grad_fn is None


def test_optimizer_steps_parameters_in_place():
    m = nn.Linear(3, 2)
    w0 = m.weight.data.copy()
    opt = optim.SGD(m.parameters(), lr=0.5)
    m(ad.ones(1, 3)).sum().backward()
    opt.step()
    # d(sum(x W^T))/dW = 1 for x = ones
    np.testing.assert_allclose(m.weight.data, w0 - 0.5, rtol=1e-6)
    assert isinstance(m.weight, nn.Parameter)


# ---------------------------------------------------------------- registration

def test_attribute_assignment_registers_everything():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["gain", "block.fc1.weight", "block.fc1.bias", "block.fc2.weight",
                     "head.0.weight", "head.0.bias", "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.scratch"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc1", "block.fc2",
                                                   "head", "head.0", "head.1"]
    assert len(list(net.modules())) == 7
    assert [n for n, _ in net.block.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["gain"]
    assert net.block.fc2.bias is None
    assert net.block.scale == 2.0 and "scale" not in net.block._parameters
    assert net.get_submodule("head.1") is net.head[1]
    assert "fc1" in dir(net.block)


def test_shared_parameters_and_modules_count_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 6
    assert len(list(seq.modules())) == 2
    # but the state dict has an entry under each name, like PyTorch
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_num_parameters_trainable_only():
    net = Net()
    assert net.num_parameters() == 1 + (3 * 4 + 4) + 4 * 2 + (2 * 2 + 2) + (2 + 1)
    net.block.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 1 + 6 + 3


def test_reassign_and_delete():
    m = Block()
    m.fc1 = nn.Linear(3, 4)  # replacing a module keeps it registered
    assert "fc1" in m._modules
    m.fc2.bias = None  # a parameter slot may hold None
    with pytest.raises(TypeError, match="Parameter or None"):
        m.fc1.weight = ad.randn(4, 3)
    with pytest.raises(TypeError, match="Module or None"):
        m.fc1 = 3
    with pytest.raises(TypeError, match="buffer 'running'"):
        m.running = np.zeros(2)
    m.running = ad.ones(2)
    np.testing.assert_array_equal(m.state_dict()["running"].data, [1, 1])
    del m.fc1
    with pytest.raises(AttributeError, match="fc1"):
        m.fc1
    del m.running
    assert "running" not in m.state_dict()
    m.scale = nn.Parameter(ad.ones(1))  # a plain attribute can become a parameter
    assert "scale" in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="nope"):
        m.nope


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ad.ones(1))
    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Early()
    m = nn.Module()
    with pytest.raises(KeyError, match="no '.'"):
        m.register_buffer("a.b", ad.ones(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", [1.0])
    with pytest.raises(TypeError, match="nn.Parameter"):
        m.register_parameter("w", ad.ones(1))
    m.register_buffer("b", ad.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("b", nn.Parameter(ad.ones(1)))
    with pytest.raises(NotImplementedError, match="forward"):
        m(ad.ones(1))


# ---------------------------------------------------------------- modes, grads, apply

def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head.train(False)
    assert net.training and not net.head[0].training
    with pytest.raises(TypeError, match="bool"):
        net.train("no")


def test_zero_grad():
    net = Net()
    net(ad.randn(5, 3)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    old = grads[0].data
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        assert p.grad is not None and not p.grad.data.any()
    assert old.any()  # a fresh buffer, not written in place
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "Block", "Linear", "Linear", "Sequential", "Net"]


def test_to_dtype_in_place_keeps_parameters_and_optimizer():
    net = Net()
    net.block.register_buffer("count", ad.tensor(3))  # ints keep their dtype
    params = list(net.parameters())
    opt = optim.SGD(net.parameters(), lr=0.1)
    assert net.to(ad.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    for p in net.parameters():
        assert p.dtype == np.float64 and isinstance(p, nn.Parameter) and p.is_leaf
        assert p.requires_grad
    assert net.block.running.dtype == np.float64
    assert net.block.count.dtype == np.int64
    before = net.gain.data.copy()
    net(ad.randn(2, 3, dtype=ad.float64)).sum().backward()
    opt.step()
    assert net.gain.dtype == np.float64 and not np.array_equal(net.gain.data, before)
    net.half()
    assert net.gain.dtype == np.float16 and net.gain.grad.dtype == np.float16
    net.to(dtype="bfloat16")
    assert net.gain.dtype == ad.bfloat16
    with pytest.raises(TypeError, match="floating"):
        net.to(dtype=ad.int64)


def test_to_device(device):
    net = Net().to(device)
    for t in list(net.parameters()) + list(net.buffers()):
        assert t.device.startswith(device)
    y = net(ad.randn(4, 3, device=device))
    assert y.device.startswith(device)
    y.sum().backward()
    assert net.gain.grad.device.startswith(device)
    net.cpu()
    assert all(p.device == "cpu" for p in net.parameters())


# ---------------------------------------------------------------- state dicts

def test_state_dict_contents():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    # own entries before the children's (PyTorch's order); non-persistent buffers left out
    assert list(sd) == ["gain", "block.running", "block.fc1.weight", "block.fc1.bias",
                        "block.fc2.weight", "head.0.weight", "head.0.bias", "head.1.weight",
                        "head.1.bias"]
    for k, v in sd.items():
        assert type(v) is ad.Tensor and not v.requires_grad
    assert sd["gain"].data is net.gain.data  # detached, memory shared (like PyTorch)
    assert net.state_dict(keep_vars=True)["gain"] is net.gain


def test_load_state_dict_copies_in_place_keeping_dtype():
    a, b = Net(), Net().double()
    arrays = [p.data for p in b.parameters()]
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (n, pa), pb, arr in zip(a.named_parameters(), b.parameters(), arrays):
        assert pb.dtype == np.float64 and pb.data is arr
        np.testing.assert_array_equal(pb.data, pa.data.astype(np.float64))
    x = ad.randn(3, 3)
    np.testing.assert_allclose(b(x.double()).data, a(x).data, rtol=1e-5)
    # loading numpy arrays and plain lists works as well
    b.load_state_dict({**a.state_dict(), "block.running": [5.0, 6.0]})
    np.testing.assert_array_equal(b.block.running.data, [5.0, 6.0])


def test_load_state_dict_reports_every_problem_at_once():
    net = Net()
    sd = net.state_dict()
    before = {k: v.data.copy() for k, v in sd.items()}
    bad = {k: ad.zeros(*v.shape) for k, v in sd.items()}
    del bad["gain"], bad["head.1.bias"]
    bad["extra.weight"] = ad.zeros(1)
    bad["block.fc1.weight"] = ad.zeros(4, 5)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "missing keys: gain, head.1.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "block.fc1.weight: checkpoint shape (4, 5), model shape (4, 3)" in msg
    # nothing was copied
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    # non-strict: shape mismatches still raise, missing/unexpected are returned
    del bad["block.fc1.weight"]
    res = net.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["gain", "block.fc1.weight", "head.1.bias"]
    assert res.unexpected_keys == ["extra.weight"]
    assert not net.head[0].weight.data.any()


def test_load_state_dict_invalidates_saved_graphs():
    m = nn.Linear(2, 2)
    y = (m(ad.ones(1, 2)) * m.weight.sum()).sum()
    m.load_state_dict(nn.Linear(2, 2).state_dict())
    with pytest.raises(RuntimeError):
        y.backward()


@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), seed=st.integers(0, 99))
def test_state_dict_round_trip_reproduces_outputs(sizes, seed):
    def make():
        return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
    ad.manual_seed(seed)
    a = make()
    ad.manual_seed(seed + 1000)
    b = make()
    b.load_state_dict(a.state_dict())
    x = ad.randn(3, sizes[0])
    np.testing.assert_array_equal(a(x).data, b(x).data)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va.data, vb.data)


# ---------------------------------------------------------------- calls: scopes and hooks

def test_call_records_module_scopes():
    net = Net()
    y = net(ad.randn(2, 3))
    labels = set()
    for t in ad.topological_order(y):
        s = t.grad_fn.scope if t.grad_fn is not None else None
        if s is not None:
            labels.add(" / ".join(x.label for x in s.path()))
    assert "Net / block: Block / fc1: Linear" in labels
    assert "Net / head: Sequential / 1: Linear" in labels
    assert y.grad_fn.scope.label == "Net" and y.grad_fn.scope.owner is net


def test_no_scope_without_grad_mode():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(ad.current_scope())
            return x
    p = Probe()
    p(ad.ones(1))
    with ad.no_grad():
        p(ad.ones(1))
    assert seen[0].label == "Probe" and seen[0].owner is p and seen[1] is None


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    y = m(ad.ones(3, 2))
    np.testing.assert_allclose(y.data, np.broadcast_to(m.bias.data, (3, 2)))
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    np.testing.assert_allclose(m(ad.ones(1, 2)).data, m.weight.data.sum(1)[None] + m.bias.data,
                               rtol=1e-6)
    assert calls == [(3, 2)]
    order = []
    m.register_forward_hook(lambda *a: order.append("a"))
    m.register_forward_hook(lambda *a: order.append("b"), prepend=True)
    out = m.register_forward_hook(lambda mod, args, out: out * 0)
    assert not m(ad.ones(1, 2)).data.any()
    assert order == ["b", "a"]
    out.remove()


# ---------------------------------------------------------------- repr

def test_nested_repr():
    assert repr(Net()) == (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (fc2): Linear(in_features=4, out_features=2, bias=False)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=2, bias=True)\n"
        "    (1): Linear(in_features=2, out_features=1, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Dropout(0.3)) == "Dropout(p=0.3)"
    assert repr(nn.Module()) == "Module()"


# ---------------------------------------------------------------- containers

def test_sequential_basics():
    layers = [nn.Linear(2, 3), nn.Linear(3, 4), nn.Linear(4, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="integers or slices"):
        seq["0"]
    x = ad.randn(5, 2)
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[1:]
    seq.append(nn.Identity())
    assert len(seq) == 4 and list(seq.state_dict())[-1] == "2.bias"
    new = nn.Linear(3, 4)
    seq[1] = new
    assert seq[1] is new and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[0]
    assert list(seq._modules) == ["0", "1", "2"] and seq[0] is new
    with pytest.raises(TypeError, match="not an nn.Module"):
        nn.Sequential(nn.Linear(1, 1), lambda x: x)


def test_sequential_from_ordered_dict():
    seq = nn.Sequential(OrderedDict(enc=nn.Linear(2, 3), dec=nn.Linear(3, 2)))
    assert seq.enc is seq[0] and seq.dec is seq[-1]
    assert list(seq.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    y = seq(ad.randn(1, 2))
    assert y.grad_fn.scope.label == "dec: Linear"


@given(n=st.integers(0, 6), start=st.integers(-8, 8) | st.none(),
       stop=st.integers(-8, 8) | st.none(), step=st.sampled_from([None, 1, 2, -1, -2]))
def test_sequential_slicing_matches_list_slicing(n, start, stop, step):
    mods = [nn.Identity() for _ in range(n)]
    seq = nn.Sequential(*mods)
    s = slice(start, stop, step)
    assert list(seq[s]) == mods[s]
    ml = nn.ModuleList(mods)
    assert list(ml[s]) == mods[s] and isinstance(ml[s], nn.ModuleList)


@given(n=st.integers(1, 5), k=st.integers(0, 5))
def test_sequential_split_composes(n, k):
    k = min(k, n)
    ad.manual_seed(n * 10 + k)
    seq = nn.Sequential(*[nn.Linear(2, 2) for _ in range(n)])
    x = ad.randn(3, 2)
    np.testing.assert_array_equal(seq[k:](seq[:k](x)).data, seq(x).data)


def test_module_list():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2)).extend([nn.Linear(2, 2)])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear"]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    assert ml[-1].out_features == 2 and len(ml) == 4
    ml += [nn.Identity()]
    assert len(ml) == 5
    assert len(list(ml.parameters())) == 6

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = ml
    assert list(Holder().state_dict())[0] == "layers.1.weight"
    with pytest.raises(NotImplementedError, match="iterate"):
        ml(ad.ones(1))


@pytest.mark.parametrize("cls", [nn.ModuleList, nn.Sequential])
def test_insert_rejects_a_non_module_and_keeps_the_container(cls):
    mods = [nn.ReLU(), nn.Tanh()]
    c = cls(mods) if cls is nn.ModuleList else cls(*mods)
    with pytest.raises(TypeError, match=f"{cls.__name__}.insert.*int"):
        c.insert(0, 3)
    assert list(c) == mods and list(c._modules) == ["0", "1"]


def test_module_dict():
    md = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.Identity()})
    md["c"] = nn.Linear(2, 1)
    assert list(md) == ["a", "b", "c"] and len(md) == 3 and "b" in md
    md["a"] = nn.Linear(1, 3)  # replacing keeps the position
    assert list(md.keys()) == ["a", "b", "c"] and md["a"].out_features == 3
    assert md.pop("b").__class__ is nn.Identity and "b" not in md
    assert [k for k, _ in md.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    with pytest.raises(KeyError, match="keys"):
        md["zzz"]
    with pytest.raises(TypeError, match="nn.Module"):
        md["d"] = 3
    md.update([("e", nn.Identity())])
    assert list(md) == ["a", "c", "e"]
    md.clear()
    assert len(md) == 0


# ---------------------------------------------------------------- functional_call

def test_functional_call_swaps_and_restores():
    m = nn.Linear(3, 2, dtype=ad.float64)
    w = ad.randn(2, 3, dtype=ad.float64, requires_grad=True)
    x = ad.randn(4, 3, dtype=ad.float64)
    y = nn.functional_call(m, {"weight": w}, x)
    np.testing.assert_allclose(y.data, x.data @ w.data.T + m.bias.data)
    assert isinstance(m.weight, nn.Parameter) and m.weight is not w
    y.sum().backward()
    np.testing.assert_allclose(w.grad.data, np.broadcast_to(x.data.sum(0), (2, 3)))
    assert m.weight.grad is None
    with pytest.raises(KeyError, match="nope"):
        nn.functional_call(m, {"nope": w}, x)


def test_slicing_keeps_the_scope_labels_of_the_original():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2))
    ml = nn.ModuleList(list(seq))
    tail, mtail, both = seq[1:], ml[1:], ml + ml
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"]
    assert list(mtail._modules) == ["0", "1"] and len(both) == 6
    y = seq(ad.ones(1, 2))
    assert y.grad_fn.scope.label == "2: Linear"
    assert tail(ad.ones(1, 2)).grad_fn.scope.label == "2: Linear"

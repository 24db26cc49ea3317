"""The bad-input catalogue (issue 12): one row per invalid or edge-case call.

Error rows: (call, expected exception type, words the message must contain — the op, the
offending argument, the shapes). Every error message must also be one line, short, and free
of array dumps; an error that carries the op as data (`.op`) must carry the right one.

Value rows: calls torch computes (zero-size and 0-d tensors, in-place ops, degenerate
statistics, arrays changed after the forward) with the result torch gives; they catch the
silently wrong and the wrongly refused.

Rows the engine fails today are in PENDING: they run as strict xfails, so each one fails
loudly (XPASS) the moment its fix lands and must then leave PENDING.
"""
import math
import operator

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as F
from nn import init, optim

PENDING_REASON = "engine fix pending (issue 12 phase 2)"
MAX_MESSAGE = 300  # characters: one readable line, never an array dump


def X(*shape, requires_grad=True):
    """A float64 tensor with distinct values in [-1, 1] (shape (2, 3) by default)."""
    shape = shape or (2, 3)
    n = math.prod(shape)
    return ad.tensor(np.linspace(-1, 1, n).reshape(shape), dtype=ad.float64,
                     requires_grad=requires_grad)


def S(value=3.0):
    """A 0-d float64 tensor that requires grad."""
    return ad.tensor(value, dtype=ad.float64, requires_grad=True)


ROWS = []  # (id, call, expected exception type or None, words or check)


def bad(id, call, exc, *words):
    ROWS.append((id, call, exc, words))


def good(id, call, check):
    """`call()` must succeed; `check(result)` asserts what torch gives."""
    ROWS.append((id, call, None, check))


# ---------------------------------------------------------------- dims out of range: IndexError
# On a (2, 3) tensor the valid dims are -2..1 (-3..2 where the op adds one); 5 and -7 are
# never valid. The message names the op and the dim, and says it is out of range (for the
# tensor's rank, with the valid range, as torch's does).
DIM_OPS = {
    "sum": lambda x, d: x.sum(d),
    "mean": lambda x, d: x.mean(d),
    "var": lambda x, d: x.var(d),
    "std": lambda x, d: x.std(d),
    "max": lambda x, d: x.max(d),
    "min": lambda x, d: x.min(d),
    "argmax": lambda x, d: x.argmax(d),
    "argmin": lambda x, d: x.argmin(d),
    "logsumexp": lambda x, d: x.logsumexp(d),
    "any": lambda x, d: (x > 0).any(d),
    "all": lambda x, d: (x > 0).all(d),
    "softmax": lambda x, d: ad.softmax(x, d),
    "log_softmax": lambda x, d: ad.log_softmax(x, d),
    "squeeze": lambda x, d: x.squeeze(d),
    "unsqueeze": lambda x, d: x.unsqueeze(d),
    "flatten": lambda x, d: x.flatten(d),
    "flatten(end)": lambda x, d: x.flatten(0, d),
    "transpose": lambda x, d: x.transpose(0, d),
    "permute": lambda x, d: x.permute(d, 0),
    "swapaxes": lambda x, d: x.swapaxes(d, 0),
    "concatenate": lambda x, d: ad.concatenate([x, x], axis=d),
    "stack": lambda x, d: ad.stack([x, x], axis=d),
    "split": lambda x, d: ad.split(x, 1, axis=d),
    "F.softmax": lambda x, d: F.softmax(x, dim=d),
    "nn.LogSoftmax": lambda x, d: nn.LogSoftmax(d)(x),
}
for _name, _fn in DIM_OPS.items():
    _op = {"nn.LogSoftmax": "log_softmax"}.get(_name, _name.split("(")[0].split(".")[-1])
    for _dim in (5, -7):
        bad(f"dim {_dim}: {_name}", lambda fn=_fn, d=_dim: fn(X(), d), IndexError,
            _op, str(_dim), "out of range")
# 0-d tensors accept dims 0 and -1 only
for _name in ("sum", "mean", "argmax", "logsumexp", "softmax", "squeeze"):
    bad(f"dim 1 of a 0-d tensor: {_name}", lambda fn=DIM_OPS[_name]: fn(S(), 1), IndexError,
        _name, "1")
bad("dim 2 of a 0-d tensor: unsqueeze", lambda: S().unsqueeze(2), IndexError, "unsqueeze", "2")
bad("repeated dims: sum", lambda: X().sum((0, 0)), ValueError, "sum", "0")
bad("repeated dims: permute", lambda: X().permute(0, 0), ValueError, "0, 0", "(2, 3)")
bad("flatten start after end", lambda: X(2, 3, 4).flatten(2, 1), ValueError, "flatten", "2", "1")

# ---------------------------------------------------------------- shapes: ValueError
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
    "maximum": ad.maximum, "minimum": ad.minimum,
    "where": lambda a, b: ad.where(a > 0, a, b),
    "equal": lambda a, b: a == b, "less": lambda a, b: a < b,
    "greater_equal": lambda a, b: a >= b,
    # & and | on bool tensors are torch's bitwise_and / bitwise_or (logical on bools)
    "bitwise_and": lambda a, b: (a > 0) & (b > 0), "bitwise_or": lambda a, b: (a > 0) | (b > 0),
}
for _name, _fn in BINARY.items():
    bad(f"broadcast: {_name}", lambda fn=_fn: fn(X(), X(4)), ValueError, _name, "(2, 3)",
        "(4,)")
for _symbol, _name, _fn in (("+=", "add_", operator.iadd), ("-=", "sub_", operator.isub),
                           ("*=", "mul_", operator.imul), ("/=", "div_", operator.itruediv)):
    bad(f"in-place result larger than the target: {_symbol}",
        lambda fn=_fn: fn(X(3, requires_grad=False), X()), ValueError, _name, "(3,)", "(2, 3)")
bad("matmul: inner dims", lambda: X() @ X(4, 5), ValueError, "matmul", "(2, 3)", "(4, 5)")
bad("matmul: vectors", lambda: X(3) @ X(4), ValueError, "matmul", "(3,)", "(4,)")
bad("matmul: batch dims", lambda: X(2, 2, 3) @ X(3, 3, 2), ValueError, "matmul", "(2, 2, 3)",
    "(3, 3, 2)")
bad("matmul: 0-d right", lambda: X() @ S(), ValueError, "matmul", "(2, 3)", "()")
bad("matmul: 0-d left", lambda: S() @ X(3), ValueError, "matmul", "()", "(3,)")
bad("linear: weight", lambda: ad.linear(X(), X(4, 5)), ValueError, "linear", "(2, 3)", "(4, 5)")
bad("linear: bias", lambda: ad.linear(X(), X(4, 3), X(3)), ValueError, "linear", "(3,)", "4")
bad("reshape: size", lambda: X().reshape(4, 2), ValueError, "reshape", "(2, 3)", "(4, 2)")
bad("reshape: two -1", lambda: X().reshape(-1, -1), ValueError, "reshape", "(2, 3)", "-1")
bad("reshape: -2", lambda: X().reshape(-2, 3), ValueError, "reshape", "-2", "(2, 3)")
bad("broadcast_to: incompatible", lambda: X().broadcast_to((4, 3)), ValueError,
    "broadcast_to", "(2, 3)", "(4, 3)")
bad("broadcast_to: fewer dims", lambda: X().broadcast_to((3,)), ValueError, "broadcast_to",
    "(2, 3)", "(3,)")
bad("expand: incompatible", lambda: X().expand(4, 3), ValueError, "(2, 3)", "(4, 3)")
bad("concatenate: shapes", lambda: ad.concatenate([X(), X(2, 4)]), ValueError, "concatenate",
    "(2, 3)", "(2, 4)")
bad("concatenate: 0-d tensors", lambda: ad.cat([S(), S()]), ValueError, "concatenate", "0-d")
bad("concatenate: nothing", lambda: ad.concatenate([]), ValueError, "concatenate")
bad("stack: shapes", lambda: ad.stack([X(), X(3, 2)]), ValueError, "stack", "(2, 3)", "(3, 2)")
bad("stack: nothing", lambda: ad.stack([]), ValueError, "stack")
bad("split: sizes", lambda: ad.split(X(), [1, 1], dim=1), ValueError, "split", "[1, 1]", "3")
bad("split: size 0", lambda: ad.split(X(), 0, dim=1), ValueError, "split", "0")
bad("setitem: value shape", lambda: X(requires_grad=False).__setitem__(0, X(4)), ValueError,
    "setitem", "(4,)", "(2, 3)")
bad("setitem: slice shape",
    lambda: X(requires_grad=False).__setitem__((slice(None), slice(0, 1)), X(2, 2)),
    ValueError, "setitem", "(2, 2)", "(2, 3)")
bad("backward: gradient shape", lambda: (X() * 2).backward(X(3)), ValueError, "backward",
    "(3,)", "(2, 3)")

# ---------------------------------------------------------------- indexing: IndexError
bad("getitem: int out of range", lambda: X()[5], IndexError, "getitem", "5", "(2, 3)")
bad("getitem: too many indices", lambda: X()[0, 0, 0], IndexError, "getitem", "(2, 3)")
bad("getitem: float index", lambda: X()[1.5], IndexError, "getitem", "1.5", "(2, 3)")
bad("getitem: mask shape", lambda: X()[np.ones(3, dtype=bool)], IndexError, "getitem",
    "(3,)", "(2, 3)")
bad("getitem: float array", lambda: X()[np.array([0.5])], IndexError, "getitem", "float64",
    "(2, 3)")
bad("getitem: long index array", lambda: X()[np.arange(1000) + 5], IndexError, "getitem",
    "(2, 3)", "(1000,)", "index 5")  # names the array by shape, the bad value, no dump
bad("embedding: id too large", lambda: nn.Embedding(3, 2)(np.array([5])), IndexError,
    "Embedding", "5", "3")
bad("embedding: negative id", lambda: nn.Embedding(3, 2)(np.array([-1])), IndexError,
    "Embedding", "-1")
bad("cross_entropy: class out of range", lambda: F.cross_entropy(X(), np.array([0, 7])),
    IndexError, "cross_entropy", "7", "3")
bad("nll_loss: class out of range", lambda: F.nll_loss(X(), np.array([0, 9])), IndexError,
    "nll_loss", "9", "3")
bad("softmax_cross_entropy: class out of range",
    lambda: ad.softmax_cross_entropy(X(), np.array([0, 7])), IndexError,
    "softmax_cross_entropy", "7", "3")
bad("one_hot: class too large", lambda: ad.one_hot(np.array([5]), 3), ValueError, "one_hot",
    "5", "3")
bad("one_hot: negative class", lambda: ad.one_hot(np.array([-1]), 3), ValueError, "one_hot",
    "-1")

# ---------------------------------------------------------------- argument types: TypeError
bad("reshape('a', 3)", lambda: X().reshape("a", 3), TypeError, "reshape", "'a'")
bad("reshape(1.5, 6)", lambda: X().reshape(1.5, 6), TypeError, "reshape", "1.5")
bad("reshape(None, 3)", lambda: X().reshape(None, 3), TypeError, "reshape", "None")
bad("reshape([2, 'a'])", lambda: X().reshape([2, "a"]), TypeError, "reshape", "'a'")
bad("sum(dim='x')", lambda: X().sum("x"), TypeError, "sum", "'x'")
bad("sum(dim=1.0)", lambda: X().sum(1.0), TypeError, "sum", "1.0")
bad("mean(dim='x')", lambda: X().mean("x"), TypeError, "mean", "'x'")
bad("softmax(dim='x')", lambda: ad.softmax(X(), "x"), TypeError, "softmax", "'x'")
bad("squeeze('a')", lambda: X().squeeze("a"), TypeError, "squeeze", "'a'")
bad("unsqueeze(1.5)", lambda: X().unsqueeze(1.5), TypeError, "unsqueeze", "1.5")
bad("flatten(0.5)", lambda: X().flatten(0.5), TypeError, "flatten", "0.5")
bad("transpose('a', 0)", lambda: X().transpose("a", 0), TypeError, "transpose", "'a'")
bad("concatenate(axis=1.5)", lambda: ad.concatenate([X(), X()], axis=1.5), TypeError,
    "concatenate", "1.5")
bad("stack(axis='a')", lambda: ad.stack([X(), X()], axis="a"), TypeError, "stack", "'a'")
bad("split(x, 'a')", lambda: ad.split(X(), "a"), TypeError, "split", "'a'")
bad("tensor('abc')", lambda: ad.tensor("abc"), TypeError, "tensor", "<U3")
bad("tensor(object())", lambda: ad.tensor(object()), TypeError, "tensor", "object")
bad("tensor({'a': 1})", lambda: ad.tensor({"a": 1}), TypeError, "tensor", "dict")
bad("tensor([1, 'a'])", lambda: ad.tensor([1, "a"]), TypeError, "tensor")
bad("tensor(dtype='float99')", lambda: ad.tensor([1.0], dtype="float99"), TypeError,
    "float99")
bad("zeros('a')", lambda: ad.zeros("a"), TypeError, "zeros", "'a'")
bad("zeros(2.5)", lambda: ad.zeros(2.5), TypeError, "zeros", "2.5")
bad("ones((2, 'a'))", lambda: ad.ones((2, "a")), TypeError, "ones", "'a'")
bad("full((2,), 'a')", lambda: ad.full((2,), "a"), TypeError, "full", "'a'")
bad("randn('a')", lambda: ad.randn("a"), TypeError, "randn", "'a'")
bad("randn(2.5)", lambda: ad.randn(2.5), TypeError, "randn", "2.5")
bad("arange('a')", lambda: ad.arange("a"), TypeError, "arange", "'a'")
bad("eye('a')", lambda: ad.eye("a"), TypeError, "eye", "'a'")
bad("manual_seed('a')", lambda: ad.manual_seed("a"), TypeError, "manual_seed", "'a'")
bad("tensor + 'a'", lambda: X() + "a", TypeError, "add", "str")
bad("tensor * None", lambda: X() * None, TypeError, "mul", "None")
bad("tensor @ 'a'", lambda: X() @ "a", TypeError, "matmul", "str")
bad("tensor ** 'a'", lambda: X() ** "a", TypeError, "pow", "str")
bad("int tensor requires_grad", lambda: ad.tensor([1, 2], requires_grad=True), TypeError,
    "int64", "require")
bad("int requires_grad_()", lambda: ad.tensor([1, 2]).requires_grad_(), TypeError, "int64")
bad("len() of a 0-d tensor", lambda: len(S()), TypeError, "0-d")
bad("SGD(5)", lambda: optim.SGD(5), TypeError, "SGD", "int")
bad("SGD(tensor)", lambda: optim.SGD(X()), TypeError, "SGD", "Tensor")
bad("SGD([1, 2])", lambda: optim.SGD([1, 2]), TypeError, "SGD", "int")
bad("Adam('abc')", lambda: optim.Adam("abc"), TypeError, "Adam", "str")
bad("SGD(lr='a')", lambda: optim.SGD([X()], lr="a"), TypeError, "SGD", "lr", "'a'")
bad("Adam(betas='ab')", lambda: optim.Adam([X()], betas="ab"), TypeError, "Adam", "betas")
bad("Linear('a', 3)", lambda: nn.Linear("a", 3), TypeError, "Linear", "in_features", "'a'")
bad("Linear(2.5, 3)", lambda: nn.Linear(2.5, 3), TypeError, "Linear", "in_features", "2.5")
bad("Conv2d(3, 'a', 3)", lambda: nn.Conv2d(3, "a", 3), TypeError, "Conv2d", "out_channels")
bad("Embedding(3.5, 2)", lambda: nn.Embedding(3.5, 2), TypeError, "Embedding", "3.5")
bad("BatchNorm1d('a')", lambda: nn.BatchNorm1d("a"), TypeError, "BatchNorm1d", "'a'")
bad("LayerNorm('a')", lambda: nn.LayerNorm("a"), TypeError, "LayerNorm", "'a'")
bad("Dropout('a')", lambda: nn.Dropout("a"), TypeError, "Dropout", "'a'")
bad("Sequential(5)", lambda: nn.Sequential(5), TypeError, "Sequential", "int")
bad("ModuleList([5])", lambda: nn.ModuleList([5]), TypeError, "ModuleList", "int")
bad("Embedding(float ids)", lambda: nn.Embedding(3, 2)(np.array([0.5])), TypeError,
    "Embedding", "float64")
bad("mse_loss(x, 'a')", lambda: F.mse_loss(X(), "a"), TypeError, "mse_loss", "str")
bad("cross_entropy(x, 'a')", lambda: F.cross_entropy(X(), "a"), TypeError, "cross_entropy")
bad("init.normal_(5)", lambda: init.normal_(5), TypeError, "normal_", "int")
bad("clip_grad_norm_(max_norm='a')", lambda: nn.utils.clip_grad_norm_([X()], "a"), TypeError,
    "clip_grad_norm_", "'a'")
bad("StepLR(5, 1)", lambda: optim.lr_scheduler.StepLR(5, 1), TypeError, "StepLR", "int")

# ---------------------------------------------------------------- values out of range: ValueError
bad("randn(-1)", lambda: ad.randn(-1), ValueError, "randn", "-1")
bad("zeros(-2)", lambda: ad.zeros(-2), ValueError, "zeros", "-2")
bad("eye(-1)", lambda: ad.eye(-1), ValueError, "eye", "-1")
bad("arange(step=0)", lambda: ad.arange(0, 5, 0), ValueError, "arange", "step")
bad("linspace(steps=-1)", lambda: ad.linspace(0, 1, -1), ValueError, "linspace", "-1")
bad("dropout(p=1.5)", lambda: F.dropout(X(), p=1.5), ValueError, "dropout", "1.5")
bad("Dropout(-0.1)", lambda: nn.Dropout(-0.1), ValueError, "Dropout", "-0.1")
bad("SGD(lr=-1)", lambda: optim.SGD([X()], lr=-1), ValueError, "SGD", "lr", "-1")
bad("SGD([])", lambda: optim.SGD([]), ValueError, "SGD", "empty")
bad("SGD(momentum=-0.5)", lambda: optim.SGD([X()], lr=0.1, momentum=-0.5), ValueError, "SGD",
    "momentum")
bad("SGD(nesterov without momentum)", lambda: optim.SGD([X()], lr=0.1, nesterov=True),
    ValueError, "SGD", "nesterov", "momentum")
bad("SGD(weight_decay=-1)", lambda: optim.SGD([X()], lr=0.1, weight_decay=-1), ValueError,
    "SGD", "weight_decay")
bad("Adam(betas=(1.5, 0.9))", lambda: optim.Adam([X()], betas=(1.5, 0.9)), ValueError, "Adam",
    "betas", "1.5")
bad("Adam(eps=-1)", lambda: optim.Adam([X()], eps=-1), ValueError, "Adam", "eps")
bad("RMSprop(alpha=-1)", lambda: optim.RMSprop([X()], alpha=-1), ValueError, "RMSprop",
    "alpha")
bad("Linear(-1, 3)", lambda: nn.Linear(-1, 3), ValueError, "Linear", "in_features", "-1")
bad("Conv2d(kernel_size=0)", lambda: nn.Conv2d(3, 4, 0), ValueError, "Conv2d", "kernel_size")
bad("Conv2d(stride=0)", lambda: nn.Conv2d(3, 4, 3, stride=0), ValueError, "Conv2d", "stride")
bad("Conv2d(padding=-1)", lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "Conv2d",
    "padding")
bad("Embedding(-1, 2)", lambda: nn.Embedding(-1, 2), ValueError, "Embedding", "-1")
bad("GroupNorm(4, 6)", lambda: nn.GroupNorm(4, 6), ValueError, "GroupNorm", "4", "6")
bad("Linear: input features", lambda: nn.Linear(3, 4)(X(2, 5)), ValueError, "Linear",
    "(2, 5)", "3")
bad("Conv2d: input channels", lambda: nn.Conv2d(3, 4, 3)(X(1, 2, 5, 5)), ValueError, "Conv2d",
    "(1, 2, 5, 5)", "3")
bad("Conv2d: kernel larger than input", lambda: nn.Conv2d(1, 1, 5)(ad.ones(1, 1, 3, 3)), ValueError,
    "conv2d", "(1, 1, 3, 3)", "5")
bad("BatchNorm1d: features", lambda: nn.BatchNorm1d(3)(X(4, 5)), ValueError, "BatchNorm1d",
    "(4, 5)", "3")
bad("LayerNorm: shape", lambda: nn.LayerNorm(3)(X(2, 4)), ValueError, "layer_norm", "(3,)",
    "(2, 4)")
bad("max_pool2d: kernel larger than input", lambda: F.max_pool2d(X(1, 1, 3, 3), 5), ValueError,
    "max_pool2d", "(1, 1, 3, 3)", "5")
bad("max_pool2d(stride=0)", lambda: F.max_pool2d(X(1, 1, 4, 4), 2, stride=0), ValueError,
    "max_pool2d", "stride")
bad("cross_entropy: target shape", lambda: F.cross_entropy(X(), np.array([0, 1, 2])),
    ValueError, "cross_entropy", "(2, 3)", "(3,)")
bad("cross_entropy: weight length", lambda: F.cross_entropy(X(), np.array([0, 1]),
                                                            weight=np.ones(5)),
    ValueError, "cross_entropy", "weight", "(5,)")
bad("cross_entropy: label_smoothing", lambda: F.cross_entropy(X(), np.array([0, 1]),
                                                              label_smoothing=1.5),
    ValueError, "cross_entropy", "label_smoothing", "1.5")
bad("mse_loss: reduction", lambda: F.mse_loss(X(), X(), reduction="bad"), ValueError,
    "mse_loss", "reduction", "'bad'")
bad("mse_loss: shapes", lambda: F.mse_loss(X(), X(3, 2)), ValueError, "mse_loss", "(2, 3)",
    "(3, 2)")
bad("l1_loss: shapes", lambda: F.l1_loss(X(), X(3, 2)), ValueError, "l1_loss", "(2, 3)",
    "(3, 2)")
bad("binary_cross_entropy: shapes", lambda: F.binary_cross_entropy(X().sigmoid(), X(3)),
    ValueError, "binary_cross_entropy", "(2, 3)", "(3,)")
bad("binary_cross_entropy: not probabilities",
    lambda: F.binary_cross_entropy(ad.full((2,), 1.5), ad.ones(2)), ValueError,
    "binary_cross_entropy", "1.5")
bad("huber_loss(delta=-1)", lambda: F.huber_loss(X(), X(), delta=-1), ValueError,
    "huber_loss", "delta", "-1")
bad("binary_cross_entropy_with_logits: pos_weight",
    lambda: F.binary_cross_entropy_with_logits(X(), ad.ones(2, 3), pos_weight=np.ones(5)),
    ValueError, "binary_cross_entropy_with_logits", "pos_weight", "(5,)")
bad("xavier_uniform_ of a vector", lambda: init.xavier_uniform_(ad.ones(3)), ValueError,
    "(3,)")
bad("kaiming_uniform_(mode='bad')", lambda: init.kaiming_uniform_(ad.ones(3, 3), mode="bad"),
    ValueError, "mode", "'bad'")
bad("calculate_gain('bad')", lambda: init.calculate_gain("bad"), ValueError,
    "calculate_gain", "'bad'")
bad("item() of 6 elements", lambda: X().item(), ValueError, "item", "(2, 3)")
bad("bool() of 6 elements", lambda: bool(X()), ValueError, "ambiguous", "(2, 3)")
bad("device='tpu'", lambda: ad.ones(2, device="tpu"), ValueError, "'tpu'")


# ---------------------------------------------------------------- autograd misuse: RuntimeError
def _backward_twice():
    y = X().exp().sum()
    y.backward()
    y.backward()


def _saved_output_overwritten():
    y = (X() * 1).exp()
    y += 1
    y.sum().backward()


bad("backward of a non-scalar", lambda: (X() * 2).backward(), RuntimeError, "backward",
    "(2, 3)", "gradient")
bad("backward without grad", lambda: ad.ones(2).sum().backward(), RuntimeError, "backward",
    "require")
bad("backward twice", _backward_twice, RuntimeError, "exp", "retain_graph")
bad("saved output overwritten", _saved_output_overwritten, RuntimeError, "exp", "in-place")
bad("in-place on a leaf", lambda: X().__iadd__(1), RuntimeError, "add_", "leaf")
bad("grad of an unused input", lambda: ad.grad((X() * 2).sum(), [X(2)]), RuntimeError, "grad",
    "allow_unused")
bad("requires_grad_(False) on a non-leaf", lambda: (X() * 2).requires_grad_(False),
    RuntimeError, "requires_grad_", "detach")
bad("hook on a tensor without grad", lambda: ad.ones(2).register_hook(print), RuntimeError,
    "register_hook", "require")
if not ad.cuda.is_available():
    bad("device='cuda:0' without a GPU", lambda: ad.ones(2, device="cuda:0"), RuntimeError,
        "cuda:0", "CUDA")


# ---------------------------------------------------------------- valid programs torch computes
def _grads(fn, *inputs):
    """Run fn(*inputs).sum().backward(); the inputs' gradients as arrays (None -> zeros)."""
    fn(*inputs).sum().backward()
    return [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in inputs]


def _values(result):
    """The values of a reduction, whether it returns them or (values, indices)."""
    return result[0] if isinstance(result, tuple) else result


def expect(shape, values=None, grad_of=None, grad=None):
    """A check: the result has `shape` (and `values`); with grad_of, backward of the
    result's sum gives `grad` on that input."""
    def check(result):
        out, inputs = result if isinstance(result, tuple) and len(result) == 2 and \
            isinstance(result[1], list) else (result, [])
        out = _values(out)
        assert tuple(out.shape) == tuple(shape)
        if values is not None:
            np.testing.assert_allclose(out.numpy(), values, rtol=1e-12, atol=1e-12)
        if grad is not None:
            if out.ndim == 0 or out.numel():
                out.sum().backward()
            got = inputs[0].grad
            got = np.zeros(inputs[0].shape) if got is None else got.numpy()
            np.testing.assert_allclose(got, grad, rtol=1e-12, atol=1e-12)
    return check


def with_inputs(fn, *make):
    """A call returning (fn(*inputs), [inputs]) so a check can differentiate it."""
    def call():
        inputs = [m() for m in make]
        return fn(*inputs), inputs
    return call


# 0-d tensors accept dim 0 and -1 (torch)
for _name, _fn, _value in (("sum(0)", lambda s: s.sum(0), 3.0),
                           ("sum(-1)", lambda s: s.sum(-1), 3.0),
                           ("mean(0)", lambda s: s.mean(0), 3.0),
                           ("logsumexp(-1)", lambda s: s.logsumexp(-1), 3.0),
                           ("softmax(0)", lambda s: ad.softmax(s, 0), 1.0),
                           ("log_softmax(-1)", lambda s: ad.log_softmax(s, -1), 0.0),
                           ("squeeze(0)", lambda s: s.squeeze(0), 3.0),
                           ("squeeze(-1)", lambda s: s.squeeze(-1), 3.0),
                           ("max(0)", lambda s: s.max(0), 3.0)):
    good(f"0-d: {_name}", with_inputs(_fn, S), expect((), _value, grad=np.float64(
        0.0 if "softmax" in _name else 1.0)))
good("0-d: unsqueeze(-1)", lambda: S().unsqueeze(-1), expect((1,), [3.0]))
good("0-d: flatten(0)", lambda: S().flatten(0), expect((1,), [3.0]))
good("0-d: argmax(0)", lambda: S().argmax(0), expect((), 0))
good("squeeze of a dim that is not 1", lambda: X().squeeze(0), expect((2, 3)))

# zero-size tensors flow wherever torch lets them
good("softmax of (0,)", with_inputs(lambda x: ad.softmax(x, 0), lambda: X(0)),
     expect((0,), grad=np.zeros(0)))
good("softmax of (0, 1) over dim 0", with_inputs(lambda x: ad.softmax(x, 0), lambda: X(0, 1)),
     expect((0, 1), grad=np.zeros((0, 1))))
good("log_softmax of (0, 1) over dim 1",
     with_inputs(lambda x: ad.log_softmax(x, 1), lambda: X(0, 1)), expect((0, 1)))
good("max over a non-empty dim of (0, 3)", lambda: ad.zeros((0, 3)).max(axis=1), expect((0,)))
good("logsumexp over a non-empty dim of (0, 3)", lambda: ad.zeros((0, 3)).logsumexp(1),
     expect((0,)))
good("sum of (0, 3)", with_inputs(lambda x: x.sum(), lambda: X(0, 3)),
     expect((), 0.0, grad=np.zeros((0, 3))))
good("mean over the empty dim of (0, 3)", lambda: X(0, 3).mean(0),
     expect((3,), [np.nan] * 3))
good("matmul (0, 3) @ (3, 2)", with_inputs(lambda a: a @ X(3, 2), lambda: X(0, 3)),
     expect((0, 2), grad=np.zeros((0, 3))))
good("matmul (2, 0) @ (0, 3)", with_inputs(lambda a: a @ X(0, 3), lambda: X(2, 0)),
     expect((2, 3), np.zeros((2, 3)), grad=np.zeros((2, 0))))
good("reshape (0, 3) -> (3, 0)", lambda: X(0, 3).reshape(3, 0), expect((3, 0)))
good("concatenate with an empty tensor", lambda: ad.concatenate([X(0, 3), X()]),
     expect((2, 3), np.linspace(-1, 1, 6).reshape(2, 3)))
good("linear on (0, 3)", with_inputs(lambda x: nn.Linear(3, 2).double()(x), lambda: X(0, 3)),
     expect((0, 2), grad=np.zeros((0, 3))))

# degenerate statistics
good("var(correction=1) of one element", with_inputs(lambda x: x.var(correction=1),
                                                     lambda: ad.tensor([3.0], requires_grad=True)),
     expect((), np.nan, grad=[np.nan]))
good("std(correction=1) of one element", with_inputs(lambda x: x.std(correction=1),
                                                     lambda: ad.tensor([3.0], requires_grad=True)),
     expect((), np.nan, grad=[np.nan]))
good("std gradient at zero spread is 0",
     with_inputs(lambda x: x.std(axis=1, correction=1), lambda: ad.ones((2, 3), dtype=ad.float64,
                                                                          requires_grad=True)),
     expect((2,), [0.0, 0.0], grad=np.zeros((2, 3))))
good("max of [nan, 1, 2]: value nan, gradient to the nan",
     with_inputs(lambda x: x.max(), lambda: ad.tensor([np.nan, 1.0, 2.0], requires_grad=True)),
     expect((), np.nan, grad=[1.0, 0.0, 0.0]))
good("maximum propagates nan", lambda: ad.maximum(ad.tensor([np.nan, 1.0]), ad.tensor([0.0, 0.0])),
     expect((2,), [np.nan, 1.0]))
good("max_pool2d of an int tensor",
     lambda: ad.max_pool2d(ad.tensor(np.arange(16).reshape(1, 1, 4, 4)), 2),
     expect((1, 1, 2, 2), [[[[5, 7], [13, 15]]]]))


# in-place ops whose saved input is their own target; ops saving only what they need
def _clone_then(op):
    def call():
        x, w = X(), X(3)
        c = x.clone()
        if op == "*=":
            c *= w
        elif op == "/=":
            c /= w + 2
        c.sum().backward()
        return x.grad.numpy(), w.grad.numpy()
    return call


def _expect_clone_grads(op):
    x, w = np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(-1, 1, 3)
    if op == "*=":
        gx, gw = np.broadcast_to(w, (2, 3)), x.sum(0)
    else:
        gx, gw = np.broadcast_to(1 / (w + 2), (2, 3)), -(x / (w + 2) ** 2).sum(0)

    def check(result):
        np.testing.assert_allclose(result[0], gx, rtol=1e-12)
        np.testing.assert_allclose(result[1], gw, rtol=1e-12)
    return check


for _op in ("*=", "/="):
    good(f"c = x.clone(); c {_op} w", _clone_then(_op), _expect_clone_grads(_op))


def _write_after(make_y, write):
    """y = make_y(c) with c = x * 1; then an in-place write; the gradient of x."""
    def call():
        x = X(1, 1, 4, 4)
        c = x * 1
        y = make_y(c)
        write(c, y)
        y.sum().backward()
        return x.grad.numpy()
    return call


def _close_to(expected):
    def check(result):
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    return check


_W = np.linspace(0.5, 2, 4)
good("y = c @ W; c += 1 (matmul needs only W for c's gradient)",
     _write_after(lambda c: c @ ad.tensor(_W), lambda c, y: c.__iadd__(1)),
     _close_to(np.broadcast_to(_W, (1, 1, 4, 4))))  # dy/dc[..., i, j] = W[j] (torch)
good("y = c ** 2; y += 1 (pow needs its input, not its output)",
     _write_after(lambda c: c ** 2, lambda c, y: y.__iadd__(1)),
     _close_to(2 * np.linspace(-1, 1, 16).reshape(1, 1, 4, 4)))
good("y = max_pool2d(c); y += 1 (max_pool2d needs the argmax, not its output)",
     _write_after(lambda c: F.max_pool2d(c, 2), lambda c, y: y.__iadd__(1)),
     _close_to(np.array([0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1.0]).reshape(1, 1, 4, 4)))


def _create_graph_keeps_the_graph():
    x = X()
    y = (x.exp() * x).sum()
    y.backward(create_graph=True)  # torch: retain_graph defaults to create_graph
    (g2,) = ad.grad((x.grad * x.grad).sum(), [x])
    return g2.numpy()


_x = np.linspace(-1, 1, 6).reshape(2, 3)
good("backward(create_graph=True) keeps the graph for a second differentiation",
     _create_graph_keeps_the_graph,
     _close_to(2 * (np.exp(_x) * (1 + _x)) * (np.exp(_x) * (2 + _x))))


# an op that returns its input unchanged still makes a new tensor (torch): a hook or
# retain_grad on the result sees only the gradient that flows through it
_SAME_SHAPE = {"reshape": lambda x: x.reshape(2, 3), "broadcast_to": lambda x: x.broadcast_to((2, 3)),
               "expand": lambda x: x.expand(2, 3)}


def _hook_on(make):
    def call():
        x = X()
        y = make(x)
        y.register_hook(lambda g: g * 2)
        ((x * 3).sum() + y.sum()).backward()
        return x.grad.numpy()
    return call


def _retain_on(make):
    def call():
        x = X()
        y = make(x)
        y.retain_grad()
        ((x * 3).sum() + y.sum()).backward()
        return y.grad.numpy(), x.grad.numpy()
    return call


def _retained(y_grad, x_grad):
    def check(result):
        np.testing.assert_allclose(result[0], y_grad)
        np.testing.assert_allclose(result[1], x_grad)
    return check


for _name, _make in _SAME_SHAPE.items():
    good(f"hook on x.{_name} to its own shape", _hook_on(_make), _close_to(np.full((2, 3), 5.0)))
good("retain_grad on x.reshape to its own shape", _retain_on(_SAME_SHAPE["reshape"]),
     _retained(np.ones((2, 3)), np.full((2, 3), 4.0)))


def _second_order_of(fn):
    """d/dx of sum(d fn(x).sum() / dx): torch keeps the first gradient differentiable."""
    def call():
        x = X()
        (g,) = ad.grad(fn(x).sum(), x, create_graph=True)
        (h,) = ad.grad(g.sum(), x, allow_unused=True)
        return np.zeros((2, 3)) if h is None else h.numpy()
    return call


good("abs' gradient is differentiable again (create_graph)", _second_order_of(ad.abs),
     _close_to(np.zeros((2, 3))))
good("relu's gradient is differentiable again (create_graph)", _second_order_of(ad.relu),
     _close_to(np.zeros((2, 3))))


# in-place writes through views, and into a tensor that has views (torch rebases the views)
def _write_into_base():
    x = X()
    y = x * 1
    z = y.reshape(6)
    y[0] = 0.0
    z.sum().backward()
    return x.grad.numpy()


def _write_through_view():
    x = X()
    y = x * 1
    v = y[0]
    v *= 2
    y.sum().backward()
    return x.grad.numpy()


def _write_into_broadcast():
    x = S()
    z = (x * 1).broadcast_to((1,))
    z += 1
    z.sum().backward()
    return z.detach().numpy(), x.grad.numpy()


def _written(values, grad):
    def check(result):
        np.testing.assert_allclose(result[0], values)
        np.testing.assert_allclose(result[1], grad)
    return check


good("write into a broadcast view without overlap", _write_into_broadcast, _written([4.0], 1.0))
good("write into a tensor that has a view", _write_into_base,
     _close_to([[0, 0, 0], [1, 1, 1.0]]))
good("write through a view", _write_through_view, _close_to([[2, 2, 2], [1, 1, 1.0]]))


# arrays the backward needs are copied (or read-only) when recorded
def _changed_after_forward(forward, change):
    def call():
        x = X()
        state = {}
        y = forward(x, state)
        change(state)
        y.sum().backward()
        return x.grad.numpy()
    return call


def _index_forward(x, state):
    state["idx"] = np.array([0, 0, 1])
    return x[state["idx"]]


def _mask_forward(x, state):
    state["mask"] = np.array([[True, False, True], [False, False, False]])
    return x[state["mask"]]


def _where_forward(x, state):
    state["cond"] = np.array([[True, False, True], [False, True, False]])
    return ad.where(state["cond"], x, 0.0)


def _target_forward(x, state):
    state["target"] = np.array([0, 2])
    return F.cross_entropy(x, state["target"], reduction="sum")


def _weight_forward(x, state):
    state["weight"] = np.array([1.0, 2.0, 3.0])
    return F.cross_entropy(x, np.array([0, 2]), weight=state["weight"], reduction="sum")


def _embedding_forward(x, state):
    state["ids"] = np.array([1, 1])
    return F.embedding(state["ids"], x)


def _ce_grad(target, weight=(1.0, 1.0, 1.0)):
    p = np.exp(_x) / np.exp(_x).sum(1, keepdims=True)
    onehot = np.eye(3)[target]
    return (p - onehot) * np.asarray(weight)[target][:, None]


good("ad.tensor copies a NumPy array (as torch.tensor does)",
     lambda: (lambda a: (ad.tensor(a), a.fill(5.0))[0])(np.zeros(3)),
     expect((3,), [0.0, 0.0, 0.0]))
good("index array changed after the forward",
     _changed_after_forward(_index_forward, lambda s: s["idx"].__setitem__(0, 1)),
     _close_to([[2, 2, 2], [1, 1, 1.0]]))
good("boolean mask changed after the forward",
     _changed_after_forward(_mask_forward, lambda s: s["mask"].fill(True)),
     _close_to([[1, 0, 1], [0, 0, 0.0]]))
good("where's condition changed after the forward",
     _changed_after_forward(_where_forward, lambda s: s["cond"].fill(False)),
     _close_to([[1, 0, 1], [0, 1, 0.0]]))
good("cross_entropy target changed after the forward",
     _changed_after_forward(_target_forward, lambda s: s["target"].__setitem__(0, 1)),
     _close_to(_ce_grad([0, 2])))
good("cross_entropy weight changed after the forward",
     _changed_after_forward(_weight_forward, lambda s: s["weight"].fill(0.0)),
     _close_to(_ce_grad([0, 2], (1.0, 2.0, 3.0))))
good("embedding ids changed after the forward",
     _changed_after_forward(_embedding_forward, lambda s: s["ids"].fill(0)),
     _close_to([[0, 0, 0], [2, 2, 2.0]]))


# ---------------------------------------------------------------- the rows that fail today
# cause -> row ids. Each runs as a strict xfail: delete its id here when its fix lands.
PENDING = {}  # none pending now


CAUSE = {id: cause for cause, ids in PENDING.items() for id in ids}


def _params():
    for id, call, exc, spec in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=f"{PENDING_REASON}: {CAUSE[id]}")] \
            if id in CAUSE else []
        yield pytest.param(call, exc, spec, id=id, marks=marks)


def test_the_catalogue_is_complete():
    ids = [id for id, *_ in ROWS]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), "duplicate row ids"
    assert set(CAUSE) <= set(ids), set(CAUSE) - set(ids)
    assert sum(map(len, PENDING.values())) == len(CAUSE), "a row is pending for two causes"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # nan results warn in NumPy
@pytest.mark.parametrize("call,exc,spec", list(_params()))
def test_bad_input(call, exc, spec):
    if exc is None:
        spec(call())
        return
    with pytest.raises(Exception) as info:
        call()
    error = info.value
    message = str(error)
    assert isinstance(error, exc), f"{type(error).__name__} (expected {exc.__name__}): {message}"
    assert "\n" not in message, f"more than one line: {message!r}"
    assert len(message) <= MAX_MESSAGE, f"{len(message)} characters: {message[:400]!r}"
    assert "array(" not in message and "[[" not in message, f"dumps an array: {message!r}"
    for word in spec:
        assert word.lower() in message.lower(), f"{word!r} missing from {message!r}"
    op = getattr(error, "op", None)
    if op is not None:  # errors carry the op as data (contract 2)
        assert isinstance(op, str) and op.lower() in message.lower(), (op, message)

"""Bad input raises clear errors naming the op, the shapes/dtypes/devices and what to do."""
import numpy as np
import pytest

import autodiff as ad
from autodiff import backend


def test_broadcast_mismatch_names_op_and_shapes():
    a, b = ad.ones(2, 3), ad.ones(4, 3)
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4, 3\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul.*\(2, 3\).*\(4, 3\)"):
        a * b
    with pytest.raises(ValueError, match=r"sub.*\(3,\).*\(2,\)"):
        ad.ones(3) - ad.ones(2)


def test_broadcast_mismatch_with_grad_records_nothing():
    a = ad.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="div"):
        a / ad.ones(3)


@pytest.mark.parametrize("sa, sb", [((2, 3), (2, 3)), ((3,), (4,)), ((5, 2, 3), (4, 3, 2))])
def test_matmul_mismatch_names_op_and_shapes(sa, sb):
    pattern = r"matmul.*" + r".*".join(str(s).replace("(", r"\(").replace(")", r"\)")
                                        for s in (sa, sb))
    with pytest.raises(ValueError, match=pattern):
        ad.ones(*sa) @ ad.ones(*sb)


def test_matmul_of_scalar_refused():
    with pytest.raises(ValueError, match="matmul"):
        ad.tensor(2.0) @ ad.ones(2)


def test_reshape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        ad.ones(2, 3).reshape(4)
    with pytest.raises(ValueError, match="reshape"):
        ad.ones(2, 3).reshape(-1, -1)


def test_bad_axes_name_op():
    x = ad.ones(2)
    # an out-of-range dim is an IndexError, as in torch
    with pytest.raises(IndexError, match="sum: dim 3"):
        x.sum(axis=3)
    with pytest.raises(IndexError, match="max: dim"):
        x.max(axis=-2)
    with pytest.raises(IndexError, match="transpose"):
        x.transpose(1, 0)


def test_index_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"getitem.*\(2,\)"):
        ad.ones(2)[5]


def test_setitem_shape_mismatch():
    t = ad.zeros(3)
    with pytest.raises(ValueError, match=r"setitem.*\(2,\).*\(3,\)"):
        t[0] = ad.ones(2)


@pytest.mark.parametrize("make", [
    lambda: ad.tensor([1, 2], requires_grad=True),
    lambda: ad.tensor([True, False], requires_grad=True),
    lambda: ad.zeros(2, dtype=ad.int64, requires_grad=True),
    lambda: ad.arange(3, requires_grad=True),
    lambda: ad.tensor([1, 2]).requires_grad_(),
])
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match=r"only floating-point.*(int64|bool).*ad\.float32"):
        make()


def test_int_tensor_in_a_graph_gets_no_gradient():
    w = ad.tensor([1.0, 2.0], requires_grad=True)
    i = ad.tensor([3, 4])
    (w * i).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])
    assert i.grad is None and not i.requires_grad


@pytest.mark.parametrize("data", [["a", "b"], [1 + 2j], [1, 2 ** 70], None,
                                  np.array([1 + 2j]), np.array(["a"]), np.array([None])])
def test_unsupported_data_dtype(data):
    # Regression: NumPy arrays of complex/str/object dtype used to be accepted.
    with pytest.raises(TypeError, match="tensor: unsupported data of dtype"):
        ad.tensor(data)


def test_unsupported_dtype_conversion():
    with pytest.raises(TypeError, match="tensor: unsupported data of dtype complex"):
        ad.tensor([1.0], dtype=np.complex64)


def test_ragged_data_names_tensor():
    with pytest.raises(ValueError, match="tensor: cannot make an array"):
        ad.tensor([[1.0, 2.0], [3.0]])


def test_unknown_dtype_name():
    with pytest.raises(TypeError, match="unknown dtype 'float8'.*bfloat16"):
        ad.tensor([1.0]).to(dtype="float8")


def test_random_needs_float_dtype():
    with pytest.raises(TypeError, match="randn: dtype must be a floating type"):
        ad.randn(2, dtype=ad.int64)
    with pytest.raises(TypeError, match="rand:"):
        ad.rand(2, dtype=ad.bool_)


def test_operand_of_wrong_type_is_a_type_error():
    # Regression: NumPy's UFuncTypeError (a TypeError subclass) used to surface as
    # RuntimeError.
    with pytest.raises(TypeError, match="add.*'x'"):
        ad.tensor([1.0]) + "x"
    with pytest.raises(TypeError, match="mul.*None"):
        ad.tensor([1.0]) * None


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match=r"item: .*shape \(2,\)"):
        ad.ones(2).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ad.ones(2))
    with pytest.raises(TypeError, match="0-d"):
        len(ad.tensor(1.0))


def test_bad_device_strings():
    with pytest.raises(ValueError, match="bad device 'gpu'"):
        ad.zeros(2, device="gpu")
    with pytest.raises(ValueError, match="cuda:x"):
        ad.tensor([1.0]).to("cuda:x")


@pytest.mark.skipif(ad.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_request_without_cuda_is_clear():
    with pytest.raises(RuntimeError, match="CUDA is not available.*device='cpu'"):
        ad.tensor([1.0]).cuda()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ad.randn(2, device="cuda")


def test_device_mismatch_message_simulated(monkeypatch):
    """Without a GPU: pretend one input lives on cuda:0 and check the op's message."""
    a, b = ad.ones(2), ad.ones(2)
    fake = {id(b.data)}
    real = backend.device_of
    monkeypatch.setattr(backend, "device_of",
                        lambda arr: "cuda:0" if id(arr) in fake else real(arr))

    class Picky(ad.Function):
        op_name = "picky"

        @staticmethod
        def forward(ctx, x, y):
            raise TypeError("unsupported operand: arrays on different devices")

    with pytest.raises(RuntimeError, match=r"picky: inputs are on different devices.*cpu.*"
                                           r"cuda:0.*\.to\(device\)"):
        Picky.apply(a, b)

    class Checked(ad.Function):
        op_name = "checked"

        @staticmethod
        def forward(ctx, x, y):
            raise ValueError("checked: shapes do not match")   # the op's own message

    # the device mismatch is the cause, so it is what gets reported
    with pytest.raises(RuntimeError, match="checked: inputs are on different devices"):
        Checked.apply(a, b)


def test_device_mismatch_on_gpu(device):
    if device == "cpu":
        pytest.skip("needs a GPU to hold tensors on two devices")
    a = ad.ones(2, device="cuda")
    b = ad.ones(2)
    with pytest.raises(RuntimeError, match=r"add: inputs are on different devices"):
        a + b
    with pytest.raises(RuntimeError, match="different devices"):
        a @ b


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ad.tensor(1.0).backward()
    with pytest.raises(TypeError, match="expected a Tensor"):
        ad.autograd.backward(1.0)


def _bad_backward(returns):
    """A custom Function named `bad` (forward: the sum of its inputs) whose backward
    returns `returns` whatever the incoming gradient."""
    class Bad(ad.Function):
        @staticmethod
        def forward(ctx, *xs):
            return sum(xs)          # a new array, never an input itself

        @staticmethod
        def backward(ctx, g):
            return returns(g)
    return Bad


@pytest.mark.parametrize("returns, n_inputs, error, match", [
    (lambda g: g, 2, RuntimeError, "bad: backward returned 1 gradients for 2 inputs"),
    (lambda g: np.ones(5), 1, ValueError, r"bad: gradient of shape \(5,\).*input shape \(2,\)"),
    # a scalar, not broadcast up to the input's shape
    (lambda g: 2.0, 1, ValueError,
     r"bad: gradient of shape \(\) cannot be summed to the input shape \(2,\)"),
], ids=["count", "shape", "scalar"])
def test_custom_backward_wrong_gradients_are_refused(returns, n_inputs, error, match):
    x = ad.ones(2, requires_grad=True)
    with pytest.raises(error, match=match):
        _bad_backward(returns).apply(*[x] * n_inputs).sum().backward()


def test_hook_returning_wrong_shape():
    x = ad.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: ad.ones(3))
    with pytest.raises(ValueError, match=r"hook .*shape \(3,\).*shape \(2,\)"):
        y.sum().backward()


def test_register_hook_needs_grad():
    with pytest.raises(RuntimeError, match="register_hook: the tensor does not require grad"):
        ad.ones(2).register_hook(print)


def test_requires_grad_false_on_non_leaf():
    y = ad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="non-leaf.*detach"):
        y.requires_grad_(False)


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip: at least one"):
        ad.ones(2).clip()

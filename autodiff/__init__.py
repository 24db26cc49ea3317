"""autodiff: a vectorised define-by-run automatic differentiation engine on NumPy/CuPy.

    import autodiff as ad
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad  # tensor([2., 4.])
"""
from . import backend as _backend
from .backend import (bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64,
                      uint8)
from .backend import array_module  # numpy or cupy for the given arrays (for in-place kernels)
from .creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace,
                       manual_seed, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, tensor, zeros, zeros_like)
from ._inplace import mark_modified
from .errors import AnomalyError, OpError
from .function import Function
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from ._hooks import HookHandle
from ._kept import kept_grad, kept_input_grads
from .autograd import grad
from .graph import sum_to_shape, topological_order
from .mode import (Scope, current_scope, detect_anomaly, enable_grad, get_keep_grads_limit,
                   is_anomaly_enabled, is_grad_enabled, keep_grads, no_grad, observe_backward,
                   scope, set_grad_enabled, set_keep_grads_limit)
from .ops.elementwise import (abs, clip, clone, erf, exp, log, maximum, minimum, relu, sigmoid,
                              sign, sqrt, tanh, where)
from .ops.conv import as_pair, conv2d
from .ops.pool import avg_pool2d, max_pool2d
from .ops.fused import softmax_cross_entropy
from .ops.indexing import one_hot
from .ops.linalg import linear, matmul
from .ops.norm import batch_norm
from .ops.reduce import (argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, std,
                         sum, var)
from .ops.shape import (broadcast_to, cat, concat, concatenate, flatten, numel, pad, permute,
                        reshape, split, squeeze, stack, swapaxes, swapdims, t, transpose,
                        unsqueeze)
from .size import Size
from .interop import from_dlpack
from .tensor import Tensor
from . import return_types  # the named tuples max(dim), sort, ... return (torch.return_types)

# torch's dtype aliases: ad.float is ad.float32, ad.long is ad.int64, ad.int is ad.int32, ...
float, double, half, long, int, short, bool = (  # noqa: A001 (torch's names)
    float32, float64, float16, int64, int32, int16, bool_)
from . import functional  # grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp


class cuda:
    """Namespace mirroring torch.cuda for availability checks."""

    @staticmethod
    def is_available() -> bool:
        return _backend.cuda_is_available()


__version__ = "0.1.0"


def __getattr__(name):
    # `ad.testing` needs hypothesis, a test-only dependency: import it on first access so
    # that `import autodiff` never does.
    if name == "testing":
        import importlib
        return importlib.import_module(".testing", __name__)
    raise AttributeError(f"module 'autodiff' has no attribute {name!r}")

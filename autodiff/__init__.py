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
# Randomness as in torch (autodiff/random.py): generators, seeding, samplers.
from .creation import randint_like, randperm
from .random import (Generator, bernoulli, default_generator, get_rng_state, initial_seed,
                     multinomial, normal, seed, set_rng_state)
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
# (add, sub, div, clip come from ops.aliases and where from ops.gather, below: torch's
# signatures over the elementwise kernels)
from .ops.elementwise import *  # noqa: F401,F403  (its OPS table: exp, tanh, atan, ...)
from .ops.conv import as_pair, conv2d
from .ops.pool import avg_pool2d, max_pool2d
from .ops.fused import softmax_cross_entropy
from .ops.indexing import one_hot
from .ops.linalg import linear, matmul
from .ops.norm import batch_norm
from .ops.reduce import (argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, std,
                         sum, var)
from .ops.shape import (broadcast_to, cat, concat, concatenate, flatten, numel, pad, permute,
                        reshape, split, squeeze, stack, swapaxes, t, transpose, unsqueeze)
from .size import Size
from .interop import from_dlpack
from .tensor import Tensor
# Elementwise ops of issue 13 (PyTorch's names): math, activations, rounding, comparisons,
# bitwise, and torch's function forms of the operators.
from .ops.math import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctanh, asin, asinh,
                       atanh, cos, cosh, erfc, erfinv, exp2, expm1, log1p, log2, log10, logit,
                       nan_to_num, reciprocal, rsqrt, sin, sinh, square, tan)
from .ops.binary_math import (arctan2, atan2, fmax, fmin, hypot, lerp, logaddexp, logaddexp2,
                              xlogy)
from .ops.activations import (celu, hardsigmoid, hardswish, hardtanh, logsigmoid, mish, relu6,
                              selu, softsign)
from .ops.rounding import ceil, fix, floor, floor_divide, fmod, frac, remainder, round, trunc
from .ops.compare import (allclose, eq, equal, ge, greater, greater_equal, gt, isclose,
                          isfinite, isinf, isnan, isneginf, isposinf, le, less, less_equal, lt,
                          ne, not_equal, signbit)
from .ops.bitwise import (bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,
                          bitwise_right_shift, bitwise_xor)
from .ops.aliases import (absolute, add, arctan, clamp, clamp_max, clamp_min, clip, div,
                          divide, multiply, negative, sgn, sub, subtract, true_divide)
from . import return_types  # the named tuples max(dim), sort, ... return (torch.return_types)

# torch's dtype aliases: ad.float is ad.float32, ad.long is ad.int64, ad.int is ad.int32, ...
float, double, half, long, int, short, bool = (  # noqa: A001 (torch's names)
    float32, float64, float16, int64, int32, int16, bool_)
from . import functional  # grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp
# Capture and replay of whole training steps (a layer on top of the eager core).
from .capture import CaptureError, CaptureWarning, compile, replay_eagerly


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

# Structural ops of issue 13 (PyTorch's names and semantics): gathering and scattering,
# ordering, scans, rearranging, matrices from parts, reductions, products, norms, solves.
from .ops.gather import (argwhere, gather, index_add, index_copy, index_fill, index_select,
                         masked_fill, masked_scatter, masked_select, nonzero, scatter,
                         scatter_add, scatter_reduce, take, take_along_dim)
from .ops.gather import where  # where(cond, a, b) and torch's one-argument where(cond)
from .ops.sort import argsort, kthvalue, median, mode, msort, nanmedian, sort, topk
from .ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp, prod
from .ops.rearrange import (chunk, expand, expand_as, flip, fliplr, flipud, movedim, moveaxis,
                            narrow, repeat, repeat_interleave, reshape_as, roll, select,
                            swapdims, tile, unbind, unflatten, view, view_as)
from .ops.construct import (atleast_1d, atleast_2d, atleast_3d, block_diag, cartesian_prod,
                            diag, diag_embed, diagonal, meshgrid, trace, tril, triu)
from .ops.reduce_extra import (all, amax, amin, aminmax, any, count_nonzero, nanmean, nansum,
                               std_mean, var_mean)
from .ops.einsum import einsum
from .ops.products import bmm, cross, dot, ger, inner, kron, mm, mv, outer, tensordot, vdot
from .ops.norms import cdist, cosine_similarity, norm, pairwise_distance
from .ops.solve import logdet
from .ops.solve import torch_slogdet as slogdet  # (sign, logabsdet), as torch.slogdet
from . import linalg  # torch.linalg

"""`modules()`: a strategy of small random nn layers and Sequentials.

This is the one corner of `autodiff` that uses `nn`: it builds nn modules for users' tests.
`nn` is imported inside the strategy (never by `import autodiff` or `autodiff.testing`),
so the engine keeps its rule of not depending on nn (tests/test_layering.py allows this
file exactly that, inside functions).
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .. import backend
from ..random import fork_rng

__all__ = ["modules", "VECTOR_KINDS", "IMAGE_KINDS"]

#: Layers that work on feature vectors (and on the last axis of any input).
VECTOR_KINDS = ("linear", "relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid",
                "softplus", "layer_norm", "batch_norm")
#: Layers for images (C, H, W), drawn with valid geometries, plus flatten to go to vectors.
IMAGE_KINDS = ("conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "relu", "tanh", "flatten",
               "linear")
_KNOWN = sorted(set(VECTOR_KINDS + IMAGE_KINDS + ("dropout",)))


def _layer(draw, nn, kind, shape):
    """One layer of `kind` for per-example input `shape` (one it `_fits`), and its output
    shape."""
    small = st.integers(1, 4)
    if kind == "linear":
        out = draw(small)
        return nn.Linear(shape[-1], out, bias=draw(st.booleans())), shape[:-1] + (out,)
    if kind in ("relu", "tanh", "sigmoid", "silu"):
        return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                "silu": nn.SiLU}[kind](), shape
    if kind == "leaky_relu":
        return nn.LeakyReLU(draw(st.sampled_from([0.01, 0.1, 0.2]))), shape
    if kind == "elu":
        return nn.ELU(draw(st.sampled_from([1.0, 0.5]))), shape
    if kind == "gelu":
        return nn.GELU(approximate=draw(st.sampled_from(["none", "tanh"]))), shape
    if kind == "softplus":
        return nn.Softplus(), shape
    if kind == "dropout":
        return nn.Dropout(draw(st.sampled_from([0.1, 0.5]))), shape
    if kind == "layer_norm":
        return nn.LayerNorm(shape[-1]), shape
    if kind == "batch_norm":
        return (nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d)(shape[0]), shape
    if kind == "flatten":
        return nn.Flatten(), (math.prod(shape),)
    c, h, w = shape
    if kind == "conv2d":
        pad = draw(st.integers(0, 1))
        kernel = draw(st.integers(1, min(3, h + 2 * pad, w + 2 * pad)))
        stride = draw(st.integers(1, 2))
        out = draw(st.integers(1, 3))
        layer = nn.Conv2d(c, out, kernel, stride=stride, padding=pad, bias=draw(st.booleans()))
        size = [(n + 2 * pad - kernel) // stride + 1 for n in (h, w)]
        return layer, (out, size[0], size[1])
    if kind in ("max_pool2d", "avg_pool2d"):
        kernel = draw(st.integers(1, min(2, h, w)))
        layer = (nn.MaxPool2d if kind == "max_pool2d" else nn.AvgPool2d)(kernel)
        return layer, (c, h // kernel, w // kernel)
    raise AssertionError(kind)


def _fill_parameters(module, seed):
    """Overwrite every parameter with values from a generator seeded by a drawn number, so
    an example is reproducible and shrinkable: weights U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    as PyTorch's default init, norm scales around 1, biases and the rest U(-0.5, 0.5)."""
    rng = np.random.default_rng(seed)
    for name, p in module.named_parameters():
        shape = tuple(p.shape)
        if len(shape) >= 2:
            bound = 1.0 / math.sqrt(math.prod(shape[1:]))
            values = rng.uniform(-bound, bound, shape)
        elif name.endswith("weight") and "norm" in type(_owner(module, name)).__name__.lower():
            values = rng.uniform(0.5, 1.5, shape)
        else:
            values = rng.uniform(-0.5, 0.5, shape)
        p.data[...] = values.astype(p.data.dtype)


def _owner(module, name):
    path = name.rsplit(".", 1)[0] if "." in name else ""
    return module.get_submodule(path) if path else module


@st.composite
def modules(draw, kinds=None, in_features=4, in_shape=None, max_layers=3,
            dtype=backend.float32):
    """A strategy of small random nn modules: one layer or an nn.Sequential of up to
    `max_layers`, whose input is (batch, in_features) or (batch, *in_shape).

    kinds: the layer kinds to draw from (names: linear, relu, leaky_relu, elu, gelu, silu,
        tanh, sigmoid, softplus, layer_norm, batch_norm, dropout, conv2d, max_pool2d,
        avg_pool2d, flatten). Default: VECTOR_KINDS for vector inputs, IMAGE_KINDS for
        (C, H, W) inputs. A kind that does not fit the running shape is not drawn there
        (conv2d only on images, flatten only before vectors); conv and pool geometries are
        always valid.
    in_shape: the per-example input shape, e.g. (3, 8, 8); default (in_features,).
    Parameters are filled from a drawn seed (reproducible; the global random stream is
    left where it was) and the module is converted to `dtype`. Batch norm layers need a batch
    of at least 2 in training mode; dropout (not drawn unless asked for) makes the output
    random in training mode.
    """
    import nn  # lazily: only this strategy needs it (see the module docstring)

    shape = tuple(in_shape) if in_shape is not None else (int(in_features),)
    if not shape or min(shape) < 1:
        raise InvalidArgument(f"modules: in_shape/in_features must be positive, got {shape}")
    if kinds is None:
        kinds = IMAGE_KINDS if len(shape) == 3 else VECTOR_KINDS
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in _KNOWN]
    if unknown or not kinds:
        raise InvalidArgument(f"modules: unknown layer kinds {unknown}; choose from {_KNOWN}")
    if max_layers < 1:
        raise InvalidArgument(f"modules: max_layers must be >= 1, got {max_layers}")
    count = draw(st.integers(1, max_layers))
    layers = []
    with fork_rng():  # the layers' own random init must not move the user's stream
        for _ in range(count):
            fitting = [k for k in kinds if _fits(k, shape)]
            if not fitting:
                break
            layer, shape = _layer(draw, nn, draw(st.sampled_from(fitting)), shape)
            layers.append(layer)
    if not layers:
        raise InvalidArgument(f"modules: none of the kinds {kinds} applies to input shape "
                              f"{tuple(in_shape or (in_features,))}")
    module = layers[0] if len(layers) == 1 and draw(st.booleans()) else nn.Sequential(*layers)
    _fill_parameters(module, draw(st.integers(0, 2**32 - 1)))
    return module.to(dtype=backend.as_dtype(dtype))


def _fits(kind, shape):
    if kind in ("conv2d", "max_pool2d", "avg_pool2d"):
        return len(shape) == 3
    if kind == "flatten":
        return len(shape) > 1
    if kind == "batch_norm":
        return len(shape) in (1, 3)
    return True

"""Helpers shared by several test files (tests/ is on sys.path under pytest's default
rootdir-relative import, so tests use `import helpers` / `from helpers import ...`)."""
import threading

import numpy as np
import pytest

import autodiff as ad


def t64(a, requires_grad=False):
    """A float64 Tensor of `a` (gradchecks want float64)."""
    return ad.tensor(np.asarray(a, dtype=np.float64), dtype=ad.float64,
                     requires_grad=requires_grad)


class Cube(ad.Function):
    """x^3 (the README example)"""
    derivative = "d x^3/dx = 3 x^2"

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return 3 * x ** 2 * g


class WrongCube(Cube):
    """x^3 with a deliberately wrong backward (2x^2 instead of 3x^2), for tests that a
    checker catches it."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return 2 * x ** 2 * g


def conv2d_reference(x, w, b, stride, padding, dilation):
    """Direct definition of cross-correlation, in float64, with its own output size:
    y[n,o,p,q] = b[o] + sum_{c,i,j} w[o,c,i,j] x_pad[n,c,sp+di,sq+dj]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, hh, ww = xp.shape
    co, _, kh, kw = w.shape
    oh = (hh - dh * (kh - 1) - 1) // sh + 1
    ow = (ww - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, co, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh,
                       j * dw: j * dw + sw * (ow - 1) + 1: sw]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y if b is None else y + b[None, :, None, None]


def renderer_marker():
    """(whether a Graphviz renderer is installed, a skipif marker for tests that need one).
    Call it after pytest.importorskip("graphviz")."""
    from viz import render as vr
    try:
        vr.find_renderer()
        have = True
    except vr.RendererNotFound:
        have = False
    return have, pytest.mark.skipif(not have, reason="no Graphviz renderer (install "
                                    "graphviz-pure: pip install graphviz-pure)")


def run_threads(*targets, timeout=30):
    """Run each callable in its own thread and wait for all of them; re-raise the first
    exception a thread raised (a bare Thread only prints it) and fail if one still runs."""
    errors = []

    def guarded(fn):
        def body():
            try:
                fn()
            except BaseException as exc:  # handed back to the test below
                errors.append(exc)
        return body

    threads = [threading.Thread(target=guarded(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"a thread still runs after {timeout} s"
    if errors:
        raise errors[0]

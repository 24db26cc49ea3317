"""Tensors: creating, printing, dtypes, arithmetic, assignment, indexing, dot and matrix
products (lecture: "Tensors", the slides that introduce torch.tensor, written with this
library's names: `import autodiff as ad` stands for `import torch`).

What to look at: a tensor prints like PyTorch's; integer lists give int64, float lists
float32; every tensor carries shape, dtype and device; float16 and bfloat16 keep 11 and 8
significant bits (1/3 becomes 0.33325 and 0.33398); + - * / work element by element with
broadcasting; a dot product is a sum of products and matmul a table of them (checked here
against the closed form).

Run: python examples/lectures/tensor_demo.py [--quick] [--out DIR]   (no figures)
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402

MATRIX = [[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8], [9, 7, 9, 3], [2, 3, 8, 4], [6, 2, 6, 4]]


def section(title):
    print(f"\n== {title}")


def show(label, value):
    text = str(value)
    if "\n" in text:
        print(f"{label} =\n{text}")
    else:
        print(f"{label} = {text}")


def main(argv=None):
    _common.parse_args("tensor_demo", __doc__, argv)
    out = {}

    section("creating tensors")
    v = ad.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    show("v = ad.tensor([1., 2., 3., 4., 5., 6.])", v)
    A = ad.tensor(MATRIX)
    show("A = ad.tensor([[3, 1, 4, 1], [5, 9, 2, 6], ...])", A)
    T = ad.arange(32, dtype=ad.float32).reshape(4, 4, 2)
    show("T = ad.arange(32, dtype=ad.float32).reshape(4, 4, 2)", T)
    show("ad.zeros(2, 3)", ad.zeros(2, 3))
    show("ad.ones(2, 3, dtype=ad.int64)", ad.ones(2, 3, dtype=ad.int64))
    ad.manual_seed(0)
    show("ad.randn(2, 3)  (after ad.manual_seed(0))", ad.randn(2, 3))
    out.update(v=v.numpy(), A=A.numpy(), T=T.numpy())

    section("shape, dtype, device")
    for name, t in (("v", v), ("A", A), ("T", T)):
        print(f"{name}.shape = {tuple(t.shape)}   {name}.ndim = {t.ndim}   "
              f"{name}.dtype = {t.dtype}   {name}.device = {t.device}")

    section("floating-point types: 1/3 stored in each")
    third = ad.tensor(1.0 / 3.0, dtype=ad.float64)
    rows = []
    for dtype, bits in ((ad.float64, 53), (ad.float32, 24), (ad.float16, 11),
                        (ad.bfloat16, 8)):
        stored = third.to(dtype=dtype)
        value = float(stored.to(dtype=ad.float64).item())
        rows.append((str(dtype), bits, f"{value:.17f}", f"{abs(value - 1 / 3):.1e}"))
        out[f"third_{dtype}"] = value
    print(_common.table(["dtype", "significant bits", "stored value", "error vs float64"], rows))
    show("A.to(dtype=ad.float16)", A.to(dtype=ad.float16))
    big = ad.tensor(1e30)
    with np.errstate(over="ignore"):  # float16's largest number is 65504: 1e30 -> inf
        as_half = big.to(dtype=ad.float16).item()
    print(f"range: bfloat16 keeps float32's exponent, 1e30 -> "
          f"{big.to(dtype=ad.bfloat16).item():.4g}; float16 stops at 65504, 1e30 -> {as_half}")

    section("arithmetic: element by element, with broadcasting")
    a = ad.tensor([1.0, 2.0, 3.0])
    b = ad.tensor([4.0, 5.0, 6.0])
    for label, value in (("a + b", a + b), ("a - b", a - b), ("a * b", a * b),
                         ("a / b", a / b), ("a ** 2", a ** 2), ("2 * a + 1", 2 * a + 1)):
        show(label, value)
    show("A[:2] + ad.tensor([10, 20, 30, 40])  (the row vector is added to each row)",
         A[:2] + ad.tensor([10, 20, 30, 40]))
    out.update(add=(a + b).numpy(), div=(a / b).numpy())

    section("assignment (in place, on a copy)")
    B = A.float()
    B[0, 0] = 100.0
    B[1] = ad.tensor([0.0, 0.0, 0.0, 0.0])
    B[:, 3] = -1.0
    show("B = A.float(); B[0, 0] = 100; B[1] = 0; B[:, 3] = -1", B)
    out["B"] = B.numpy()

    section("indexing and slicing")
    for label, value in (("A[0]", A[0]), ("A[1, 2]", A[1, 2]), ("A[:, 1]", A[:, 1]),
                         ("A[1:3]", A[1:3]), ("A[::2, ::2]", A[::2, ::2]),
                         ("A[-1]", A[-1]), ("A[A > 5]", A[A > 5]),
                         ("A[[0, 2, 4]]", A[[0, 2, 4]]), ("T[1, :, 0]", T[1, :, 0])):
        show(label, value)
    out.update(A12=A[1, 2].item(), A_gt5=A[A > 5].numpy())

    section("dot product and matrix multiplication")
    u = ad.tensor([1.0, 2.0, 3.0, 4.0])
    w = ad.tensor([0.5, -1.0, 2.0, 0.0])
    dot = u @ w
    show("u @ w   (sum of products: 1*0.5 + 2*(-1) + 3*2 + 4*0)", dot)
    show("(u * w).sum()", (u * w).sum())
    Af = A.float()
    show("A.float() @ u   (6x4 times 4: one dot product per row)", Af @ u)
    G = Af.T @ Af
    show("A.T @ A   (4x4: dot products between A's columns)", G)
    out.update(dot=dot.item(), Au=(Af @ u).numpy(), AtA=G.numpy())
    expected = np.array(MATRIX, dtype=np.float64)
    assert np.allclose(out["AtA"], expected.T @ expected)
    print("checked: A.T @ A equals NumPy's", "(max difference "
          f"{np.abs(out['AtA'] - expected.T @ expected).max():.1e})")
    return out


if __name__ == "__main__":
    main()

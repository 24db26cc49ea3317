"""Backends, devices, the dtype table and seeded random numbers (autodiff/backend.py)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import autodiff as ad
from autodiff import backend

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- array module and devices

def test_array_module_picks_numpy_for_host_data():
    assert ad.array_module(np.ones(2)) is np
    assert ad.array_module(np.ones(2), 3.0, None) is np
    assert ad.array_module() is np


def test_array_module_picks_cupy_for_device_data(device):
    t = ad.ones(2, device=device)
    xp = ad.array_module(t.data)
    assert (xp is np) == (device == "cpu")
    assert ad.array_module(np.ones(2), t.data) is xp    # any device array wins


def test_device_strings():
    assert backend.parse_device(None) == "cpu"
    assert backend.parse_device("cpu") == "cpu"
    assert backend.device_of(np.zeros(1)) == "cpu"
    for bad in ("gpu", "cuda:", "cuda:one", "CPU", "tpu:0"):
        with pytest.raises(ValueError, match="bad device"):
            backend.parse_device(bad)


def test_cuda_device_strings(device):
    if device == "cpu":
        pytest.skip("needs a GPU")
    assert backend.parse_device("cuda") == "cuda:0"
    assert backend.parse_device("cuda:0") == "cuda:0"
    t = ad.ones(2, device="cuda")
    assert t.device == "cuda:0" and backend.device_of(t.data) == "cuda:0"
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0])   # numpy() copies to the host


def test_to_device_is_identity_when_already_there():
    a = np.ones(3)
    assert backend.to_device(a, "cpu") is a


# ---------------------------------------------------------------- cupy absence is harmless

def test_without_cupy_everything_falls_back_to_numpy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert not backend.cuda_is_available() and not ad.cuda.is_available()
    assert backend.array_module(np.ones(1)) is np
    assert not backend.is_array([1.0]) and backend.is_array(np.ones(1))
    with pytest.raises(RuntimeError, match="CUDA is not available.*not installed"):
        backend.parse_device("cuda:0")
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_cupy_whose_availability_check_fails(monkeypatch):
    class Broken:
        ndarray = type("ndarray", (), {})

        @staticmethod
        def is_available():
            raise RuntimeError("no CUDA driver")

    monkeypatch.setattr(backend, "_cupy", Broken)
    assert not backend.cuda_is_available()
    with pytest.raises(RuntimeError, match="CUDA is not available.*sees no GPU"):
        ad.zeros(2, device="cuda")
    assert ad.array_module(np.ones(2)) is np


@pytest.mark.parametrize("cupy_init", [
    None,                                            # not installed (import fails)
    "raise RuntimeError('CUDA driver library not found')",  # installed but broken
])
def test_import_autodiff_with_missing_or_broken_cupy(tmp_path, cupy_init):
    if cupy_init is None:
        setup = "import sys; sys.modules['cupy'] = None\n"   # makes `import cupy` fail
    else:
        (tmp_path / "cupy").mkdir()
        (tmp_path / "cupy" / "__init__.py").write_text(cupy_init + "\n")
        setup = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
    code = setup + textwrap.dedent("""
        import autodiff as ad
        assert not ad.cuda.is_available()
        x = ad.tensor([3.0], requires_grad=True)
        (x * x).sum().backward()
        print(x.grad.item())
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "6.0"


# ---------------------------------------------------------------- dtypes

def test_public_dtypes_are_numpy_dtypes():
    assert ad.float16 == np.float16 and ad.float32 == np.float32 and ad.float64 == np.float64
    assert ad.int64 == np.int64 and ad.bool_ == np.bool_
    assert ad.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    for dt in (ad.float16, ad.bfloat16, ad.float32, ad.float64, ad.int64, ad.bool_):
        assert isinstance(dt, np.dtype)


@pytest.mark.parametrize("spec, expected", [
    ("float16", np.float16), ("half", np.float16), ("bfloat16", ml_dtypes.bfloat16),
    ("float32", np.float32), ("float", np.float32), ("float64", np.float64),
    ("double", np.float64), ("int64", np.int64), ("long", np.int64), ("int", np.int32),
    ("int32", np.int32), ("int16", np.int16), ("short", np.int16), ("int8", np.int8),
    ("uint8", np.uint8), ("bool", np.bool_),
    (float, np.float64), (int, np.int64), (bool, np.bool_),
    (np.float64, np.float64), (np.dtype("float16"), np.float16), (ad.bfloat16, ml_dtypes.bfloat16),
])
def test_dtype_table(spec, expected):
    assert backend.as_dtype(spec) == np.dtype(expected)
    t = ad.zeros(2, dtype=spec)
    assert t.dtype == np.dtype(expected)


def test_dtype_names_mean_torchs_dtypes():
    """Every torch dtype name autodiff has (ad.int, ad.long, ...) is the dtype torch's is,
    and the same name as a string gives the same dtype ("int" is int32, as torch.int)."""
    torch_names = {"float16": np.float16, "half": np.float16, "float32": np.float32,
                   "float": np.float32, "float64": np.float64, "double": np.float64,
                   "int64": np.int64, "long": np.int64, "int32": np.int32, "int": np.int32,
                   "int16": np.int16, "short": np.int16, "int8": np.int8, "uint8": np.uint8,
                   "bool": np.bool_, "bfloat16": ml_dtypes.bfloat16}
    for name, expected in torch_names.items():
        assert getattr(ad, name) == np.dtype(expected), name
        assert backend.as_dtype(name) == np.dtype(expected), name
        assert ad.tensor([1, 0]).to(name).dtype == np.dtype(expected), name
    assert set(backend._DTYPE_NAMES) == set(torch_names)


def test_dtype_names_against_torch():
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    for name in backend._DTYPE_NAMES:
        assert str(getattr(torch, name)).replace("torch.", "") == str(getattr(ad, name)), name
    for kind in (float, int, bool):
        assert str(torch.zeros(1, dtype=kind).dtype)[6:] == str(ad.zeros(1, dtype=kind).dtype)


def test_as_dtype_none_and_unknown():
    assert backend.as_dtype(None) is None
    with pytest.raises(TypeError, match="unknown dtype 'float128'"):
        backend.as_dtype("float128")


@pytest.mark.parametrize("dtype, floating, half", [
    (ad.float16, True, True), (ad.bfloat16, True, True), (ad.float32, True, False),
    (ad.float64, True, False), (ad.int64, False, False), (ad.bool_, False, False),
])
def test_dtype_predicates(dtype, floating, half):
    assert backend.is_floating(dtype) is floating
    assert backend.is_half(dtype) is half
    assert backend.accumulation_dtype(dtype) == (ad.float32 if half else None)


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16])
def test_half_reductions_accumulate_in_float32(dtype, device):
    # 10,000 x 0.01 in bfloat16 summed in bfloat16 would stall near 4.
    t = ad.full((10_000,), 0.01, dtype=dtype, device=device, requires_grad=True)
    s = t.sum()
    assert s.dtype == dtype
    assert float(s.item()) == pytest.approx(100.0, rel=0.01)
    s.backward()
    assert t.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [ad.float16, ad.bfloat16, ad.float32, ad.float64])
def test_erf_keeps_dtype(dtype):
    from scipy import special
    x = np.linspace(-3, 3, 13).astype(dtype)
    out = backend.erf(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float64), special.erf(x.astype(np.float64)),
                               rtol=1e-2 if backend.is_half(dtype) else 1e-6, atol=1e-3)


# ---------------------------------------------------------------- seeded random numbers

def test_manual_seed_reproducible_sequences(device):
    ad.manual_seed(7)
    first = [ad.randn(3, device=device).numpy(), ad.rand(2, 2, device=device).numpy(),
             ad.randint(0, 100, (5,), device=device).numpy()]
    ad.manual_seed(7)
    second = [ad.randn(3, device=device).numpy(), ad.rand(2, 2, device=device).numpy(),
              ad.randint(0, 100, (5,), device=device).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], ad.randn(3, device=device).numpy())  # stream moves on


def test_manual_seed_reseeds_every_device_independently():
    ad.manual_seed(3)
    a = ad.randn(4).numpy()
    ad.manual_seed(3)
    b = ad.randn(4).numpy()
    np.testing.assert_array_equal(a, b)
    assert backend.generator("cpu") is backend.generator("cpu")   # one stream per device


def test_manual_seed_governs_other_threads():
    # Regression: the seed was thread-local, so threads drew unseeded numbers.
    import threading
    out = {}

    def draw(key):
        out[key] = ad.randn(4).numpy()

    for key in ("a", "b"):
        ad.manual_seed(11)
        t = threading.Thread(target=draw, args=(key,))
        t.start()
        t.join()
    np.testing.assert_array_equal(out["a"], out["b"])
    ad.manual_seed(11)
    np.testing.assert_array_equal(ad.randn(4).numpy(), out["a"])


def test_random_dtypes_drawn_at_precision():
    ad.manual_seed(0)
    d64 = ad.randn(1000, dtype=ad.float64).numpy()
    assert d64.dtype == np.float64
    assert len(np.unique(d64.astype(np.float32))) == 1000
    ad.manual_seed(0)
    d32 = ad.randn(1000).numpy()
    assert d32.dtype == np.float32 and np.isfinite(d32).all()

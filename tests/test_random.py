"""Randomness as in torch (autodiff/random.py): Generator objects, seeding and state, the
samplers' dtypes, shapes and laws, in-place fills, threads, and generator= in nn.

Every test seeds its own generator. Statistical checks use fixed seeds and bounds of several
standard errors (or a chi-square p-value), so they are deterministic yet fail for a wrong law.
"""
import copy
import pickle
import threading

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import autodiff as ad
import nn
from autodiff import backend
from nn import init

FLOATS = [ad.float16, ad.bfloat16, ad.float32, ad.float64]


def gen(seed=0):
    return ad.Generator().manual_seed(seed)


def as64(t):
    return np.asarray(t.data, dtype=np.float64)


def assert_mean_std(x, mean, std, k=6.0):
    """Sample mean and std of `x` within k standard errors of the law's."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) < k * std / np.sqrt(n), (x.mean(), mean)
    # SE of the sample std of a normal-ish law is ~ std / sqrt(2n); allow heavier tails.
    assert abs(x.std() - std) < k * std / np.sqrt(n / 2) * 1.5, (x.std(), std)


def assert_chisquare(counts, probs, p_min=1e-4):
    counts = np.asarray(counts, dtype=np.float64)
    expected = np.asarray(probs, dtype=np.float64) / np.sum(probs) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > p_min, (counts, expected)


# ---------------------------------------------------------------- Generator

def test_generator_api_matches_torch():
    g = ad.Generator()
    assert g.device == "cpu"
    assert g.initial_seed() == 67280421310721          # torch.Generator()'s default seed
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    s = g.seed()
    assert 0 <= s < 2 ** 64 and g.initial_seed() == s
    assert "cpu" in repr(g)
    assert ad.Generator("cpu").device == "cpu"


def test_seed_range_and_wrapping_as_torch():
    assert gen(-1).initial_seed() == 2 ** 64 - 1
    assert gen(-2 ** 63).initial_seed() == 2 ** 63
    np.testing.assert_array_equal(ad.randn(5, generator=gen(-1)).data,
                                  ad.randn(5, generator=gen(2 ** 64 - 1)).data)
    for bad in (2 ** 64, -2 ** 63 - 1):
        with pytest.raises(ValueError, match="outside"):
            ad.Generator().manual_seed(bad)
    for bad in (1.5, "3", None):
        with pytest.raises(TypeError, match="seed must be an integer") as info:
            ad.Generator().manual_seed(bad)
        assert info.value.op == "Generator.manual_seed"
    assert gen(np.int64(7)).initial_seed() == 7


def test_same_seed_same_calls_same_numbers_for_every_sampler():
    def calls(g):
        x = ad.zeros(5)
        return [ad.randn(3, generator=g), ad.rand(2, 2, generator=g),
                ad.randint(0, 9, (4,), generator=g), ad.randperm(6, generator=g),
                ad.normal(ad.zeros(3), 2.0, generator=g), ad.normal(1.0, 2.0, (2,), generator=g),
                ad.multinomial(ad.tensor([1.0, 2.0, 3.0]), 2, generator=g),
                ad.multinomial(ad.tensor([1.0, 2.0, 3.0]), 4, True, generator=g),
                ad.bernoulli(ad.full((4,), 0.5), generator=g),
                ad.randn_like(x, generator=g), ad.rand_like(x, generator=g),
                ad.randint_like(x, 3, generator=g),
                x.clone().normal_(generator=g), x.clone().uniform_(-1, 1, generator=g),
                x.clone().bernoulli_(0.3, generator=g), x.clone().exponential_(generator=g),
                x.clone().random_(10, generator=g),
                nn.functional.dropout(ad.ones(6), 0.5, generator=g),
                init.kaiming_uniform_(ad.empty(3, 4), generator=g)]
    first, second = calls(gen(42)), calls(gen(42))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.data, b.data)
    third = calls(gen(43))
    assert not all(np.array_equal(a.data, c.data) for a, c in zip(first, third))


def test_a_generator_leaves_the_default_stream_alone():
    ad.manual_seed(3)
    expected = ad.randn(4).data
    ad.manual_seed(3)
    g = gen(1)
    ad.randn(100, generator=g)
    ad.randperm(10, generator=g)
    np.testing.assert_array_equal(ad.randn(4).data, expected)


def test_get_state_set_state_round_trip_exactly():
    g = gen(9)
    ad.rand(3, generator=g)         # odd number of 32-bit draws: PCG64 caches half a word
    state = g.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1 and state.requires_grad is False
    ahead = [ad.rand(5, generator=g).data, ad.randn(3, dtype=ad.float64, generator=g).data]
    state.data[:] = 0                 # get_state returned a copy: mutating it changes nothing
    g.manual_seed(1)
    g.set_state(gen(9).set_state(g.get_state()).get_state())  # any round trip is harmless
    g2 = gen(9)
    ad.rand(3, generator=g2)
    g.set_state(g2.get_state())
    again = [ad.rand(5, generator=g).data, ad.randn(3, dtype=ad.float64, generator=g).data]
    for a, b in zip(ahead, again):
        np.testing.assert_array_equal(a, b)
    assert g.initial_seed() == 9       # the seed travels with the state, as in torch


def test_set_state_refuses_what_is_not_a_state():
    g = gen(0)
    good = g.get_state()
    with pytest.raises(TypeError, match="uint8") as info:
        g.set_state(ad.tensor(good.data.astype(np.float32)))
    assert info.value.op == "Generator.set_state"
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(good.data)        # a bare array, not a Tensor
    with pytest.raises(ValueError, match="not a generator state"):
        g.set_state(ad.tensor(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="bytes"):
        g.set_state(ad.tensor(good.data[:-1].copy()))
    corrupt = good.data.copy()
    corrupt[32] &= 0xFE               # PCG64's increment must be odd
    with pytest.raises(ValueError, match="corrupt"):
        g.set_state(ad.tensor(corrupt))


def test_module_level_seed_functions_drive_the_default_generator():
    assert ad.manual_seed(11) is ad.default_generator
    assert ad.initial_seed() == 11
    state = ad.get_rng_state()
    a = ad.randn(4).data
    ad.set_rng_state(state)
    np.testing.assert_array_equal(ad.randn(4).data, a)
    s = ad.seed()
    assert ad.initial_seed() == s
    # the older spellings keep working
    assert backend.generator("cpu") is ad.default_generator
    backend.manual_seed(11)
    np.testing.assert_array_equal(ad.randn(4).data, a)


def test_fork_rng_restores_the_default_streams():
    ad.manual_seed(5)
    expected = ad.randn(3).data
    ad.manual_seed(5)
    with ad.random.fork_rng():
        ad.manual_seed(99)
        ad.randn(10)
    np.testing.assert_array_equal(ad.randn(3).data, expected)
    ad.manual_seed(5)
    with ad.random.fork_rng(devices=[]):
        ad.randn(10)
    np.testing.assert_array_equal(ad.randn(3).data, expected)
    ad.manual_seed(5)
    with ad.random.fork_rng(enabled=False):
        ad.randn(10)
    assert not np.array_equal(ad.randn(3).data, expected)


def test_copy_and_pickle_continue_the_stream_independently():
    g = gen(4)
    ad.randn(3, generator=g)
    for clone in (copy.deepcopy(g), pickle.loads(pickle.dumps(g)), copy.copy(g)):
        assert clone is not g and clone.initial_seed() == 4
        np.testing.assert_array_equal(ad.randn(6, generator=clone).data,
                                      ad.randn(6, generator=copy.deepcopy(g)).data)
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5, generator=gen(1)))
    twin = copy.deepcopy(model)
    x = ad.ones(8, 2)
    np.testing.assert_array_equal(model(x).data, twin(x).data)


def test_cuda_generator_needs_a_gpu():
    if ad.cuda.is_available():
        pytest.skip("a GPU is present: the cuda tests below cover it")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ad.Generator("cuda")


@pytest.mark.skipif(not ad.cuda.is_available(),
                    reason="CuPy is not installed or sees no GPU (cupy.is_available() is False)")
def test_cuda_generator_reproducible_and_round_trips():  # pragma: no cover - needs a GPU
    g = ad.Generator("cuda").manual_seed(5)
    assert g.device == "cuda:0"
    a = ad.randn(1000, device="cuda", generator=g)
    state = g.get_state()
    b = ad.rand(7, device="cuda", generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(ad.rand(7, device="cuda", generator=g).numpy(), b)
    g.manual_seed(5)
    np.testing.assert_array_equal(ad.randn(1000, device="cuda", generator=g).numpy(),
                                  a.numpy())
    assert_mean_std(a.numpy(), 0.0, 1.0)
    perm = ad.randperm(50, device="cuda", generator=g).numpy()
    assert sorted(perm.tolist()) == list(range(50))
    with pytest.raises(RuntimeError, match="generator is on cuda:0"):
        ad.randn(3, generator=g)
    with pytest.raises(ValueError, match="cpu generator"):
        g.set_state(ad.Generator().get_state())


def test_generator_argument_is_checked():
    with pytest.raises(TypeError, match="must be an ad.Generator") as info:
        ad.randn(3, generator=np.random.default_rng(0))
    assert info.value.op == "randn"
    with pytest.raises(TypeError, match="must be an ad.Generator"):
        ad.multinomial(ad.ones(3), 1, generator=0)


# ---------------------------------------------------------------- threads

def test_a_generator_shared_by_threads_hands_out_whole_pieces_of_one_stream():
    threads, calls, width = 8, 40, 16
    shared = gen(123)
    results, start = [], threading.Barrier(threads)

    def work():
        start.wait()
        mine = [ad.randn(width, generator=shared).data for _ in range(calls)]
        results.extend(tuple(row) for row in mine)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    reference = gen(123)
    expected = [tuple(ad.randn(width, generator=reference).data)
                for _ in range(threads * calls)]
    assert sorted(results) == sorted(expected)   # nothing lost, repeated or torn


def test_threads_owning_generators_are_reproducible_while_others_reseed_the_default():
    # Regression (issue 12): ad.manual_seed from two threads interleaved one global stream;
    # a generator per thread is the reproducible way.
    expected = {s: ad.randn(200, generator=gen(s)).data for s in range(4)}
    out, stop = {}, threading.Event()

    def reseed_default():
        while not stop.is_set():
            ad.manual_seed(0)
            ad.randn(50)

    def draw(s):
        g = gen(s)
        out[s] = np.concatenate([ad.randn(20, generator=g).data for _ in range(10)])

    noise = threading.Thread(target=reseed_default)
    noise.start()
    workers = [threading.Thread(target=draw, args=(s,)) for s in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    noise.join()
    for s in range(4):
        np.testing.assert_array_equal(out[s], expected[s])


# ---------------------------------------------------------------- creation: dtypes, shapes, laws

@pytest.mark.parametrize("dtype", FLOATS)
def test_randn_law_and_dtype(dtype):
    x = ad.randn(200, 500, dtype=dtype, generator=gen(1))
    assert x.dtype == dtype and x.shape == (200, 500)
    assert_mean_std(as64(x), 0.0, 1.0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rand_stays_below_one_in_every_dtype(dtype):
    x = ad.rand(100_000, dtype=dtype, generator=gen(2))
    assert x.dtype == dtype
    v = as64(x)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert_mean_std(v, 0.5, np.sqrt(1 / 12))
    counts, _ = np.histogram(v, bins=16, range=(0, 1))
    assert_chisquare(counts, np.ones(16))


def test_rand_and_randn_shape_spellings():
    g = gen(0)
    assert ad.randn(2, 3, generator=g).shape == (2, 3)
    assert ad.randn((2, 3), generator=g).shape == (2, 3)
    assert ad.rand(size=(4,), generator=g).shape == (4,)
    assert ad.randn(generator=g).shape == ()
    with pytest.raises(TypeError, match="not both"):
        ad.randn(2, size=(2,))
    with pytest.raises(TypeError, match="floating") as info:
        ad.rand(3, dtype=ad.int64)
    assert info.value.op == "rand"
    assert ad.randn(3, requires_grad=True, generator=g).requires_grad


def test_randint_forms_dtypes_and_law():
    g = gen(3)
    assert ad.randint(10, (3,), generator=g).dtype == ad.int64          # randint(high, size)
    assert ad.randint(-5, 5, (2, 2), generator=g).shape == (2, 2)
    assert ad.randint(5, generator=g).shape == ()                       # size defaults to ()
    assert ad.randint(0, 10, (3,), dtype=ad.float32, generator=g).dtype == ad.float32
    b = ad.randint(0, 2, (100,), dtype=ad.bool_, generator=g)
    assert b.dtype == ad.bool_ and 20 < int(b.data.sum()) < 80
    x = ad.randint(-3, 4, (70_000,), generator=g).data
    assert x.min() == -3 and x.max() == 3
    assert_chisquare(np.bincount(x + 3, minlength=7), np.ones(7))
    big = ad.randint(0, 2 ** 62, (1000,), generator=g).data
    assert big.max() > 2 ** 61                                          # full 64-bit range
    with pytest.raises(ValueError, match="low < high"):
        ad.randint(5, 5, (3,))
    with pytest.raises(ValueError, match="does not fit in uint8"):
        ad.randint(0, 300, (3,), dtype=np.uint8)
    with pytest.raises(TypeError, match="high must be an integer"):
        ad.randint(0, 10.5, (3,))
    with pytest.raises(TypeError, match="floating-point"):
        ad.randint(0, 10, (3,), requires_grad=True)


def test_randperm_is_a_uniform_permutation():
    g = gen(4)
    p = ad.randperm(10, generator=g)
    assert p.dtype == ad.int64 and sorted(p.data.tolist()) == list(range(10))
    assert ad.randperm(0, generator=g).shape == (0,)
    assert ad.randperm(5, dtype=ad.float32, generator=g).dtype == ad.float32
    first = np.array([ad.randperm(5, generator=g).data[0] for _ in range(5000)])
    assert_chisquare(np.bincount(first, minlength=5), np.ones(5))
    with pytest.raises(ValueError, match="n must be >= 0"):
        ad.randperm(-1)
    with pytest.raises(ValueError, match="does not fit in float16"):
        ad.randperm(5000, dtype=ad.float16)


def test_like_creators_follow_input_and_overrides():
    x = ad.zeros(2, 3, dtype=ad.float64)
    g = gen(5)
    assert ad.randn_like(x, generator=g).dtype == ad.float64
    assert ad.rand_like(x, dtype=ad.float16, generator=g).dtype == ad.float16
    r = ad.randint_like(x, 3, 7, generator=g)
    assert r.dtype == ad.float64 and r.shape == (2, 3) and set(r.data.ravel()) <= {3, 4, 5, 6}
    assert ad.randint_like(ad.zeros(4, dtype=ad.int32), 10, generator=g).dtype == ad.int32
    with pytest.raises(TypeError, match="floating"):
        ad.randn_like(ad.zeros(3, dtype=ad.int64))


# ---------------------------------------------------------------- normal

def test_normal_overloads_shapes_and_dtypes():
    g = gen(6)
    assert ad.normal(ad.zeros(2, 1), ad.ones(3), generator=g).shape == (2, 3)
    assert ad.normal(0.0, ad.ones(3), generator=g).shape == (3,)
    assert ad.normal(ad.zeros(3, dtype=ad.float64), 2.0, generator=g).dtype == ad.float64
    assert ad.normal(ad.zeros(3, dtype=ad.float16), ad.ones(3), generator=g).dtype == ad.float32
    assert ad.normal(ad.zeros(3, dtype=ad.bfloat16), 1.0, generator=g).dtype == ad.bfloat16
    assert ad.normal(ad.zeros(3), ad.ones(3, dtype=ad.float64), generator=g).dtype == ad.float64
    assert ad.normal(0.0, 1.0, (2, 3), generator=g).dtype == ad.float32
    assert ad.normal(2, 3, (2,), dtype=ad.float64, generator=g).dtype == ad.float64
    assert ad.normal(0.0, 0.0, (4,), generator=g).data.tolist() == [0.0] * 4
    with pytest.raises(TypeError, match="give size"):
        ad.normal(0.0, 1.0)
    with pytest.raises(TypeError, match="size is only for"):
        ad.normal(ad.zeros(2), 1.0, (2,))
    with pytest.raises(ValueError, match="std must be >= 0"):
        ad.normal(0.0, -1.0, (2,))
    with pytest.raises(ValueError, match="every element of std"):
        ad.normal(ad.zeros(3), ad.tensor([1.0, float("nan"), 1.0]))
    with pytest.raises(TypeError, match="floating"):
        ad.normal(ad.zeros(3, dtype=ad.int64), 1.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        ad.normal(ad.zeros(2), ad.ones(3))


def test_normal_law_per_element():
    mean = ad.tensor([-3.0, 0.0, 5.0])
    std = ad.tensor([[0.5], [2.0]])
    x = as64(ad.normal(mean.expand(40_000, 2, 3), std.expand(40_000, 2, 1), generator=gen(7)))
    for i, s in enumerate((0.5, 2.0)):
        for j, m in enumerate((-3.0, 0.0, 5.0)):
            assert_mean_std(x[:, i, j], m, s)


def test_sampled_outputs_get_zero_gradient_as_torch():
    m = ad.zeros(3, requires_grad=True)
    s = ad.ones(3, requires_grad=True)
    y = ad.normal(m, s, generator=gen(0))
    assert y.requires_grad and y.grad_fn.name == "normal"
    y.sum().backward()
    assert m.grad.data.tolist() == [0.0] * 3 and s.grad.data.tolist() == [0.0] * 3
    p = ad.full((3,), 0.5, requires_grad=True)
    b = ad.bernoulli(p, generator=gen(0))
    assert b.grad_fn.name == "bernoulli"
    (b * 2).sum().backward()
    assert p.grad.data.tolist() == [0.0] * 3
    with ad.no_grad():
        assert not ad.normal(m, 1.0).requires_grad


# ---------------------------------------------------------------- multinomial

def test_multinomial_shapes_and_dtype():
    g = gen(8)
    one = ad.multinomial(ad.tensor([1.0, 2.0, 3.0]), 2, generator=g)
    assert one.dtype == ad.int64 and one.shape == (2,) and not one.requires_grad
    two = ad.multinomial(ad.ones(4, 5), 3, generator=g)
    assert two.shape == (4, 3)
    assert ad.multinomial(ad.ones(0, 3), 2, generator=g).shape == (0, 2)
    assert ad.ones(3).multinomial(2, generator=g).shape == (2,)       # the Tensor method
    for dtype in FLOATS:
        assert ad.multinomial(ad.ones(3, dtype=dtype), 2, generator=g).dtype == ad.int64


def test_multinomial_with_replacement_matches_the_weights():
    weights = np.array([[3.0, 0.0, 1.0, 6.0, 0.0], [0.0, 0.0, 2.0, 2.0, 1.0]])
    x = ad.multinomial(ad.tensor(weights), 30_000, replacement=True, generator=gen(9)).data
    for row, w in zip(x, weights):
        counts = np.bincount(row, minlength=5)
        assert counts[w == 0].sum() == 0                # zero weight: never drawn
        assert_chisquare(counts[w > 0], w[w > 0])


def test_multinomial_without_replacement_is_successive_sampling():
    w = np.array([1.0, 2.0, 0.0, 5.0])
    x = ad.multinomial(ad.tensor(np.tile(w, (20_000, 1))), 2, generator=gen(10)).data
    assert (x[:, 0] != x[:, 1]).all() and not (x == 2).any()
    # P(i then j) = w_i / W * w_j / (W - w_i)
    pairs = [(i, j) for i in (0, 1, 3) for j in (0, 1, 3) if i != j]
    probs = [w[i] / w.sum() * w[j] / (w.sum() - w[i]) for i, j in pairs]
    counts = [int(((x[:, 0] == i) & (x[:, 1] == j)).sum()) for i, j in pairs]
    assert_chisquare(counts, probs)
    perm = ad.multinomial(ad.tensor([1.0, 1.0, 1.0, 1.0]), 4, generator=gen(10)).data
    assert sorted(perm.tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("weights, n, replacement, kind, words", [
    ([1.0, -1.0], 1, False, ValueError, "negative"),
    ([1.0, float("nan")], 1, True, ValueError, "nan"),
    ([1.0, float("inf")], 1, False, ValueError, "inf"),
    ([0.0, 0.0], 1, True, ValueError, "sums to 0"),
    ([1.0, 0.0], 2, False, ValueError, "only 1 categories of non-zero weight"),
    ([1.0, 1.0], 3, False, ValueError, "without replacement from 2 categories"),
    ([1.0, 1.0], 0, True, ValueError, "num_samples must be > 0"),
    ([1.0, 1.0], 1.5, True, TypeError, "num_samples must be an integer"),
    ([1, 2], 1, True, TypeError, "floating point"),
    ([[[1.0]]], 1, True, ValueError, "1-D or 2-D"),
])
def test_multinomial_errors(weights, n, replacement, kind, words):
    with pytest.raises(kind, match=words) as info:
        ad.multinomial(ad.tensor(weights), n, replacement)
    assert info.value.op == "multinomial"


def test_multinomial_with_replacement_can_oversample_few_categories():
    x = ad.multinomial(ad.tensor([1.0, 0.0]), 3, replacement=True, generator=gen(0))
    assert x.data.tolist() == [0, 0, 0]


# ---------------------------------------------------------------- bernoulli

def test_bernoulli_law_dtype_and_overloads():
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0], dtype=np.float32)
    x = ad.bernoulli(ad.tensor(np.tile(p, (20_000, 1))), generator=gen(11))
    assert x.dtype == ad.float32 and set(np.unique(x.data)) <= {0.0, 1.0}
    freq = x.data.mean(axis=0)
    assert freq[0] == 0.0 and freq[-1] == 1.0
    se = np.sqrt(p * (1 - p) / 20_000)
    assert (np.abs(freq - p) <= 6 * se + 1e-12).all()
    assert ad.bernoulli(ad.zeros(3, dtype=ad.float64), generator=gen(0)).dtype == ad.float64
    half = ad.bernoulli(ad.zeros(40_000, dtype=ad.bfloat16), 0.25, generator=gen(0))
    assert half.dtype == ad.bfloat16 and abs(as64(half).mean() - 0.25) < 6 * np.sqrt(
        0.25 * 0.75 / 40_000)
    ints = ad.bernoulli(ad.zeros(5, dtype=ad.int64), 1.0)
    assert ints.dtype == ad.int64 and ints.data.tolist() == [1] * 5
    assert ad.full((4,), 1.0).bernoulli(generator=gen(0)).data.tolist() == [1.0] * 4
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
            ad.bernoulli(ad.zeros(2), bad)
    with pytest.raises(ValueError, match="every probability"):
        ad.bernoulli(ad.tensor([0.5, 1.5]))
    with pytest.raises(TypeError, match="floating"):
        ad.bernoulli(ad.tensor([1, 0]))


# ---------------------------------------------------------------- in-place fills

FILLS = [
    ("normal_", (), {}),
    ("uniform_", (), {}),
    ("bernoulli_", (), {}),
    ("exponential_", (), {}),
    ("random_", (0, 10), {}),
]


@pytest.mark.parametrize("name, args, kwargs", FILLS)
def test_fills_work_in_place_like_torch(name, args, kwargs):
    x = ad.zeros(50)
    version = x.version
    out = getattr(x, name)(*args, generator=gen(12), **kwargs)
    assert out is x and x.version == version + 1 and x.dtype == ad.float32
    assert np.any(x.data != 0)
    # a leaf that requires grad is refused outside no_grad, accepted inside
    w = ad.zeros(4, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{name} \\(in place\\)"):
        getattr(w, name)(*args, **kwargs)
    with ad.no_grad():
        getattr(w, name)(*args, generator=gen(0), **kwargs)
    assert w.requires_grad and w.is_leaf
    # on an intermediate, the overwritten values get a zero gradient (torch: NormalBackward..)
    a = ad.ones(4, requires_grad=True)
    y = a * 2
    getattr(y, name)(*args, generator=gen(0), **kwargs)
    y.sum().backward()
    assert a.grad.data.tolist() == [0.0] * 4


def test_fill_laws_and_bounds():
    g = gen(13)
    assert_mean_std(ad.empty(100_000).normal_(2.0, 3.0, generator=g).data, 2.0, 3.0)
    u = ad.empty(100_000, dtype=ad.float64).uniform_(-2.0, 6.0, generator=g).data
    assert u.min() >= -2.0 and u.max() < 6.0
    assert_mean_std(u, 2.0, 8.0 / np.sqrt(12))
    e = ad.empty(100_000).exponential_(4.0, generator=g).data
    assert e.min() >= 0.0
    assert_mean_std(e, 0.25, 0.25)
    b = ad.empty(4, 10_000).bernoulli_(ad.tensor([[0.0], [0.2], [0.7], [1.0]]), generator=g)
    freq = b.data.mean(axis=1)
    assert freq[0] == 0 and freq[3] == 1
    assert abs(freq[1] - 0.2) < 6 * np.sqrt(0.2 * 0.8 / 10_000)
    assert abs(freq[2] - 0.7) < 6 * np.sqrt(0.7 * 0.3 / 10_000)
    assert ad.zeros(5, dtype=ad.int64).bernoulli_(1.0).data.tolist() == [1] * 5


def test_uniform_keeps_to_excluded_after_rounding():
    # float16 spacing at 1000 is 0.5: without care a quarter of the draws round up to 1001.
    x = ad.empty(10_000, dtype=ad.float16).uniform_(1000, 1001, generator=gen(14))
    assert set(np.unique(as64(x))) == {1000.0, 1000.5}
    y = ad.empty(10_000, dtype=ad.bfloat16).uniform_(**{"from": -1.0, "to": 0.0},
                                                      generator=gen(14))
    assert as64(y).max() < 0.0 and as64(y).min() >= -1.0
    assert ad.empty(3).uniform_(2.0, 2.0).data.tolist() == [2.0] * 3


@pytest.mark.parametrize("dtype, low, high", [
    (ad.float32, 0, 2 ** 24), (ad.float16, 0, 2 ** 11), (ad.bfloat16, 0, 2 ** 8),
    (ad.float64, 0, 2 ** 53), (ad.int64, 0, 2 ** 63 - 1), (ad.int32, 0, 2 ** 31 - 1),
    (ad.bool_, 0, 1), (np.dtype(np.uint8), 0, 255)])
def test_random_default_range_per_dtype(dtype, low, high):
    x = ad.zeros(4000, dtype=dtype).random_(generator=gen(15))
    v = x.data.astype(np.float64)
    assert x.dtype == dtype and v.min() >= low and v.max() <= high
    assert v.max() > high / 2            # spans the range, not a corner of it


def test_random_forms_and_errors():
    g = gen(16)
    assert set(ad.zeros(500).random_(5, generator=g).data) == {0, 1, 2, 3, 4}
    assert set(ad.zeros(500).random_(2, 5, generator=g).data) == {2, 3, 4}
    assert set(ad.zeros(500).random_(**{"from": -2, "to": 1}, generator=g).data) == {-2, -1, 0}
    assert ad.zeros(500, dtype=ad.int64).random_(**{"from": 3}, generator=g).data.min() >= 3
    with pytest.raises(ValueError, match="from < to"):
        ad.zeros(3).random_(5, 2)
    with pytest.raises(ValueError, match="does not fit in uint8"):
        ad.zeros(3, dtype=np.uint8).random_(0, 300)
    with pytest.raises(TypeError, match="integers"):
        ad.zeros(3).random_(0.5, 2)
    with pytest.raises(TypeError, match="twice"):
        ad.zeros(3).random_(1, 5, **{"from": 2})


@pytest.mark.parametrize("call, kind, words", [
    (lambda x: x.normal_(0, -1), ValueError, "std must be >= 0"),
    (lambda x: x.uniform_(2, 1), ValueError, "from <= to"),
    (lambda x: x.uniform_(0, float("inf")), ValueError, "finite"),
    (lambda x: x.exponential_(0), ValueError, "lambd must be > 0"),
    (lambda x: x.bernoulli_(1.5), ValueError, r"p must be in \[0, 1\]"),
    (lambda x: x.bernoulli_(ad.full((2,), 0.5)), ValueError, "does not broadcast"),
    (lambda x: x[:2].clone().bernoulli_(ad.full((3, 2), 0.5)), ValueError, "enlarge"),
    (lambda x: x.normal_(generator="seed"), TypeError, "must be an ad.Generator"),
    (lambda x: x.uniform_(0, 1, 2), TypeError, "takes \\(from, to\\)"),
    (lambda x: x.normal_("0"), TypeError, "mean must be a number"),
])
def test_fill_errors(call, kind, words):
    with pytest.raises(kind, match=words) as info:
        call(ad.zeros(3))
    assert info.value.op.rstrip("_") in ("normal", "uniform", "exponential", "bernoulli")


@pytest.mark.parametrize("name", ["normal_", "uniform_", "exponential_"])
def test_continuous_fills_refuse_integer_tensors(name):
    with pytest.raises(TypeError, match=f"{name}: fills floating tensors only"):
        getattr(ad.zeros(3, dtype=ad.int64), name)()


# ---------------------------------------------------------------- nn: dropout and init

def test_dropout_generator_and_inplace():
    x = ad.ones(200)
    a = nn.functional.dropout(x, 0.5, generator=gen(17)).data
    b = nn.functional.dropout(x, 0.5, generator=gen(17)).data
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0}
    layer = nn.Dropout(0.5, generator=gen(17))
    np.testing.assert_array_equal(layer(x).data, a)
    y = ad.ones(200)
    assert nn.functional.dropout(y, 0.5, inplace=True, generator=gen(17)) is y
    np.testing.assert_array_equal(y.data, a)
    assert repr(nn.Dropout(0.2, inplace=True)) == "Dropout(p=0.2, inplace=True)"


RANDOM_INITS = [
    (init.uniform_, {}), (init.normal_, {}), (init.trunc_normal_, {}),
    (init.xavier_uniform_, {}), (init.xavier_normal_, {}), (init.kaiming_uniform_, {}),
    (init.kaiming_normal_, {}), (init.orthogonal_, {}),
]


@pytest.mark.parametrize("fn, kwargs", RANDOM_INITS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_random_init_takes_a_generator(fn, kwargs):
    ad.manual_seed(0)
    default_before = ad.get_rng_state()
    a = fn(ad.empty(6, 5), generator=gen(18), **kwargs).data.copy()
    b = fn(ad.empty(6, 5), generator=gen(18), **kwargs).data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ad.get_rng_state().data, default_before.data)  # untouched
    assert not np.array_equal(a, fn(ad.empty(6, 5), generator=gen(19), **kwargs).data)


def test_init_fills_keep_half_dtypes_and_bump_versions():
    w = nn.Parameter(ad.empty(64, 32, dtype=ad.bfloat16))
    version = w.version
    init.kaiming_uniform_(w, generator=gen(0))
    assert w.dtype == ad.bfloat16 and w.version == version + 1 and w.requires_grad
    bound = np.sqrt(3.0) * init.calculate_gain("leaky_relu", 0.0) / np.sqrt(32)
    assert np.abs(as64(w)).max() < bound


# ---------------------------------------------------------------- properties: shapes, dtypes

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@given(shape=shapes, dtype=st.sampled_from(FLOATS), seed=st.integers(-2 ** 63, 2 ** 64 - 1))
def test_float_creators_shapes_dtypes_and_reproducibility(shape, dtype, seed):
    for fn in (ad.randn, ad.rand):
        a = fn(shape, dtype=dtype, generator=gen(seed))
        b = fn(*shape, dtype=dtype, generator=gen(seed))
        assert a.shape == shape and a.dtype == dtype
        np.testing.assert_array_equal(as64(a), as64(b))


@given(shape=shapes, low=st.integers(-1000, 1000), span=st.integers(1, 1000),
       dtype=st.sampled_from([ad.int64, ad.int32, ad.float32, ad.float64]))
def test_randint_values_within_bounds(shape, low, span, dtype):
    x = ad.randint(low, low + span, shape, dtype=dtype, generator=gen(low))
    assert x.shape == shape and x.dtype == dtype
    if x.data.size:
        assert x.data.min() >= low and x.data.max() < low + span


@given(dtype=st.sampled_from(FLOATS), low=st.floats(-1e3, 1e3), width=st.floats(1e-2, 1e3),
       seed=st.integers(0, 2 ** 32))
def test_uniform_fill_stays_in_from_to_in_every_dtype(dtype, low, width, seed):
    high = low + width
    x = ad.empty(256, dtype=dtype).uniform_(low, high, generator=gen(seed))
    v = as64(x)
    first, last = float(np.asarray(low, np.float64)), float(np.asarray(high, np.float64))
    representable = np.unique(np.asarray(np.linspace(low, high, 64), dtype=dtype).astype(float))
    if ((representable >= first) & (representable < last)).any():  # some value fits
        assert v.min() >= first and v.max() < last, (v.min(), v.max(), low, high)


@given(rows=st.integers(1, 4), k=st.integers(1, 6), data=st.data())
def test_multinomial_draws_only_positive_weights(rows, k, data):
    w = np.array(data.draw(st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.0]),
                                             min_size=k, max_size=k),
                                    min_size=rows, max_size=rows)))
    w[:, 0] += 1.0   # every row has at least one positive weight
    positive = (w > 0).sum(axis=1).min()
    n = data.draw(st.integers(1, int(positive)))
    for replacement in (False, True):
        x = ad.multinomial(ad.tensor(w), n, replacement, generator=gen(rows * k)).data
        assert x.shape == (rows, n)
        assert (np.take_along_axis(w, x, axis=1) > 0).all()
        if not replacement:
            assert all(len(set(row)) == n for row in x.tolist())


# ---------------------------------------------------------------- torch as an oracle

def test_dtypes_and_shapes_match_torch():
    torch = pytest.importorskip("torch")
    g, tg = gen(0), torch.Generator().manual_seed(0)

    def both(fn_ad, fn_torch):
        a, t = fn_ad(), fn_torch()
        assert tuple(a.shape) == tuple(t.shape)
        assert str(a.dtype) == str(t.dtype).replace("torch.", ""), (a.dtype, t.dtype)

    both(lambda: ad.randn(2, 3, generator=g), lambda: torch.randn(2, 3, generator=tg))
    both(lambda: ad.rand(4, dtype=ad.float64, generator=g),
         lambda: torch.rand(4, dtype=torch.float64, generator=tg))
    both(lambda: ad.randint(10, (3,), generator=g), lambda: torch.randint(10, (3,), generator=tg))
    both(lambda: ad.randint(0, 10, (3,), dtype=ad.float32, generator=g),
         lambda: torch.randint(0, 10, (3,), dtype=torch.float32, generator=tg))
    both(lambda: ad.randperm(5, generator=g), lambda: torch.randperm(5, generator=tg))
    both(lambda: ad.normal(ad.zeros(2, 1), ad.ones(3), generator=g),
         lambda: torch.normal(torch.zeros(2, 1), torch.ones(3), generator=tg))
    both(lambda: ad.normal(0.0, 1.0, (2, 3), generator=g),
         lambda: torch.normal(0.0, 1.0, (2, 3), generator=tg))
    both(lambda: ad.multinomial(ad.ones(2, 4), 3, generator=g),
         lambda: torch.multinomial(torch.ones(2, 4), 3, generator=tg))
    both(lambda: ad.multinomial(ad.ones(4), 6, True, generator=g),
         lambda: torch.multinomial(torch.ones(4), 6, True, generator=tg))
    both(lambda: ad.bernoulli(ad.full((3,), 0.5, dtype=ad.float64), generator=g),
         lambda: torch.bernoulli(torch.full((3,), 0.5, dtype=torch.float64), generator=tg))
    both(lambda: ad.randint_like(ad.zeros(3, dtype=ad.int32), 5, generator=g),
         lambda: torch.randint_like(torch.zeros(3, dtype=torch.int32), 5, generator=tg))
    for name, args in [("normal_", ()), ("uniform_", (0, 1)), ("exponential_", ()),
                       ("bernoulli_", (0.5,)), ("random_", (0, 7))]:
        both(lambda: getattr(ad.zeros(5, dtype=ad.float64), name)(*args, generator=g),
             lambda: getattr(torch.zeros(5, dtype=torch.float64), name)(*args, generator=tg))
    assert torch.Generator().initial_seed() == ad.Generator().initial_seed()
    assert torch.Generator().manual_seed(-1).initial_seed() == gen(-1).initial_seed()


def test_laws_match_torch_samples():
    torch = pytest.importorskip("torch")
    tg = torch.Generator().manual_seed(0)
    n = 50_000
    w = [1.0, 0.0, 3.0, 6.0]
    ours = np.bincount(ad.multinomial(ad.tensor(w), n, True, generator=gen(20)).data,
                       minlength=4)
    theirs = np.bincount(torch.multinomial(torch.tensor(w), n, True, generator=tg).numpy(),
                         minlength=4)
    # two-sample chi-square (homogeneity) on the categories with weight
    table = np.array([ours[[0, 2, 3]], theirs[[0, 2, 3]]])
    assert stats.chi2_contingency(table).pvalue > 1e-4
    a = ad.empty(n).exponential_(2.0, generator=gen(21)).data
    b = torch.empty(n).exponential_(2.0, generator=tg).numpy()
    assert stats.ks_2samp(a, b).pvalue > 1e-4
    c = ad.normal(ad.full((n,), 1.0), 2.0, generator=gen(22)).data
    d = torch.normal(torch.full((n,), 1.0), 2.0, generator=tg).numpy()
    assert stats.ks_2samp(c, d).pvalue > 1e-4


def test_bfloat16_draws_are_on_the_grid():
    x = ad.rand(5000, dtype=ad.bfloat16, generator=gen(23))
    v = as64(x)
    np.testing.assert_array_equal(v * 256, np.round(v * 256))   # multiples of 2^-8
    assert x.data.dtype == np.dtype(ml_dtypes.bfloat16)

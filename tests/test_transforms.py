"""nn.transforms: statistics vs NumPy, PCA whitening, and each augmentation on crafted images."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import autodiff as ad
import nn
from nn import transforms as T
from nn.utils.data import DataLoader, TensorDataset


def gen(seed):
    return ad.Generator().manual_seed(seed)


def _images(n=6, c=3, h=8, w=8, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


# ---------------------------------------------------------------- standardisation

def test_standardizer_per_feature_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(200, 5))
    train[:, 4] = 7.0                                   # a constant feature
    test = rng.normal(-1.0, 5.0, size=(50, 5))
    s = T.Standardizer().fit(train)
    np.testing.assert_allclose(s.mean, train.mean(0))
    expected_std = train.std(0)
    expected_std[4] = 1.0                               # left unscaled, not divided by 0
    np.testing.assert_allclose(s.std, expected_std)
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) / expected_std)
    z = s.transform(train)
    np.testing.assert_allclose(z[:, :4].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, :4].std(0), 1, atol=1e-12)


def test_standardizer_per_channel_matches_numpy_and_keeps_dtype():
    x = _images(10, 3, 5, 4) * np.array([1, 10, 100], np.float32)[:, None, None]
    s = T.Standardizer(per="channel").fit(ad.tensor(x))
    assert s.mean.shape == (3, 1, 1)
    np.testing.assert_allclose(s.mean[:, 0, 0], x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(s.std[:, 0, 0], x.std(axis=(0, 2, 3)), rtol=1e-5)
    out = s(ad.tensor(x))
    assert isinstance(out, ad.Tensor) and out.dtype == ad.float32
    np.testing.assert_allclose(out.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.numpy().std(axis=(0, 2, 3)), 1, atol=1e-5)
    one = s(x[0])                                        # a single (C, H, W) sample
    np.testing.assert_allclose(one, out.numpy()[0], rtol=1e-6)
    whole = T.Standardizer(per="all").fit(x)
    assert whole.mean.shape == () and np.isclose(whole.mean, x.mean(), rtol=1e-6)


def test_standardizer_streaming_fit_equals_one_shot():
    x = np.random.default_rng(1).normal(5, 3, size=(103, 2, 3, 3)).astype(np.float32)
    loader = DataLoader(TensorDataset(x, np.zeros(103)), batch_size=10)
    a = T.Standardizer(per="channel").fit(loader)
    b = T.Standardizer(per="channel").fit(x)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-10)
    assert a.count == 103 * 9


def test_standardizer_targets_round_trip_and_state(tmp_path):
    y = np.random.default_rng(2).normal(100.0, 15.0, size=(40, 1)).astype(np.float64)
    s = T.Standardizer().fit(y)
    z = s.transform(y)
    np.testing.assert_allclose(s.inverse_transform(z), y, rtol=1e-12)
    nn.save(s.state_dict(), tmp_path / "std.npz")
    t = T.Standardizer()
    t.load_state_dict(nn.load(tmp_path / "std.npz"))
    np.testing.assert_array_equal(t.transform(y), z)
    with pytest.raises(RuntimeError, match="call fit"):
        T.Standardizer().transform(y)


def test_standardize_and_normalize():
    x = _images(4, 3, 2, 2)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    out = T.Normalize(mean, std)(x)       # torchvision: per channel
    ref = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out, ref.astype(np.float32), rtol=1e-6, atol=1e-6)
    feats = np.random.default_rng(0).random((5, 4))
    out = T.Standardize(feats.mean(0), feats.std(0))(feats)
    np.testing.assert_allclose(out, (feats - feats.mean(0)) / feats.std(0))
    with pytest.raises(ValueError, match="do not fit samples"):
        T.Standardize(np.zeros(3), np.ones(3))(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="non-zero"):
        T.Standardize(0.0, 0.0)


def test_standardizer_matches_sklearn_convention_against_torch_formula():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(size=(30, 4))
    s = T.Standardizer().fit(x)
    tx = torch.tensor(x)
    ref = (tx - tx.mean(0)) / tx.std(0, unbiased=False)
    np.testing.assert_allclose(s.transform(x), ref.numpy(), rtol=1e-12)


def test_pca_whitening_gives_identity_covariance():
    rng = np.random.default_rng(0)
    mix = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, -0.2, 0.1]])
    x = rng.normal(size=(500, 3)) @ mix.T + np.array([1.0, -2.0, 3.0])
    pca = T.PCA(whiten=True).fit(x)
    z = pca.transform(x)
    np.testing.assert_allclose(np.cov(z, rowvar=False, bias=True), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(pca.inverse_transform(z), x, atol=1e-10)
    # decorrelation only: a diagonal covariance holding the eigenvalues, largest first
    plain = T.PCA(n_components=2).fit(x)
    zc = plain.transform(x)
    cov = np.cov(x, rowvar=False, bias=True)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(np.cov(zc, rowvar=False, bias=True), np.diag(eig[:2]),
                               atol=1e-9)
    np.testing.assert_allclose(plain.explained_variance, eig[:2])
    np.testing.assert_allclose(plain.explained_variance_ratio(), eig[:2] / eig.sum())
    comps = plain.components
    assert np.all(comps[np.arange(2), np.abs(comps).argmax(1)] > 0)   # sign convention
    assert zc.shape == (500, 2)
    restored = T.PCA()
    restored.load_state_dict(plain.state_dict())
    np.testing.assert_array_equal(restored.transform(x), zc)
    np.testing.assert_allclose(restored.explained_variance_ratio(), eig[:2] / eig.sum())
    with pytest.raises(ValueError, match="exceeds"):
        T.PCA(n_components=4).fit(x)
    with pytest.raises(ValueError, match="fitted on samples"):
        plain.transform(np.zeros((2, 5)))


# ---------------------------------------------------------------- flips and crops

def test_flips_mirror_crafted_images():
    img = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(img), img[..., ::-1, :])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(img), img)
    sample = ad.tensor(img[0])
    out = T.RandomHorizontalFlip(1.0)(sample)
    assert isinstance(out, ad.Tensor) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy(), img[0, :, :, ::-1])


def test_flip_draws_per_sample_and_is_reproducible():
    x = _images(64)
    a = T.RandomHorizontalFlip(0.5, generator=gen(5))(x)
    b = T.RandomHorizontalFlip(0.5, generator=gen(5))(x)
    np.testing.assert_array_equal(a, b)
    flipped = np.array([np.array_equal(a[i], x[i, ..., ::-1]) for i in range(64)])
    kept = np.array([np.array_equal(a[i], x[i]) for i in range(64)])
    assert np.all(flipped ^ kept) and 15 < flipped.sum() < 49
    expected = ad.rand(64, dtype=ad.float64, generator=gen(5)).numpy() < 0.5   # the draw
    np.testing.assert_array_equal(flipped, expected)


def test_random_crop_keeps_size_and_cuts_windows_of_the_padded_image():
    x = _images(20, 2, 6, 6)
    out = T.RandomCrop(6, padding=2, generator=gen(0))(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(20):
        hits = [(r, c) for r in range(5) for c in range(5)
                if np.array_equal(out[i], padded[i, :, r:r + 6, c:c + 6])]
        assert hits, f"sample {i} is not a window of its padded image"
        offsets.add(hits[0])
    assert len(offsets) > 5                                 # different places per sample
    np.testing.assert_array_equal(T.RandomCrop(6, padding=2, generator=gen(0))(x), out)
    np.testing.assert_array_equal(T.RandomCrop(6)(x), x)  # nothing to choose
    small = T.RandomCrop((3, 4), generator=gen(1))(x[0])
    assert small.shape == (2, 3, 4)
    refl = T.RandomCrop(8, padding=1, padding_mode="reflect", generator=gen(1))(x)
    assert refl.shape == (20, 2, 8, 8)
    assert T.RandomCrop(9, pad_if_needed=True, generator=gen(0))(x).shape == (20, 2, 9, 9)
    with pytest.raises(ValueError, match="larger than the"):
        T.RandomCrop(7)(x)


def test_center_crop():
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    np.testing.assert_array_equal(T.CenterCrop(2)(x), x[:, 2:4, 2:4])


# ---------------------------------------------------------------- resampling

@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_by_right_angles_is_exact(interpolation):
    x = _images(3, 2, 5, 5)
    r90 = T.RandomRotation((90, 90), interpolation=interpolation)(x)
    np.testing.assert_allclose(r90, np.rot90(x, 1, axes=(2, 3)), atol=1e-6)  # counter-clockwise
    r180 = T.RandomRotation((180, 180), interpolation=interpolation)(x)
    np.testing.assert_allclose(r180, x[..., ::-1, ::-1], atol=1e-6)
    np.testing.assert_allclose(T.RandomRotation(0, interpolation=interpolation)(x), x)


def test_rotation_fills_corners_and_is_reproducible():
    x = np.ones((4, 1, 9, 9), np.float32)
    out = T.RandomRotation((45, 45), fill=-1.0)(x)
    assert out[0, 0, 0, 0] == -1.0 and out[0, 0, 4, 4] == 1.0
    a = T.RandomRotation(30, generator=gen(2))(_images())
    b = T.RandomRotation(30, generator=gen(2))(_images())
    np.testing.assert_array_equal(a, b)


def test_affine_translation_shifts_whole_pixels():
    x = _images(1, 1, 6, 6)
    t = T.RandomAffine(0, translate=(0.5, 0.5), generator=gen(3))
    out = t(x)
    hits = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
            if np.allclose(out[0, 0, max(dy, 0):6 + min(dy, 0), max(dx, 0):6 + min(dx, 0)],
                           x[0, 0, max(-dy, 0):6 - max(dy, 0), max(-dx, 0):6 - max(dx, 0)])]
    assert hits, "the output is no whole-pixel shift of the input"
    dy, dx = hits[0]
    if dy > 0:
        assert np.all(out[0, 0, :dy] == 0)   # rows shifted in from outside are filled
    scaled = T.RandomAffine(0, scale=(2.0, 2.0), interpolation="bilinear")(
        np.ones((1, 1, 8, 8), np.float32))
    assert np.all(scaled == 1.0)           # a zoom in stays inside the image


def test_resized_crop_of_the_whole_image_is_the_identity():
    x = _images(3, 2, 6, 6)
    out = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    np.testing.assert_allclose(out, x, atol=1e-6)
    up = T.RandomResizedCrop(12, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    assert up.shape == (3, 2, 12, 12)
    np.testing.assert_allclose(up[..., ::2, ::2].mean(), x.mean(), atol=0.05)
    z = T.RandomResizedCrop((4, 5), generator=gen(0))(x)
    assert z.shape == (3, 2, 4, 5)
    assert x.min() - 1e-6 <= z.min() and z.max() <= x.max() + 1e-6   # an interpolation


def test_uint8_images_keep_their_dtype():
    x = (np.random.default_rng(0).random((2, 1, 5, 5)) * 255).astype(np.uint8)
    out = T.RandomRotation(20, interpolation="bilinear", generator=gen(0))(x)
    assert out.dtype == np.uint8
    with pytest.raises(TypeError, match="floating-point"):
        T.GaussianNoise(0.1)(x)


# ---------------------------------------------------------------- values

def test_color_jitter_brightness_and_contrast():
    x = _images(32, 1, 4, 4) * 0.5 + 0.25
    out = T.ColorJitter(brightness=0.3, generator=gen(0))(x)
    ratio = out / x
    per_sample = ratio.reshape(32, -1)
    np.testing.assert_allclose(per_sample, per_sample[:, :1] * np.ones((1, 16)), rtol=1e-5)
    assert np.all((per_sample[:, 0] >= 0.7 - 1e-6) & (per_sample[:, 0] <= 1.3 + 1e-6))
    assert per_sample[:, 0].std() > 0.05
    c = T.ColorJitter(contrast=(0.5, 0.5), value_range=None)(x)
    np.testing.assert_allclose(c.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(c.std(axis=(1, 2, 3)), 0.5 * x.std(axis=(1, 2, 3)), rtol=1e-4)
    bright = T.ColorJitter(brightness=(3.0, 3.0))(x)
    assert bright.max() == 1.0                      # clamped to (0, 1) as torchvision
    rgb = _images(4, 3, 2, 2)
    gray = T.ColorJitter(saturation=(0.0, 0.0))(rgb)   # saturation 0: grayscale
    np.testing.assert_allclose(gray[:, 0], gray[:, 1], rtol=1e-6)
    np.testing.assert_allclose(gray[:, 0], 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1]
                               + 0.114 * rgb[:, 2], rtol=1e-5)


def test_gaussian_noise_statistics_and_reproducibility():
    x = np.zeros((100, 50), np.float32)
    out = T.GaussianNoise(0.3, generator=gen(0))(x)
    assert abs(out.mean()) < 0.01 and abs(out.std() - 0.3) < 0.01
    np.testing.assert_array_equal(out, T.GaussianNoise(0.3, generator=gen(0))(x))
    vec = T.GaussianNoise(0.1, generator=gen(1))(ad.tensor(np.ones(5, np.float32)))
    assert isinstance(vec, ad.Tensor) and vec.shape == (5,)
    assert np.all(T.GaussianNoise(5.0, clip=(0, 1), generator=gen(0))(x) <= 1)


def test_random_erasing_erases_one_rectangle_per_chosen_sample():
    x = np.ones((40, 3, 10, 10), np.float32)
    out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), ratio=(0.5, 2.0), generator=gen(0))(x)
    for i in range(40):
        erased = out[i] == 0
        assert np.array_equal(erased[0], erased[1]) and np.array_equal(erased[0], erased[2])
        rows, cols = np.flatnonzero(erased[0].any(1)), np.flatnonzero(erased[0].any(0))
        assert erased[0].sum() == len(rows) * len(cols)          # one full rectangle
        assert 0.05 <= erased[0].mean() <= 0.26
    none = T.RandomErasing(p=0.0)(x)
    np.testing.assert_array_equal(none, x)
    half = T.RandomErasing(p=0.5, generator=gen(1))(x)
    touched = (half == 0).reshape(40, -1).any(1)
    assert 8 < touched.sum() < 32
    per_channel = T.RandomErasing(p=1.0, value=[1.0, 2.0, 3.0], generator=gen(2))(
        np.zeros((2, 3, 10, 10), np.float32))
    assert set(np.unique(per_channel[:, 1])) == {0.0, 2.0}


def test_random_mask_zeroes_without_rescaling():
    x = np.full((200, 50), 2.0, np.float32)
    out = T.RandomMask(0.25, generator=gen(0))(x)
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs((out == 0).mean() - 0.25) < 0.02


# ---------------------------------------------------------------- composition and loaders

def test_compose_random_apply_and_loader_labels_untouched():
    x, y = _images(16, 1, 6, 6), np.arange(16)
    pipeline = T.Compose([T.RandomCrop(6, padding=1, generator=gen(0)),
                          T.RandomHorizontalFlip(generator=gen(1)),
                          T.RandomApply([T.GaussianNoise(0.1, generator=gen(3))], p=0.5,
                                        generator=gen(2))])
    assert "RandomCrop" in repr(pipeline)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, transform=pipeline)
    labels = np.concatenate([yb.numpy() for _, yb in loader])
    np.testing.assert_array_equal(labels, y)
    applied = T.RandomApply([T.Lambda(lambda a: a + 1)], p=0.5, generator=gen(4))(x)
    moved = (applied != x).reshape(16, -1).all(1)
    same = (applied == x).reshape(16, -1).all(1)
    assert np.all(moved ^ same) and 0 < moved.sum() < 16


@given(seed=st.integers(0, 2 ** 31), n=st.integers(1, 5))
def test_every_random_transform_is_reproducible_and_keeps_batch_shape(seed, n):
    x = _images(n, 3, 7, 7, seed=seed % 100)
    for make in (lambda g: T.RandomHorizontalFlip(generator=g),
                 lambda g: T.RandomVerticalFlip(generator=g),
                 lambda g: T.RandomCrop(7, padding=2, generator=g),
                 lambda g: T.RandomRotation(25, generator=g),
                 lambda g: T.RandomAffine(10, translate=(0.2, 0.1), scale=(0.8, 1.2),
                                          generator=g),
                 lambda g: T.RandomResizedCrop(7, generator=g),
                 lambda g: T.ColorJitter(0.4, 0.4, 0.4, generator=g),
                 lambda g: T.GaussianNoise(0.1, generator=g),
                 lambda g: T.RandomErasing(generator=g),
                 lambda g: T.RandomMask(0.3, generator=g)):
        a, b = make(gen(seed))(x), make(gen(seed))(x)
        assert a.shape == x.shape and a.dtype == x.dtype
        np.testing.assert_array_equal(a, b)


def test_transform_errors_name_the_transform():
    with pytest.raises(ValueError, match="RandomHorizontalFlip: probability"):
        T.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="RandomCrop: expected an image"):
        T.RandomCrop(2)(np.zeros((1, 1, 1, 4, 4)))
    with pytest.raises(ValueError, match="RandomRotation: if degrees"):
        T.RandomRotation(-3)
    with pytest.raises(TypeError, match="expected a Tensor or an array"):
        T.RandomHorizontalFlip()([1, 2])

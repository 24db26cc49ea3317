"""Standardisation and PCA: statistics fitted on training data, applied to any data.

The lecture's pipeline: zero-centre (x - mean), scale (/ std, per feature or per channel),
or decorrelate (project on the principal axes) and whiten (divide by their std).
"""
from __future__ import annotations

import numbers

import numpy as np

import autodiff as ad

from ._base import Transform

__all__ = ["Standardize", "Normalize", "Standardizer", "PCA"]


def _host(x) -> np.ndarray:
    if isinstance(x, ad.Tensor):
        return x.numpy()
    return x if isinstance(x, np.ndarray) else ad.tensor(x).numpy()


def _on_device_of(values: np.ndarray, arr):
    """`values` cast to arr's dtype and moved to arr's device."""
    xp = ad.array_module(arr)
    return xp.asarray(values.astype(arr.dtype, copy=False))


class Standardize(Transform):
    """(x - mean) / std, with mean and std broadcast against each sample's trailing axes:
    shape (F,) for vectors of F features, (C, H, W) per pixel, (C, 1, 1) per channel (or use
    `Normalize(mean, std)`, torchvision's per-channel form). Works on one sample or a batch."""

    def __init__(self, mean, std):
        self.mean = np.asarray(_host(mean), dtype=np.float64)
        self.std = np.asarray(_host(std), dtype=np.float64)
        try:
            self._shape = np.broadcast_shapes(self.mean.shape, self.std.shape)
        except ValueError:
            raise ValueError(f"{type(self).__name__}: mean of shape {self.mean.shape} and std "
                             f"of shape {self.std.shape} do not broadcast together") from None
        if np.any(self.std == 0) or not np.all(np.isfinite(self.std)):
            raise ValueError("Standardize: std must be finite and non-zero everywhere (a "
                             "constant feature has std 0: Standardizer uses 1 there)")

    def apply(self, arr):
        nd = len(self._shape)
        trailing = tuple(arr.shape[arr.ndim - nd:]) if nd else ()
        if arr.ndim < nd or any(s not in (1, t) for s, t in zip(self._shape, trailing)):
            raise ValueError(f"{type(self).__name__}: mean/std of shape {self.mean.shape} do "
                             f"not fit samples of shape {tuple(arr.shape)} (they broadcast "
                             "against the trailing axes; per channel of (C, H, W) images use "
                             "shape (C, 1, 1) or Normalize)")
        return ((arr - _on_device_of(self.mean, arr)) / _on_device_of(self.std, arr)).astype(
            arr.dtype, copy=False)


class _Affine(Transform):
    def __init__(self, scale, shift):
        self.scale, self.shift = scale, shift

    def apply(self, arr):
        return (arr * _on_device_of(self.scale, arr) + _on_device_of(self.shift, arr)).astype(
            arr.dtype, copy=False)


class Normalize(Standardize):
    """torchvision's Normalize: (x - mean[c]) / std[c] per channel c of (..., C, H, W)
    images; `mean` and `std` are sequences of C numbers."""

    def __init__(self, mean, std):
        mean = np.asarray(_host(mean), dtype=np.float64).reshape(-1, 1, 1)
        std = np.asarray(_host(std), dtype=np.float64).reshape(-1, 1, 1)
        super().__init__(mean, std)


class Standardizer(Transform):
    """Learns mean and std from training data with `fit`, then standardises any data with
    them: `transform(x)` = (x - mean) / std, `inverse_transform(z)` = z std + mean (also for
    continuous targets: standardise y for training, map predictions back).

    per="feature": one mean/std per position of a sample (per column of (N, F) data, per
    pixel and channel of images); per="channel": one per channel of (N, C, ...) data, over
    the batch and all other axes (the usual choice for images); per="all": one for the whole
    array. std is the population std (ddof=0, as scikit-learn's StandardScaler); a constant
    feature (std 0) is left unscaled (std taken as 1). Statistics are accumulated in float64
    (Chan et al.'s parallel update), so `fit` accepts one array or any iterable of batches
    (a DataLoader: the first element of each (inputs, targets) batch is used).
    """

    def __init__(self, per: str = "feature"):
        if per not in ("feature", "channel", "all"):
            raise ValueError(f"Standardizer: per must be 'feature', 'channel' or 'all', got "
                             f"{per!r}")
        self.per = per
        self.mean = self.std = None
        self.count = 0
        self._m2 = None

    # ---------------------------------------------------------------- fitting
    def _axes(self, arr):
        if self.per == "feature":
            return (0,)
        if self.per == "channel":
            if arr.ndim < 2:
                raise ValueError(f"Standardizer(per='channel'): needs (N, C, ...) data, got "
                                 f"shape {tuple(arr.shape)}")
            return (0,) + tuple(range(2, arr.ndim))
        return tuple(range(arr.ndim))

    def partial_fit(self, x) -> "Standardizer":
        """Add a batch of samples (first axis = samples) to the statistics."""
        arr = _host(x).astype(np.float64)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"Standardizer.fit: needs a non-empty batch (N, ...), got shape "
                             f"{arr.shape}")
        axes = self._axes(arr)
        n = int(np.prod([arr.shape[a] for a in axes]))
        mean = arr.mean(axis=axes, keepdims=True)[0]
        m2 = ((arr - mean) ** 2).sum(axis=axes, keepdims=True)[0]
        if self.per == "all":
            mean, m2 = mean.reshape(()), m2.reshape(())
        if self.count == 0:
            self._mean, self._m2, self.count = mean, m2, n
        else:
            if mean.shape != self._mean.shape:
                raise ValueError(f"Standardizer.fit: batches of different sample shapes "
                                 f"({self._mean.shape} then {mean.shape})")
            total = self.count + n
            delta = mean - self._mean
            self._mean = self._mean + delta * (n / total)
            self._m2 = self._m2 + m2 + delta ** 2 * (self.count * n / total)
            self.count = total
        self.mean = self._mean
        std = np.sqrt(self._m2 / self.count)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def fit(self, data) -> "Standardizer":
        """Fit on `data`: an array/Tensor (N, ...) or an iterable of batches. Returns self."""
        self.mean = self.std = self._m2 = None
        self.count = 0
        if isinstance(data, (ad.Tensor, np.ndarray)) or hasattr(data, "__array_namespace__"):
            return self.partial_fit(data)
        for batch in data:
            self.partial_fit(batch[0] if isinstance(batch, (tuple, list)) else batch)
        if self.count == 0:
            raise ValueError("Standardizer.fit: the data had no batches")
        return self

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    # ---------------------------------------------------------------- applying
    def _check_fitted(self, what):
        if self.mean is None:
            raise RuntimeError(f"Standardizer.{what}: call fit(training_data) first")

    def transform(self, x):
        """(x - mean) / std (a Tensor for a Tensor, an array for an array)."""
        self._check_fitted("transform")
        return self(x)

    def apply(self, arr):
        self._check_fitted("transform")
        return self.to_transform().apply(arr)

    def inverse_transform(self, z):
        """z * std + mean."""
        self._check_fitted("inverse_transform")
        return _Affine(self.std, self.mean)(z)

    def to_transform(self) -> Standardize:
        """The fitted statistics as a fixed Standardize transform."""
        self._check_fitted("to_transform")
        if getattr(self, "_fixed", None) is None or self._fixed[0] is not self.mean:
            self._fixed = (self.mean, Standardize(self.mean, self.std))
        return self._fixed[1]

    def state_dict(self) -> dict:
        self._check_fitted("state_dict")
        return {"per": self.per, "count": self.count, "mean": self._mean, "m2": self._m2}

    def load_state_dict(self, state: dict) -> None:
        self.per = state["per"]
        self.count = int(state["count"])
        self._mean = _host(state["mean"]).astype(np.float64)
        self._m2 = _host(state["m2"]).astype(np.float64)
        self.mean = self._mean
        std = np.sqrt(self._m2 / self.count)
        self.std = np.where(std > 0, std, 1.0)

    def __repr__(self):
        shape = None if self.mean is None else self.mean.shape
        return f"Standardizer(per={self.per!r}, fitted={self.mean is not None}, shape={shape})"


class PCA(Transform):
    """Principal component analysis: transform(x) = (x - mean) @ components.T, the data's
    coordinates along its `n_components` directions of largest variance (components sorted
    by explained variance; each signed so its largest |entry| is positive). With
    `whiten=True` each coordinate is divided by sqrt(variance + eps), so the training data's
    covariance becomes the identity. Variances use ddof=0 (cov = Xc^T Xc / N), as the
    lecture's `np.dot(X.T, X) / X.shape[0]`. Samples of any shape are flattened first."""

    def __init__(self, n_components=None, whiten: bool = False, eps: float = 0.0):
        if n_components is not None and (not isinstance(n_components, numbers.Integral)
                                         or n_components <= 0):
            raise ValueError(f"PCA: n_components must be a positive int or None, got "
                             f"{n_components!r}")
        if not eps >= 0:
            raise ValueError(f"PCA: eps must be >= 0, got {eps!r}")
        self.n_components, self.whiten, self.eps = n_components, whiten, float(eps)
        self.mean = self.components = self.explained_variance = None
        self._sample_shape = None

    def fit(self, x) -> "PCA":
        arr = _host(x).astype(np.float64)
        if arr.ndim < 2 or arr.shape[0] < 2:
            raise ValueError(f"PCA.fit: needs (N, ...) data with N >= 2, got shape {arr.shape}")
        self._sample_shape = arr.shape[1:]
        flat = arr.reshape(len(arr), -1)
        k = self.n_components or min(flat.shape)
        if k > min(flat.shape):
            raise ValueError(f"PCA.fit: n_components={k} exceeds min(samples, features) = "
                             f"{min(flat.shape)} for data of shape {arr.shape}")
        self.mean = flat.mean(axis=0)
        _, s, vt = np.linalg.svd(flat - self.mean, full_matrices=False)
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
        self.components = vt[:k] * signs[:k, None]
        self.explained_variance = (s[:k] ** 2) / len(flat)
        self.singular_values = s[:k]
        self._total_variance = float((s ** 2).sum() / len(flat))
        return self

    def _scale(self):
        var = self.explained_variance + self.eps
        return np.sqrt(np.where(var > 0, var, 1.0))

    def transform(self, x):
        if self.components is None:
            raise RuntimeError("PCA.transform: call fit(training_data) first")
        return Transform.__call__(self, x)

    def apply(self, arr):
        flat = arr.reshape(arr.shape[0], -1)
        if flat.shape[1] != self.mean.shape[0]:
            raise ValueError(f"PCA.transform: fitted on samples of shape {self._sample_shape}, "
                             f"got data of shape {tuple(arr.shape)}")
        comps = _on_device_of(self.components, arr)
        out = (flat - _on_device_of(self.mean, arr)) @ comps.T
        if self.whiten:
            out = out / _on_device_of(self._scale(), arr)
        return out.astype(arr.dtype, copy=False)

    __call__ = transform

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def inverse_transform(self, z):
        """Back to the input space (samples in their fitted shape); exact when every component
        was kept."""
        if self.components is None:
            raise RuntimeError("PCA.inverse_transform: call fit(training_data) first")
        back = _PCAInverse(self)
        return back(z)

    def explained_variance_ratio(self) -> np.ndarray:
        """Each kept component's share of the total variance of the training data."""
        return self.explained_variance / self._total_variance

    def state_dict(self) -> dict:
        return {"n_components": self.n_components or 0, "whiten": self.whiten, "eps": self.eps,
                "mean": self.mean, "components": self.components,
                "explained_variance": self.explained_variance,
                "total_variance": self._total_variance,
                "sample_shape": list(self._sample_shape)}

    def load_state_dict(self, state: dict) -> None:
        self.n_components = int(state["n_components"]) or None
        self.whiten, self.eps = bool(state["whiten"]), float(state["eps"])
        self.mean = _host(state["mean"])
        self.components = _host(state["components"])
        self.explained_variance = _host(state["explained_variance"])
        self._total_variance = float(state["total_variance"])
        self._sample_shape = tuple(state["sample_shape"])


class _PCAInverse(Transform):
    def __init__(self, pca):
        self.pca = pca

    def apply(self, arr):
        pca = self.pca
        z = arr
        if pca.whiten:
            z = z * _on_device_of(pca._scale(), arr)
        out = z @ _on_device_of(pca.components, arr) + _on_device_of(pca.mean, arr)
        return out.reshape((len(arr),) + tuple(pca._sample_shape)).astype(arr.dtype, copy=False)

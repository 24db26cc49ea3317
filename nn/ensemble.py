"""Ensembles and test-time uncertainty: average several models' probabilities (or let them
vote), train the members (optionally on bootstrap resamples, on any executor), Monte-Carlo
dropout and test-time augmentation."""
from __future__ import annotations

import copy

import numpy as np

import autodiff as ad

from . import _rng
from ._parallel import TaskError, run_tasks
from .containers import ModuleList
from .module import Module
from .training.history import History
from .training.loop import _generators_of, fit
from .utils.data import DataLoader, Subset

__all__ = ["Ensemble", "train_ensemble", "mc_dropout_predict", "tta_predict"]


class Ensemble(Module):
    """Combine `models` (Modules mapping the same input to (N, C) class scores).

    combine="mean": the average of the members' softmax probabilities (N, C);
    combine="vote": the fraction of members voting for each class (N, C) (a majority vote:
    argmax picks the most voted class, ties going to the lower class index).
    `softmax=False` averages raw outputs instead (regression; "mean" only).
    `disagreement(x)`: per sample, the fraction of members whose vote differs from the
    ensemble's prediction, an uncertainty estimate. `histories`: the members' History
    when built by train_ensemble.
    """

    def __init__(self, models, combine: str = "mean", softmax: bool = True):
        super().__init__()
        if combine not in ("mean", "vote"):
            raise ValueError(f"Ensemble: combine must be 'mean' or 'vote', got {combine!r}")
        if combine == "vote" and not softmax:
            raise ValueError("Ensemble: combine='vote' needs class scores (softmax=True)")
        self.models = ModuleList(models)
        if len(self.models) == 0:
            raise ValueError("Ensemble: needs at least one model")
        self.combine, self.softmax = combine, softmax
        self.histories = []

    def member_outputs(self, x) -> ad.Tensor:
        """(M, N, ...) stacked outputs: softmax probabilities over axis 1 (or raw outputs)."""
        outs = [m(x) for m in self.models]
        if self.softmax:
            outs = [ad.softmax(o, 1) for o in outs]
        return ad.stack(outs)

    def _votes(self, probs) -> np.ndarray:
        """(N, C) vote fractions from (M, N, C) member probabilities."""
        p = probs.numpy()
        picks = p.argmax(axis=2)                                 # (M, N)
        return (picks[..., None] == np.arange(p.shape[2])).mean(axis=0)

    def forward(self, x):
        outs = self.member_outputs(x)
        if self.combine == "mean":
            return outs.mean(axis=0)
        return ad.tensor(self._votes(outs).astype(outs.numpy().dtype), device=outs.device)

    def predict(self, x) -> ad.Tensor:
        """Class indices (N,) of the combined prediction (eval mode is up to the caller)."""
        with ad.no_grad():
            return ad.tensor(self(x).numpy().argmax(axis=1))

    def disagreement(self, x) -> ad.Tensor:
        """(N,) fraction of members whose argmax differs from the ensemble's prediction."""
        with ad.no_grad():
            outs = self.member_outputs(x)
            combined = (outs.mean(axis=0).numpy() if self.combine == "mean"
                        else self._votes(outs))
            choice = combined.argmax(axis=1)
            members = outs.numpy().argmax(axis=2)
            return ad.tensor((members != choice[None, :]).mean(axis=0))

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}, members={len(self.models)}"


# ---------------------------------------------------------------- training members

def _member_seed(seed: int, k: int) -> int:
    """A distinct, reproducible seed for the k-th generator of the member with `seed`."""
    return int(np.random.SeedSequence([int(seed), k]).generate_state(1, dtype=np.uint64)[0]
               >> np.uint64(1))


def _bootstrap(loader, generator):
    """The loader over a resample (with replacement) of its dataset, same settings."""
    n = len(loader.dataset)
    idx = _rng.randint(0, n, (n,), generator)
    return _rebuild(loader, Subset(loader.dataset, idx.tolist()))


def _rebuild(loader, dataset):
    from .utils.data.sampler import RandomSampler
    return DataLoader(dataset, batch_size=loader.batch_size,
                      shuffle=isinstance(loader.sampler, RandomSampler),
                      drop_last=loader.drop_last, collate_fn=loader.collate_fn,
                      generator=loader.generator, transform=loader.transform,
                      target_transform=loader.target_transform)


def _fresh(fit_kwargs: dict) -> dict:
    """A deep copy of the fit arguments sharing the (read-only) datasets: every member starts
    from the same loader and transform state whether it runs here or in another process."""
    memo = {}
    for key in ("train", "val"):
        loader = fit_kwargs.get(key)
        if isinstance(loader, DataLoader):
            memo[id(loader.dataset)] = loader.dataset
    return copy.deepcopy(fit_kwargs, memo)


def _train_member(make_model, fit_kwargs: dict, seed: int, bootstrap: bool):
    """One member: seeds, model, optimizer, fit. Returns (state arrays, History dict)."""
    kwargs = _fresh(fit_kwargs)
    train = kwargs.pop("train")
    if bootstrap:
        if not isinstance(train, DataLoader):
            raise TypeError("train_ensemble: bootstrap=True needs train to be a DataLoader")
        train = _bootstrap(train, ad.Generator().manual_seed(_member_seed(seed, 0)))
    for k, g in enumerate(_generators_of(train, kwargs.get("val"))):
        g.manual_seed(_member_seed(seed, k + 1))
    ad.manual_seed(seed)
    model = make_model()
    make_optimizer = kwargs.pop("optimizer")
    optimizer = make_optimizer(model.parameters())
    make_scheduler = kwargs.pop("scheduler", None)
    scheduler = make_scheduler(optimizer) if make_scheduler is not None else None
    callbacks = kwargs.pop("callbacks", ())
    if callable(callbacks):
        callbacks = callbacks(seed)
    kwargs.pop("progress", None)
    history = fit(model, kwargs.pop("loss_fn"), optimizer, train, scheduler=scheduler,
                  callbacks=callbacks, progress=False, **kwargs)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    return state, history.to_dict()


def train_ensemble(make_model, fit_kwargs: dict, n: int = 5, bootstrap: bool = False,
                   seeds=None, executor=None, combine: str = "mean",
                   progress: bool = True) -> Ensemble:
    """Train `n` members and return them as an Ensemble (with `.histories`).

    make_model(): a new model (a top-level function when an executor runs it in another
    process). fit_kwargs: fit's arguments, with `optimizer` a function params -> optimizer,
    optional `scheduler` a function optimizer -> scheduler, and `callbacks` a list (copied
    per member) or a function seed -> list; `loss_fn`, `train`, `val`, `epochs`, ... as fit.
    Member i uses seeds[i] (default i): ad.manual_seed(seed) before make_model (its
    initialisation and dropout), its loaders' and transforms' generators reseeded from it,
    and with bootstrap=True its own resample (with replacement) of the training set. Results
    are the same serially, on a ProcessPoolExecutor or a dask.distributed Client (threads
    share the default generator, so initialisation is not reproducible on a
    ThreadPoolExecutor). A failing member raises, naming its seed.
    """
    if not callable(make_model):
        raise TypeError("train_ensemble: make_model must be a function returning a new model")
    missing = {"loss_fn", "optimizer", "train"} - set(fit_kwargs)
    if missing:
        raise ValueError(f"train_ensemble: fit_kwargs lacks {sorted(missing)}")
    if not callable(fit_kwargs["optimizer"]) or hasattr(fit_kwargs["optimizer"], "param_groups"):
        raise TypeError("train_ensemble: fit_kwargs['optimizer'] must be a function params -> "
                        "optimizer (e.g. lambda p: optim.Adam(p, lr=1e-3)), since each member "
                        "needs its own")
    seeds = list(range(n)) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != n:
        raise ValueError(f"train_ensemble: {n} members need {n} seeds, got {len(seeds)}")
    results = [None] * n
    tasks = [(make_model, fit_kwargs, s, bootstrap) for s in seeds]
    for i, out in run_tasks(_train_member, tasks, executor, progress, "ensemble members",
                            "train_ensemble"):
        if isinstance(out, TaskError):
            raise RuntimeError(f"train_ensemble: member {i} (seed {seeds[i]}) failed: "
                               f"{out.error}\n{out.traceback}")
        results[i] = out
    models = []
    for state, _ in results:
        model = make_model()
        model.load_state_dict({k: ad.tensor(v) for k, v in state.items()})
        models.append(model)
    ensemble = Ensemble(models, combine=combine)
    ensemble.histories = [History.from_dict(h) for _, h in results]
    return ensemble


# ---------------------------------------------------------------- test-time uncertainty

def _probs(out, softmax):
    return ad.softmax(out, 1) if softmax else out


def mc_dropout_predict(model, x, samples: int = 30, softmax: bool = True):
    """Monte-Carlo dropout: `samples` forward passes with dropout active and everything else
    in eval mode (BatchNorm uses its running statistics); returns (mean, std) over the
    passes of the softmax probabilities (or raw outputs with softmax=False). Dropout draws
    from the default generator, so ad.manual_seed makes it reproducible."""
    from .linear import set_mc_dropout
    if samples < 1:
        raise ValueError(f"mc_dropout_predict: samples must be >= 1, got {samples}")
    was_training = model.training
    previous = {m: m.mc for m in model.modules() if hasattr(m, "mc")}
    model.eval()
    if set_mc_dropout(model, True) == 0:
        raise ValueError("mc_dropout_predict: the model has no Dropout layer, so every pass "
                         "would be the same")
    try:
        with ad.no_grad():
            outs = ad.stack([_probs(model(x), softmax) for _ in range(samples)])
    finally:
        for m, mc in previous.items():
            m.mc = mc
        model.train(was_training)
    return outs.mean(axis=0), outs.std(axis=0, correction=0)


def tta_predict(model, x, transforms, n: int = 10, include_original: bool = True,
                softmax: bool = True):
    """Test-time augmentation: the mean softmax probabilities (or outputs) of the model
    (in eval mode) over `n` random augmentations of the batch `x` by `transforms` (a
    callable, e.g. a Compose of random flips/crops with generator=), plus the original
    batch when include_original."""
    if n < 1:
        raise ValueError(f"tta_predict: n must be >= 1, got {n}")
    was_training = model.training
    model.eval()
    try:
        with ad.no_grad():
            outs = [_probs(model(x), softmax)] if include_original else []
            outs += [_probs(model(transforms(x)), softmax) for _ in range(n)]
    finally:
        model.train(was_training)
    return ad.stack(outs).mean(axis=0)

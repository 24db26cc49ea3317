"""fit and evaluate: the training loop every lecture writes by hand, with progress bars,
metrics, callbacks, schedulers, gradient clipping and bit-exact resuming."""
from __future__ import annotations

import math
import numbers
import time

import autodiff as ad

from ..optim.lr_scheduler import ReduceLROnPlateau
from ..utils.clip_grad import clip_grad_norm_, clip_grad_value_
from .callbacks import Callback, EarlyStopping, _resolve_mode
from .history import History
from .metrics import resolve_metrics

__all__ = ["fit", "evaluate", "Run"]

STATE_FORMAT = "nn.training.checkpoint"


def _split_batch(batch, where: str):
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    size = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
    raise TypeError(f"{where}: each batch must be (inputs, targets, ...), got a "
                    f"{type(batch).__name__}{size}; a DataLoader over TensorDataset(x, y) "
                    "yields such batches")


def _to(t, device):
    if device is None or not isinstance(t, ad.Tensor) or t.device == device:
        return t
    return t.to(device=device)


def _batch_len(t) -> int:
    return int(t.shape[0]) if getattr(t, "ndim", 0) else 1


class _Averages:
    """Sample-weighted running means of the loss and metrics over an epoch."""

    def __init__(self, names):
        self.sums = dict.fromkeys(names, 0.0)
        self.count = 0

    def add(self, n, values):
        for k, v in values.items():
            self.sums[k] += v * n
        self.count += n

    def means(self, prefix=""):
        return {prefix + k: (s / self.count if self.count else math.nan)
                for k, s in self.sums.items()}


def evaluate(model, data, metrics=("loss", "accuracy"), loss_fn=None, device=None) -> dict:
    """Mean loss and metrics of `model` over `data` (an iterable of (inputs, targets)
    batches), in eval mode and without a graph; the model's mode is restored after."""
    fns = resolve_metrics(metrics, loss_fn)
    want_loss = _wants_loss(metrics)
    if want_loss and loss_fn is None:
        raise ValueError("evaluate: the 'loss' metric needs loss_fn=")
    names = (["loss"] if want_loss else []) + list(fns)
    avg = _Averages(names)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with ad.no_grad():
            for batch in data:
                x, y = _split_batch(batch, "evaluate")
                x, y = _to(x, device), _to(y, device)
                out = model(x)
                values = {k: f(out, y) for k, f in fns.items()}
                if want_loss:
                    values["loss"] = float(loss_fn(out, y).item())
                avg.add(_batch_len(y), values)
    finally:
        model.train(was_training)
    if avg.count == 0:
        raise ValueError("evaluate: the data yielded no batches")
    return avg.means()


def _wants_loss(metrics) -> bool:
    if isinstance(metrics, dict):
        return "loss" in metrics
    if isinstance(metrics, str):
        return metrics == "loss"
    return any(m == "loss" for m in metrics if isinstance(m, str))


def _generators_of(*objects):
    """Every ad.Generator reachable from loaders and transforms (sampler, transform chains),
    in a fixed order, so their states can be saved and restored."""
    found, seen = [], set()

    def visit(obj, depth=0):
        if obj is None or depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, ad.Generator):
            found.append(obj)
            return
        if isinstance(obj, (list, tuple)):
            for o in obj:
                visit(o, depth + 1)
            return
        fields = getattr(obj, "__dict__", {})
        for attr in ("generator", "sampler", "batch_sampler", "transform", "target_transform",
                     "transforms"):
            if attr in fields:
                visit(fields[attr], depth + 1)

    for o in objects:
        visit(o)
    return found


class Run:
    """The live state of a `fit` call, handed to callbacks."""

    def __init__(self, model, loss_fn, optimizer, train, val, epochs, scheduler, callbacks,
                 history):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.train, self.val, self.epochs = train, val, epochs
        self.scheduler, self.callbacks, self.history = scheduler, callbacks, history
        self.epoch = 0             # epochs completed
        self.current_epoch = 0     # the epoch being trained (1-based), while it runs
        self.step = 0              # optimizer steps completed
        self.stop_training = False
        self.generators = _generators_of(train, val)

    def state_dict(self) -> dict:
        """Everything needed to continue this run bit for bit (plain data for nn.save)."""
        return {
            "format": STATE_FORMAT, "version": 1,
            "epoch": self.epoch, "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "history": self.history.to_dict(),
            "rng": {"default": ad.get_rng_state(),
                    "generators": [g.get_state() for g in self.generators]},
            "callbacks": [{"type": type(c).__name__, "state": c.state_dict()}
                          for c in self.callbacks],
        }

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("fit(resume=...): the file is not a training checkpoint written "
                             "by nn.training.Checkpoint (no 'format' entry "
                             f"{STATE_FORMAT!r})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError("fit(resume=...): the checkpoint was written "
                             f"{'without' if state['scheduler'] is None else 'with'} a "
                             "scheduler; pass the same kind of scheduler as the original run")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = History.from_dict(state["history"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        saved = state["rng"]["generators"]
        if len(saved) != len(self.generators):
            raise ValueError(f"fit(resume=...): the checkpoint holds {len(saved)} generator "
                             f"states but this run's loaders and transforms have "
                             f"{len(self.generators)}; rebuild them as in the original run")
        for g, s in zip(self.generators, saved):
            g.set_state(s)
        ad.set_rng_state(state["rng"]["default"])
        kinds = [c["type"] for c in state["callbacks"]]
        if kinds != [type(c).__name__ for c in self.callbacks]:
            raise ValueError(f"fit(resume=...): the checkpoint's callbacks {kinds} differ from "
                             f"this run's {[type(c).__name__ for c in self.callbacks]}")
        for c, saved_state in zip(self.callbacks, state["callbacks"]):
            c.load_state_dict(saved_state["state"])


def _clipper(grad_clip):
    if grad_clip is None:
        return None
    if isinstance(grad_clip, numbers.Real) and not isinstance(grad_clip, bool):
        return lambda params: clip_grad_norm_(params, float(grad_clip))
    if isinstance(grad_clip, dict):
        kw = dict(grad_clip)
        if "clip_value" in kw:
            return lambda params: clip_grad_value_(params, **kw)
        return lambda params: clip_grad_norm_(params, **kw)
    raise TypeError(f"fit: grad_clip must be a max norm (number), {{'max_norm': ..., "
                    f"'norm_type': ...}} or {{'clip_value': ...}}, got {grad_clip!r}")


def _dispatch(callbacks, hook):
    """The bound hooks of the callbacks that override `hook` (the rest are skipped)."""
    base = getattr(Callback, hook)
    return [getattr(c, hook) for c in callbacks
            if getattr(type(c), hook, base) is not base]


def _first_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _train_step(model, loss_fn, optimizer, after_backward, compile):
    """One step, (inputs, targets) -> (outputs, loss): forward, loss, zero_grad, backward,
    the after-backward hooks and clipping, optimizer.step. With compile=True it is captured
    and replayed by ad.compile (the hooks, clipping and step run eagerly at each replay)."""
    if after_backward is not None:
        after_backward = ad.replay_eagerly(after_backward)

    def step(x, y):
        out = model(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
        return out, loss

    return ad.compile(step) if compile else step


def fit(model, loss_fn, optimizer, train, val=None, epochs: int = 1, scheduler=None,
        callbacks=(), metrics=("loss", "accuracy"), grad_clip=None, progress=True, *,
        scheduler_interval: str = "epoch", monitor=None, mode=None, resume=None,
        device=None, compile: bool = False) -> History:
    """Train `model` for `epochs` epochs (in total, counting those a resumed run did).

    Each step: out = model(x); loss = loss_fn(out, y); zero_grad, backward, optional
    clipping (`grad_clip`: a max norm, or a dict of clip_grad_norm_/clip_grad_value_
    arguments), optimizer.step(), and the scheduler when `scheduler_interval="batch"`.
    After each epoch: validation on `val` (eval mode, no graph) as "val_<metric>", the
    epoch-level scheduler (ReduceLROnPlateau is stepped with the monitored metric), the
    callbacks. `train`/`val` are DataLoaders or any re-iterable of (inputs, targets)
    batches. `metrics`: "loss" (always recorded), "accuracy", functions (outputs,
    targets) -> float; epoch values are sample-weighted means over the epoch's batches.
    `monitor`/`mode` (default "val_loss"/"min" with val, else "loss"; or an EarlyStopping's)
    choose History.best. A tqdm bar per epoch shows the running loss and metrics
    (`progress=False` silences it). `resume=path` loads a file that Checkpoint wrote
    (model, optimizer, scheduler, History, RNG states, callbacks) and continues.
    `compile=True` captures the training step with ad.compile and replays it (the same
    numbers, bit for bit, in less time on small models; a step it cannot capture runs
    eagerly with a CaptureWarning saying why). Returns the History.
    """
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got "
                         f"{scheduler_interval!r}")
    if not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0 (the total), got {epochs!r}")
    if isinstance(train, (tuple, list)) and len(train) == 2 and isinstance(train[0], ad.Tensor):
        raise TypeError("fit: train looks like one (inputs, targets) pair; wrap the data in "
                        "DataLoader(TensorDataset(x, y), batch_size=..., shuffle=True)")
    callbacks = sorted(callbacks, key=lambda c: getattr(c, "order", 0))
    for c in callbacks:
        if not isinstance(c, Callback):
            raise TypeError(f"fit: callbacks must be nn.training.Callback instances, got "
                            f"{type(c).__name__}")
    stopper = next((c for c in callbacks if isinstance(c, EarlyStopping)), None)
    if monitor is None:
        monitor = stopper.monitor if stopper is not None else (
            "val_loss" if val is not None else "loss")
    if mode is None:
        mode = stopper.mode if stopper is not None and stopper.monitor == monitor else (
            _resolve_mode(monitor, "auto", "fit"))
    fns = resolve_metrics(metrics, loss_fn)
    clip = _clipper(grad_clip)
    run = Run(model, loss_fn, optimizer, train, val, int(epochs), scheduler, callbacks,
              History(monitor, mode))
    if resume is not None:
        from ..serialization import load
        run.load_state_dict(load(resume))
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_interval == "batch":
        raise ValueError("fit: ReduceLROnPlateau is stepped once per epoch with the monitored "
                         "metric; use scheduler_interval='epoch'")
    from tqdm.auto import tqdm   # here, not at import: it costs ~0.1 s
    hooks = {h: _dispatch(callbacks, h) for h in
             ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_after_backward",
              "on_batch_end", "on_epoch_end", "on_train_end")}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    history = run.history
    after_backward = None
    if hooks["on_after_backward"] or clip is not None:
        def after_backward():
            for h in hooks["on_after_backward"]:
                h(run)
            if clip is not None:
                clip(params)
    train_step = _train_step(model, loss_fn, optimizer, after_backward, compile)
    for h in hooks["on_train_begin"]:
        h(run)
    try:
        while run.epoch < run.epochs and not run.stop_training:
            epoch = run.current_epoch = run.epoch + 1
            for h in hooks["on_epoch_begin"]:
                h(run)
            start, lr0 = time.perf_counter(), _first_lr(optimizer)
            model.train()
            avg = _Averages(["loss"] + list(fns))
            total = len(train) if hasattr(train, "__len__") else None
            bar = tqdm(total=total, desc=f"epoch {epoch}/{run.epochs}", unit="batch",
                       disable=not progress, leave=True, dynamic_ncols=True)
            next_postfix = 0.0
            try:
                for batch in train:
                    x, y = _split_batch(batch, "fit")
                    x, y = _to(x, device), _to(y, device)
                    for h in hooks["on_batch_begin"]:
                        h(run)
                    lr = _first_lr(optimizer)
                    out, loss = train_step(x, y)
                    if scheduler is not None and scheduler_interval == "batch":
                        scheduler.step()
                    run.step += 1
                    loss_value = float(loss.item())
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(
                            f"fit: the loss became {loss_value} at step {run.step} (epoch "
                            f"{epoch}); lower the learning rate, clip gradients (grad_clip=) "
                            "or find the op with ad.detect_anomaly()")
                    values = {k: f(out, y) for k, f in fns.items()}
                    values["loss"] = loss_value
                    avg.add(_batch_len(y), values)
                    history.log_step({"step": run.step, "epoch": epoch, "loss": loss_value,
                                      "lr": lr})
                    for h in hooks["on_batch_end"]:
                        h(run, values)
                    if progress:
                        now = time.perf_counter()
                        if now >= next_postfix:   # formatting every step would cost ~5%
                            bar.set_postfix(avg.means(), refresh=False)
                            next_postfix = now + 0.2
                        bar.update(1)
                logs = {"epoch": epoch, **avg.means()}
                if val is not None:
                    scores = evaluate(model, val, {"loss": "loss", **fns}, loss_fn, device)
                    logs.update({"val_" + k: v for k, v in scores.items()})
                logs["lr"] = lr0
                logs["seconds"] = time.perf_counter() - start
                if progress:
                    bar.set_postfix({k: v for k, v in logs.items()
                                     if k not in ("epoch", "seconds")}, refresh=True)
            finally:
                bar.close()
            run.epoch = epoch
            history.log_epoch(logs)
            if scheduler is not None and scheduler_interval == "epoch":
                if plateau:
                    if monitor not in logs:
                        raise KeyError(f"fit: ReduceLROnPlateau needs the monitored metric "
                                       f"{monitor!r}, which this run does not record")
                    scheduler.step(logs[monitor])
                else:
                    scheduler.step()
            for h in hooks["on_epoch_end"]:
                h(run, logs)
            if run.stop_training:
                history.stopped_epoch = epoch
    finally:
        for h in hooks["on_train_end"]:
            h(run)
    return history

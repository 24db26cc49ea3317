"""nn.optim.lr_scheduler: lr sequences against torch and closed forms, resume, errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from nn import optim
from nn.optim import lr_scheduler as S

LRS = (0.1, 0.03)  # two parameter groups with different base lrs


def _opt(lrs=LRS):
    groups = [{"params": [ad.tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0])


def _torch_opt(torch, lrs=LRS):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def _sequence(opt, sched, steps, metrics=None):
    """[lrs after construction, after step 1, ...] with an optimizer step before each."""
    seq = [list(sched.get_last_lr())]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        seq.append(list(sched.get_last_lr()))
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(seq)


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 4) * 0.5 ** (epoch // 10)


SCHEDULES = [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=1, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 11], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=9)),
    ("LambdaLR", dict(lr_lambda=_warmup)),
    ("LambdaLR", dict(lr_lambda=[_warmup, lambda e: 0.95 ** e])),
]


@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in
                                                    enumerate(SCHEDULES)])
def test_sequence_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt, topt = _opt(), _torch_opt(torch)
    ours = _sequence(opt, getattr(S, name)(opt, **kw), 40)
    ref = _sequence(topt, getattr(torch.optim.lr_scheduler, name)(topt, **kw), 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-15)
    assert len(np.unique(ours[:, 0])) > 2  # the schedule really changes the lr


def _sequential(mod, opt, variant):
    if variant == 0:  # warm-up then cosine decay
        return mod.SequentialLR(opt, [mod.LinearLR(opt, start_factor=0.1, total_iters=5),
                                      mod.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)],
                                milestones=[5])
    return mod.SequentialLR(opt, [mod.StepLR(opt, step_size=2, gamma=0.5),
                                  mod.ExponentialLR(opt, gamma=0.9),
                                  mod.LinearLR(opt, start_factor=0.5, total_iters=4)],
                            milestones=[4, 10])


@pytest.mark.parametrize("variant", [0, 1])
def test_sequential_matches_torch(variant):
    torch = pytest.importorskip("torch")
    opt, topt = _opt(), _torch_opt(torch)
    ours = _sequence(opt, _sequential(S, opt, variant), 40)
    ref = _sequence(topt, _sequential(torch.optim.lr_scheduler, topt, variant), 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-15)


def test_warmup_then_cosine_closed_form():
    opt = _opt((1.0,))
    seq = _sequence(opt, _sequential(S, opt, 0), 25)[:, 0]
    warm = [0.1 + 0.9 * e / 5 for e in range(5)]
    cos = [1e-3 + (1 - 1e-3) * (1 + math.cos(math.pi * e / 20)) / 2 for e in range(21)]
    np.testing.assert_allclose(seq, warm + cos, rtol=1e-9)


PLATEAUS = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, factor=0.5, cooldown=2),
    dict(threshold_mode="abs", threshold=0.05, patience=0, min_lr=0.004),
    dict(mode="max", threshold_mode="abs", threshold=0.1, patience=1, min_lr=[0.01, 0.02]),
    dict(patience=1, factor=0.9, eps=1e-3),
]


@pytest.mark.parametrize("kw", PLATEAUS)
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # a noisy metric that improves, stalls, and improves again
    metrics = np.concatenate([np.linspace(1, 0.5, 8), np.full(10, 0.5), np.linspace(0.5, 0.1, 6),
                              np.full(16, 0.1)]) + rng.normal(0, 0.02, 40)
    metrics = -metrics if kw.get("mode") == "max" else metrics
    opt, topt = _opt(), _torch_opt(torch)
    ours = _sequence(opt, S.ReduceLROnPlateau(opt, **kw), 40, list(metrics))
    ref = _sequence(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw), 40,
                    list(metrics))
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


# ---------------------------------------------------------------- closed forms, no torch

def test_step_and_multistep_closed_form():
    opt = _opt()
    seq = _sequence(opt, S.StepLR(opt, step_size=4, gamma=0.5), 12)[:, 0]
    np.testing.assert_allclose(seq, [0.1 * 0.5 ** (e // 4) for e in range(13)], rtol=1e-15)
    opt = _opt()
    seq = _sequence(opt, S.MultiStepLR(opt, milestones=[3, 7, 7], gamma=0.1), 9)[:, 1]
    expected = [0.03 * 0.1 ** sum(m <= e for m in (3, 7, 7)) for e in range(10)]
    np.testing.assert_allclose(seq, expected, rtol=1e-13)


@given(T=st.integers(1, 30), eta_min=st.sampled_from([0.0, 1e-3, 0.02]))
def test_cosine_recursion_equals_closed_form(T, eta_min):
    """Within one period the recursive update reproduces the textbook cosine."""
    opt = _opt()
    seq = _sequence(opt, S.CosineAnnealingLR(opt, T_max=T, eta_min=eta_min), T)
    for e, lrs in enumerate(seq):
        for base, lr in zip(LRS, lrs):
            want = eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T)) / 2
            assert lr == pytest.approx(want, rel=1e-9, abs=1e-12)


@given(start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 20))
def test_linear_warmup_closed_form(start, end, total):
    opt = _opt()
    seq = _sequence(opt, S.LinearLR(opt, start_factor=start, end_factor=end,
                                    total_iters=total), total + 5)[:, 0]
    want = [0.1 * (start + (end - start) * min(e, total) / total) for e in range(total + 6)]
    np.testing.assert_allclose(seq, want, rtol=1e-9, atol=1e-15)


def test_exponential_and_lambda_closed_form():
    opt = _opt()
    seq = _sequence(opt, S.ExponentialLR(opt, gamma=0.8), 10)[:, 0]
    np.testing.assert_allclose(seq, [0.1 * 0.8 ** e for e in range(11)], rtol=1e-13)
    opt = _opt()
    seq = _sequence(opt, S.LambdaLR(opt, lambda e: 1 / (1 + e)), 5)[:, 1]
    np.testing.assert_allclose(seq, [0.03 / (1 + e) for e in range(6)], rtol=1e-15)


def test_reduce_on_plateau_logic():
    opt = _opt((1.0,))
    sched = S.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.2)
    lrs = []
    for metric in [1.0] + [0.9] * 12:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    # 3 bad epochs (> patience 2) -> halve; cooldown 1 epoch; 3 more bad -> halve; floor 0.2
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2]
    assert sched.best == 0.9


def test_step_with_epoch_uses_closed_form():
    opt = _opt()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(7)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.125, 0.03 * 0.125])


def test_warns_when_stepped_before_optimizer():
    opt = _opt()
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()


def test_scheduled_lr_drives_the_optimizer():
    p = ad.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = ad.tensor(np.array([1.0]))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 1.0 - 0.5 - 0.25])


# ---------------------------------------------------------------- state_dict

ALL = SCHEDULES[:8] + [("ReduceLROnPlateau", dict(patience=1, cooldown=1))]


class Warmup:
    """A callable object: its attributes go into LambdaLR's state_dict."""

    def __init__(self, n):
        self.n = n

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.n)


@pytest.mark.parametrize("name,kw", ALL + [("LambdaLR", dict(lr_lambda=Warmup(6))),
                                     ("SequentialLR", {})],
                         ids=[n for n, _ in ALL] + ["LambdaLR", "SequentialLR"])
def test_resume_reproduces_the_schedule(name, kw):
    make = ((lambda opt, **_: _sequential(S, opt, 0)) if name == "SequentialLR"
            else getattr(S, name))
    metrics = [1.0 / (1 + (i % 7)) for i in range(30)]

    def advance(opt, sched, start, n):
        out = []
        for i in range(start, start + n):
            opt.step()
            sched.step(metrics[i]) if name == "ReduceLROnPlateau" else sched.step()
            out.append(sched.get_last_lr())
        return out

    opt = _opt()
    full = advance(opt, make(opt, **kw), 0, 30)
    opt1 = _opt()
    sched1 = make(opt1, **kw)
    advance(opt1, sched1, 0, 12)
    opt_sd, sched_sd = opt1.state_dict(), sched1.state_dict()
    for value in sched_sd.values():
        assert isinstance(value, (int, float, str, bool, list, dict)), value
    if name == "LambdaLR":
        kw = dict(lr_lambda=Warmup(99))  # restored from the state dict
    opt2 = _opt()
    sched2 = make(opt2, **kw)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    assert advance(opt2, sched2, 12, 18) == full[12:]


def test_load_state_dict_restores_lr_in_either_order():
    """Building the scheduler after loading the optimizer (which rescales the lr in
    LinearLR's constructor) still resumes correctly once the scheduler state is loaded."""
    opt1 = _opt()
    sched1 = S.LinearLR(opt1, start_factor=0.25, total_iters=8)
    for _ in range(3):
        opt1.step()
        sched1.step()
    opt2 = _opt()
    opt2.load_state_dict(opt1.state_dict())
    sched2 = S.LinearLR(opt2, start_factor=0.25, total_iters=8)
    sched2.load_state_dict(sched1.state_dict())
    assert [g["lr"] for g in opt2.param_groups] == sched1.get_last_lr()
    opt1.step(), opt2.step(), sched1.step(), sched2.step()
    assert sched2.get_last_lr() == sched1.get_last_lr()


# ---------------------------------------------------------------- errors

def test_bad_arguments_raise():
    opt = _opt()
    with pytest.raises(TypeError, match="Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        S.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="end_factor"):
        S.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="2 lr_lambdas"):
        S.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="threshold_mode"):
        S.ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(ValueError, match="2 min_lrs"):
        S.ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="patience"):
        S.ReduceLROnPlateau(opt, patience=-1)
    with pytest.raises(ValueError, match="1 increasing milestones"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[])
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])
    with pytest.raises(ValueError, match="different optimizer"):
        S.SequentialLR(opt, [S.StepLR(_opt(), 2)], milestones=[])

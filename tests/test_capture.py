"""ad.compile: a captured and replayed training step gives exactly what eager steps give.

Each test runs the same steps twice from the same seed, once eagerly and once through
ad.compile, and compares everything bit for bit: losses, parameters, gradients, optimizer
state, BatchNorm running statistics, the random generators' states.
"""
import warnings

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as F
from nn import optim


def _mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


def _convnet():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(6 * 2 * 2, 5))


def _wavenet():
    """The lecture's hierarchical model (examples/lectures/wavenet_names.py) at a small
    width, built here: importing the example mid-run would add its literals to hypothesis'
    pool of constants and change what later tests draw."""
    body = []
    for fan_in in (2 * 6, 2 * 10, 2 * 10):
        body += [nn.FlattenConsecutive(2), nn.Linear(fan_in, 10, bias=False),
                 nn.BatchNorm1d(10, channels_last=True), nn.Tanh()]
    return nn.Sequential(nn.Embedding(27, 6), *body, nn.Linear(10, 27))


MODELS = {"mlp": _mlp, "convnet": _convnet, "wavenet": _wavenet}


def _batch(kind, rng, n=6):
    if kind == "mlp":
        return ad.tensor(rng.standard_normal((n, 12)).astype(np.float32)), \
            ad.tensor(rng.integers(0, 5, n))
    if kind == "convnet":
        return ad.tensor(rng.standard_normal((n, 1, 8, 8)).astype(np.float32)), \
            ad.tensor(rng.integers(0, 5, n))
    return ad.tensor(rng.integers(0, 27, (n, 8))), ad.tensor(rng.integers(0, 27, n))


def _train_step(model, opt, compiled):
    """The usual step (forward, cross-entropy, zero_grad, backward, step), eager or captured."""
    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return ad.compile(step, strict=True) if compiled else step


def _train(kind, opt_name, compiled, steps=6, batch_sizes=(6,)):
    ad.manual_seed(3)
    model = MODELS[kind]()
    opt = (optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd"
           else optim.Adam(model.parameters(), lr=0.01))

    fn = _train_step(model, opt, compiled)
    rng = np.random.default_rng(0)
    losses = []
    for i in range(steps):
        x, y = _batch(kind, rng, batch_sizes[i % len(batch_sizes)])
        losses.append(fn(x, y).data.copy())
    state = {"losses": losses,
             "params": [p.data.copy() for p in model.parameters()],
             "grads": [p.grad.data.copy() for p in model.parameters()],
             "buffers": [b.data.copy() for b in model.buffers()],
             "opt": [v.data.copy() for s in opt.state.values() for v in s.values()
                     if isinstance(v, ad.Tensor)],
             "rng": ad.get_rng_state().data.copy()}
    return state, fn


def _assert_identical(a, b):
    for key in a:
        assert len(a[key]) == len(b[key]), key
        for x, y in zip(a[key], b[key]):
            assert x.dtype == y.dtype and x.shape == y.shape, key
            assert x.tobytes() == y.tobytes(), f"{key} differs between eager and replay"


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_replayed_steps_are_bit_identical_to_eager(kind, opt_name):
    eager, _ = _train(kind, opt_name, compiled=False)
    replayed, step = _train(kind, opt_name, compiled=True)
    _assert_identical(eager, replayed)
    assert "replayed 3 times" in step.explain()


def test_a_new_input_shape_is_captured_again():
    eager, _ = _train("convnet", "sgd", compiled=False, steps=12, batch_sizes=(6, 4))
    replayed, step = _train("convnet", "sgd", compiled=True, steps=12, batch_sizes=(6, 4))
    _assert_identical(eager, replayed)
    text = step.explain()
    assert "2 signature(s)" in text and text.count("replayed 3 times") == 2


def test_replays_draw_fresh_random_numbers_as_eager_does():
    g = ad.Generator().manual_seed(5)
    drop = nn.Dropout(0.5, generator=g)
    w = ad.tensor(np.ones(32, np.float32), requires_grad=True)

    def step(x):
        y = drop(w * x) + ad.rand(32, generator=g)
        y.sum().backward()
        return y

    outs = []
    for fn in (step, ad.compile(step, strict=True)):
        g.manual_seed(5)
        w.grad = None
        outs.append([fn(ad.tensor(np.full(32, i, np.float32))).data for i in range(6)])
    for a, b in zip(*outs):
        assert a.tobytes() == b.tobytes()
    assert len({o.tobytes() for o in outs[1][1:]}) == 5  # each replay drew new numbers


def test_learning_rate_changes_between_calls_are_seen():
    """The optimizer step runs eagerly inside replays: a scheduler's lr applies."""
    results = []
    for compiled in (False, True):
        ad.manual_seed(0)
        model = _mlp()
        opt = optim.SGD(model.parameters(), lr=0.5)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        fn = _train_step(model, opt, compiled)
        rng = np.random.default_rng(0)
        for _ in range(6):
            fn(*_batch("mlp", rng))
            sched.step()
        results.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()


def test_train_and_eval_mode_are_separate_captures():
    ad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    step = ad.compile(lambda x: model(x), strict=True)
    x = ad.tensor(np.ones((2, 4), np.float32))
    for _ in range(4):
        step(x)
    model.eval()
    outs = [step(x).data for _ in range(4)]
    expected = model(x).data
    assert all(o.tobytes() == expected.tobytes() for o in outs)  # no dropout in eval
    assert step.explain().count("signature") == 1 and step.explain().count("replayed") == 2


def test_a_value_check_that_fails_on_replay_runs_the_step_eagerly():
    w = ad.tensor(np.ones(3, np.float32), requires_grad=True)

    def step(x):
        s = (w * x).sum()
        y = s * 2 if s.item() > 0 else s * 3   # data-dependent Python control flow
        return y

    fn = ad.compile(step)
    for _ in range(4):
        assert fn(ad.tensor(np.ones(3, np.float32))).item() == 6.0
    assert fn(ad.tensor(-np.ones(3, np.float32))).item() == -9.0  # guard failed: eager
    assert fn(ad.tensor(np.ones(3, np.float32))).item() == 6.0


def _warning_for(step_fn, calls):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for args in calls:
            step_fn(*args)
    messages = [str(w.message) for w in caught if issubclass(w.category, ad.CaptureWarning)]
    assert len(messages) == 1, messages
    return messages[0]


def test_reading_a_loss_into_python_inside_the_step_is_refused_with_its_place():
    ad.manual_seed(0)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    rng = np.random.default_rng(0)
    message = _warning_for(ad.compile(step), [_batch("mlp", rng) for _ in range(4)])
    assert "read into Python" in message and "test_capture.py" in message


def test_changing_python_state_inside_the_step_is_refused_with_its_name():
    w = ad.tensor(np.ones(3, np.float32), requires_grad=True)
    history = []

    def step(x):
        loss = (w * x).sum()
        history.append(loss)
        return loss

    x = ad.tensor(np.ones(3, np.float32))
    message = _warning_for(ad.compile(step), [(x,)] * 4)
    assert "history" in message and "Python state" in message
    assert len(history) == 4  # the step still ran, eagerly, every time


def test_strict_raises_instead_of_falling_back():
    w = ad.tensor(np.ones(3, np.float32))
    step = ad.compile(lambda x: (w * x).sum().item(), strict=True)
    with pytest.raises(ad.CaptureError, match="read into Python"):
        for i in range(4):
            step(ad.tensor(np.full(3, i, np.float32)))


def test_compiled_fit_matches_eager_fit():
    from nn.utils.data import DataLoader, TensorDataset

    def run(compile):
        ad.manual_seed(0)
        model = _convnet()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        x = ad.tensor(rng.standard_normal((24, 1, 8, 8)).astype(np.float32))
        y = ad.tensor(rng.integers(0, 5, 24))
        data = DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True,
                          generator=ad.Generator().manual_seed(1))
        history = nn.training.fit(model, nn.CrossEntropyLoss(), opt, data, epochs=3,
                                  progress=False, grad_clip=1.0, compile=compile)
        return [s["loss"] for s in history.steps], [p.data for p in model.parameters()]

    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.CaptureWarning)
        losses_c, params_c = run(True)
    losses_e, params_e = run(False)
    assert losses_c == losses_e
    assert all(a.tobytes() == b.tobytes() for a, b in zip(params_c, params_e))


def test_the_replay_program_is_plain_numpy_calls():
    w = ad.tensor(np.ones((3, 2), np.float32), requires_grad=True)

    def step(x):
        w.grad = None
        loss = (x @ w).tanh().sum()
        loss.backward()
        return loss

    fn = ad.compile(step, warmup=0, strict=True)
    for _ in range(3):
        fn(ad.tensor(np.ones((4, 3), np.float32)))
    (source,) = fn.programs
    assert "Tensor" not in source and "backward" not in source
    assert source.count(" = ") < 30  # forward, backward and the .grad binding, no graph


def test_outside_a_capture_replay_eagerly_is_the_function_itself():
    calls = []
    marked = ad.replay_eagerly(lambda v: calls.append(v))
    marked(1)
    assert calls == [1] and marked.__replay_eagerly__


# ---------------------------------------------------------------- every op of the table

def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _op_rows():
    from op_table import OPS
    return OPS


@pytest.mark.parametrize("row", _op_rows(), ids=str)
def test_every_op_captures_and_replays_bit_identically(row):
    """Forward and backward of each op-table row: captured twice, replayed on new values of
    the same shapes, equal to eager bit for bit (an op writing into an array the recorder
    cannot see would make the two captures differ and the test fail with the reason)."""
    from hypothesis import HealthCheck, given, settings

    dtype = np.dtype(np.float32) if np.float32 in row.dtypes else np.dtype(row.dtypes[0])
    grads = row.differentiable and dtype.kind == "f"

    @settings(max_examples=1, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=row.inputs(dtype))
    def check(case):
        def f(*ts):
            outs = _as_tuple(row.fn(*ts, **case.kwargs))
            if not grads:
                return outs
            sum((o * o).sum() for o in outs).backward()
            return outs + tuple(t.grad for t in ts)

        step = ad.compile(f, warmup=0, strict=True)
        rng = np.random.default_rng(0)
        for i in range(4):
            arrays = [a + (i * 1e-3 * rng.standard_normal(a.shape)).astype(a.dtype)
                      if a.dtype.kind == "f" else a for a in case.arrays]
            eager = f(*[ad.tensor(a, requires_grad=grads) for a in arrays])
            replayed = step(*[ad.tensor(a, requires_grad=grads) for a in arrays])
            for e, r in zip(eager, replayed):
                assert (e is None) == (r is None)
                if e is not None:
                    assert e.data.tobytes() == r.data.tobytes(), f"{row.name} call {i}"
        assert "replayed 2 times" in step.explain()

    check()


def test_the_readme_example_runs_and_replays():
    import pathlib
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("## Capture and replay")
    (block,) = [b.split("```")[0] for b in
                text[start:text.index("\n## ", start + 1)].split("```python\n")[1:]]
    rng = np.random.default_rng(0)
    loader = [(ad.tensor(rng.standard_normal((32, 64)).astype(np.float32)),
               ad.tensor(rng.integers(0, 10, 32))) for _ in range(5)]
    namespace = {"loader": loader}
    ad.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ad.CaptureWarning)
        exec(block, namespace)  # noqa: S102 (our own README)
    assert "replayed 2 times" in namespace["train_step"].explain()
    assert np.isfinite(namespace["loss"].item())

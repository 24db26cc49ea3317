"""Grad mode (no_grad / enable_grad / set_grad_enabled), thread-locality, anomaly mode."""
import threading

import numpy as np
import pytest

import autodiff as ad
from helpers import run_threads


@pytest.fixture
def x():
    return ad.tensor([1.0, 2.0], requires_grad=True)


def test_no_grad_context_manager(x):
    assert ad.is_grad_enabled()
    with ad.no_grad():
        assert not ad.is_grad_enabled()
        y = x * 2
    assert ad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad(x):
    with ad.no_grad():
        with ad.enable_grad():
            assert ad.is_grad_enabled()
            y = x * 2
        assert not ad.is_grad_enabled()
    assert y.requires_grad and y.grad_fn.name == "mul"


@pytest.mark.parametrize("mode", [True, False])
def test_set_grad_enabled(x, mode):
    with ad.set_grad_enabled(mode):
        assert ad.is_grad_enabled() is mode
        assert (x * 2).requires_grad is mode
    assert ad.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call(x):
    try:
        ad.set_grad_enabled(False)          # torch style: switches the mode immediately
        assert not ad.is_grad_enabled() and not (x * 2).requires_grad
        ad.set_grad_enabled(True)
        assert ad.is_grad_enabled()
    finally:
        ad.set_grad_enabled(True)
    with ad.no_grad():
        with ad.set_grad_enabled(True):
            assert ad.is_grad_enabled()
        assert not ad.is_grad_enabled()


def test_decorating_with_set_grad_enabled_does_not_switch_now(x):
    @ad.set_grad_enabled(False)
    def f(t):
        return t * 2
    assert ad.is_grad_enabled()
    assert not f(x).requires_grad and ad.is_grad_enabled()


def test_one_instance_entered_while_active(x):
    # Regression: the instance kept one saved mode, so a nested re-entry lost the outer one
    # and grad mode stayed off after the blocks.
    ng = ad.no_grad()
    with ng:
        with ng:
            assert not ad.is_grad_enabled()
        assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()
    s = ad.set_grad_enabled(False)
    with s:
        with ad.enable_grad():
            with s:
                assert not ad.is_grad_enabled()
            assert ad.is_grad_enabled()
        assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()


def test_one_instance_shared_by_threads():
    ng = ad.no_grad()
    barrier = threading.Barrier(2, timeout=10)
    after = []

    def work(enter_first):
        if not enter_first:
            with ad.no_grad():           # this thread starts with grad off
                barrier.wait()
                with ng:
                    barrier.wait()
                after.append(("off", ad.is_grad_enabled()))
                return
        with ng:
            barrier.wait()
            barrier.wait()
        after.append(("on", ad.is_grad_enabled()))

    run_threads(lambda: work(True), lambda: work(False))
    assert sorted(after) == [("off", False), ("on", True)]


def test_modes_restore_after_exceptions():
    with pytest.raises(ZeroDivisionError):
        with ad.no_grad():
            1 / 0
    assert ad.is_grad_enabled()
    with pytest.raises(KeyError):
        with ad.no_grad():
            with ad.enable_grad():
                raise KeyError
    assert ad.is_grad_enabled()


def test_modes_as_decorators(x):
    @ad.no_grad()
    def frozen(t):
        return t * 2, ad.is_grad_enabled()

    @ad.no_grad
    def bare(t):          # torch also accepts the decorator without parentheses
        return t * 2

    @ad.enable_grad()
    def tracked(t):
        return t * 2

    @ad.set_grad_enabled(False)
    def switched_off(t):
        return t * 2

    y, flag = frozen(x)
    assert not y.requires_grad and not flag
    assert not bare(x).requires_grad
    assert ad.is_grad_enabled()
    with ad.no_grad():
        assert tracked(x).requires_grad
        assert not ad.is_grad_enabled()
    assert not switched_off(x).requires_grad
    assert frozen.__name__ == "frozen" and bare.__name__ == "bare"


def test_decorated_generator_runs_each_step_under_the_mode(x):
    # Regression: only creating the generator ran under no_grad, so its body recorded graphs.
    @ad.no_grad()
    def batches(n):
        for k in range(n):
            got = yield (x * k, ad.is_grad_enabled())
            assert got is None or got == "ping"
        return "done"

    outside = []
    gen = batches(3)
    for y, flag in gen:
        assert not y.requires_grad and not flag
        outside.append(ad.is_grad_enabled())      # the caller's code keeps grad mode
    assert outside == [True, True, True]
    g = batches(2)
    next(g)
    assert g.send("ping")[1] is False
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    g = batches(5)
    next(g)
    g.close()                                     # closing runs the body's cleanup
    assert ad.is_grad_enabled()

    @ad.enable_grad()
    def tracked():
        yield x * 2

    with ad.no_grad():
        assert next(tracked()).requires_grad


def test_decorated_function_is_reentrant(x):
    @ad.no_grad()
    def f(t, depth):
        if depth:
            with ad.enable_grad():
                inner = f(t, depth - 1)
            assert not ad.is_grad_enabled()
            return inner
        return t * 2

    assert not f(x, 3).requires_grad
    assert ad.is_grad_enabled()


def test_backward_itself_works_under_no_grad(x):
    loss = (x * x).sum()
    with ad.no_grad():
        loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert not x.grad.requires_grad


def test_no_grad_is_thread_local(x):
    barrier = threading.Barrier(2, timeout=10)
    seen = {}

    def worker_off():
        with ad.no_grad():
            barrier.wait()        # both threads are inside their blocks now
            seen["off"] = ((x * 2).requires_grad, ad.is_grad_enabled())
            barrier.wait()

    def worker_on():
        barrier.wait()
        seen["on"] = ((x * 2).requires_grad, ad.is_grad_enabled())
        barrier.wait()

    run_threads(worker_off, worker_on)
    assert seen == {"off": (False, False), "on": (True, True)}
    assert ad.is_grad_enabled()


def test_new_thread_starts_with_grad_enabled():
    result = []
    with ad.no_grad():
        t = threading.Thread(target=lambda: result.append(ad.is_grad_enabled()))
        t.start()
        t.join()
    assert result == [True]


def test_anomaly_off_by_default_and_context():
    assert not ad.is_anomaly_enabled()
    with ad.detect_anomaly():
        assert ad.is_anomaly_enabled()
        with ad.detect_anomaly(False):
            assert not ad.is_anomaly_enabled()
    assert not ad.is_anomaly_enabled()


def test_anomaly_forward_names_op_and_user_line():
    x = ad.tensor([1.0, -1.0], requires_grad=True)
    with np.errstate(all="ignore"), ad.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            ad.log(x)  # the line the message must point at
    msg = str(info.value)
    assert "forward of log produced NaN or Inf" in msg
    assert "test_modes.py" in msg and "the line the message must point at" in msg


def test_anomaly_backward_names_op_and_user_line():
    x = ad.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), ad.detect_anomaly():
        y = ad.sqrt(x)  # sqrt'(0) is infinite
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert "backward of sqrt produced NaN or Inf" in msg and "input 0" in msg
    assert "test_modes.py" in msg and "sqrt'(0) is infinite" in msg


def test_without_anomaly_mode_nan_passes_silently():
    x = ad.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        ad.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()[0])

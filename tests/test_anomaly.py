"""Anomaly mode: NaN/Inf in a forward or backward step raises, naming the op and the
line of user code that created it; off by default; no effect on results."""
import inspect
import warnings

import numpy as np
import pytest

import autodiff as ad

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own NaN warnings


def _line_of(marker):
    """The source line number of this file that contains `marker`."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text and "_line_of" not in text)


def test_off_by_default():
    assert ad.is_anomaly_enabled() is False
    y = ad.log(ad.tensor([-1.0, 1.0]))  # NaN, silently, as in NumPy
    assert np.isnan(y.data[0])
    x = ad.tensor([0.0, 1.0], requires_grad=True)
    ad.sqrt(x).sum().backward()
    assert np.isinf(x.grad.data[0])
    assert ad.sqrt(x).grad_fn.trace is None  # no stack capture when off


def test_forward_nan_names_op_and_user_line():
    x = ad.tensor([-1.0, 2.0], requires_grad=True)
    with ad.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            ad.log(x)  # FORWARD-NAN
    msg = str(info.value)
    assert "forward of log produced NaN or Inf" in msg
    assert f'{__file__}", line {_line_of("# FORWARD-NAN")}' in msg
    assert "ad.log(x)" in msg


def test_forward_inf_through_an_operator():
    a, b = ad.tensor([1.0, 2.0]), ad.tensor([0.0, 1.0])
    with ad.detect_anomaly(), pytest.raises(FloatingPointError,
                                            match=r"forward of div .*\n.*\n.*line \d+") as info:
        a / b  # OPERATOR-INF
    assert f"line {_line_of('# OPERATOR-INF')}" in str(info.value)


def test_backward_nan_names_op_and_where_forward_was_created():
    x = ad.tensor([0.0, 4.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.sqrt(x)  # SQRT-CREATED
        loss = (y * 3.0).sum()
        with pytest.raises(FloatingPointError) as info:
            loss.backward()
    msg = str(info.value)
    assert "backward of sqrt produced NaN or Inf in the gradient of input 0" in msg
    assert f"line {_line_of('# SQRT-CREATED')}" in msg and "y = ad.sqrt(x)" in msg


def test_backward_nan_under_create_graph_names_the_op():
    x = ad.tensor([0.0, 4.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.sqrt(x)  # SQRT-CG
        with pytest.raises(FloatingPointError, match="backward of sqrt produced NaN or Inf") as info:
            ad.grad(y.sum(), x, create_graph=True)
    assert f"line {_line_of('# SQRT-CG')}" in str(info.value)


def test_backward_blames_the_op_that_produced_the_nan_among_several():
    # Only sqrt's rule makes a non-finite value (0 / 0 after the * 0.0); the others are fine.
    x = ad.tensor([0.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.log(x + 1.0)  # finite forward, finite gradient 1/(x+1)
        z = ad.sqrt(x) * 0.0  # SQRT-SOURCE: its rule computes 0 / (2 sqrt(0))
        with pytest.raises(FloatingPointError, match="backward of sqrt") as info:
            (y + z).sum().backward()
    assert f"line {_line_of('# SQRT-SOURCE')}" in str(info.value)


def test_no_effect_on_results_when_on():
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))

    def run():
        w = ad.tensor(w0, requires_grad=True)
        x = ad.tensor(x0, requires_grad=True)
        out = ad.log_softmax((x @ w).tanh(), axis=1)
        loss = -(out[:, 0]).mean() + (w * w).sum() * 0.1
        loss.backward()
        (h,) = ad.grad((x.sigmoid() ** 2).sum(), x, create_graph=True)
        (h2,) = ad.grad(h.sum(), x)
        return loss.data, w.grad.data, x.grad.data, h2.data

    plain = run()
    with ad.detect_anomaly():
        assert ad.is_anomaly_enabled()
        checked = run()
    assert not ad.is_anomaly_enabled()
    for a, b in zip(plain, checked):
        np.testing.assert_array_equal(a, b)


def test_decorator_nesting_and_disable():
    @ad.detect_anomaly()
    def f(t):
        return ad.log(t)

    with pytest.raises(FloatingPointError, match="forward of log"):
        f(ad.tensor([-1.0]))
    assert not ad.is_anomaly_enabled()
    with ad.detect_anomaly():
        with ad.detect_anomaly(False):
            assert not ad.is_anomaly_enabled()
            ad.log(ad.tensor([-1.0]))  # no error inside the disabled block
        assert ad.is_anomaly_enabled()


def test_integer_and_finite_results_pass():
    with ad.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing non-finite: no numpy warning either
        x = ad.tensor([1.0, 2.0], requires_grad=True)
        (x.exp() * ad.tensor([1, 2])).sum().backward()
        assert ad.argmax(x).item() == 1
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]) * [1, 2])

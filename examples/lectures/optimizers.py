"""Optimizers (lecture: "Optimization": SGD, momentum in its two forms, Nesterov, AdaGrad,
RMSProp, Adam; saddle points; the learning rate; GD vs SGD).

1. Steps to a tolerance on two classic test functions (each learning rate tuned by hand,
   near the largest that stays stable):
     valley:     f(x, y) = (x^2 + 100 y^2) / 2      an ill-conditioned quadratic (condition
                                                    100): steep across the valley, flat
                                                    along it
     Rosenbrock: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2   a curved, flat-bottomed banana valley
   Momentum needs ~sqrt(condition number) times fewer steps than plain SGD in the valley;
   RMSProp and Adam take steps of size ~lr whatever the gradient, so at a constant lr they
   end up hovering near the minimum instead of settling (a decaying schedule fixes that).
2. Their paths, drawn with viz.plots.plot_optimizer_paths (each a real nn.optim run): the
   narrow valley (with momentum in both forms: the velocity form v = mu v - lr g,
   theta += v is SGD(lr, momentum=mu); the moving average m = beta m + (1 - beta) g,
   theta -= lr m is SGD(lr (1 - beta), momentum=beta): with the same lr and beta = mu its
   steps are (1 - beta) as long), the saddle x^2 - y^2 + y^4/4 started next to its ridge,
   and Rosenbrock. Figures optimizer_paths_*.png.
3. Adam with betas = (0, 0) divides the gradient by its own size: every step is exactly
   lr long, whatever the slope, so on f(x) = x^2 / 2 it ends up jumping back and forth
   across the minimum (the printed steps; figure adam_betas_zero.png).
4. GD vs SGD on a 1-D loss with several minima: exact gradients settle in the nearest
   (local) minimum, noisy ones hop the barrier into the global one (optimizer_gd_vs_sgd.png).
5. The learning rate: a digits MLP trained with SGD at lr 1e-4 (too small: barely moves),
   0.03 and 0.3 (good), and 3 (too large: the loss explodes); figure learning_rates.png.

Run: python examples/lectures/optimizers.py [--quick] [--out DIR] [--tol T]
(previously examples/optimizers.py)
"""
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import optim, training  # noqa: E402

CURVATURE = ad.tensor(np.array([1.0, 100.0]))


def valley(theta):
    return 0.5 * (CURVATURE * theta * theta).sum()


def rosenbrock(theta):
    x, y = theta[0], theta[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


# problem: (loss function, start, {label: (optimizer class, keyword arguments)})
PROBLEMS = {
    "valley": (valley, [-4.0, 1.0], {
        "SGD": (optim.SGD, dict(lr=0.0198)),  # 2 / (L + mu): the best plain rate
        "Momentum": (optim.SGD, dict(lr=0.033, momentum=0.67)),  # heavy-ball optimum
        "Nesterov": (optim.SGD, dict(lr=0.009, momentum=0.9, nesterov=True)),
        "AdaGrad": (optim.Adagrad, dict(lr=1.0)),
        "RMSProp": (optim.RMSprop, dict(lr=0.01)),
        "Adam": (optim.Adam, dict(lr=0.1)),
    }),
    "Rosenbrock": (rosenbrock, [-1.2, 1.0], {
        "SGD": (optim.SGD, dict(lr=1e-3)),
        "Momentum": (optim.SGD, dict(lr=2e-4, momentum=0.9)),
        "Nesterov": (optim.SGD, dict(lr=2e-4, momentum=0.9, nesterov=True)),
        "AdaGrad": (optim.Adagrad, dict(lr=0.5)),
        "RMSProp": (optim.RMSprop, dict(lr=1e-3)),
        "Adam": (optim.Adam, dict(lr=0.02)),
    }),
}


def minimise(loss_fn, start, opt_cls, kwargs, max_steps, tol):
    """Run the optimizer; returns (first step with loss < tol or None, final loss, theta)."""
    theta = ad.tensor(np.array(start), requires_grad=True)
    opt = opt_cls([theta], **kwargs)
    reached = None
    loss = loss_fn(theta)
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss = loss_fn(theta)
        value = loss.item()
        if reached is None and value < tol:
            reached = step
        if not math.isfinite(value):
            break
    return reached, loss.item(), theta.numpy()


def adam_betas_zero(lr=0.3, start=1.0, steps=12):
    """x_t of Adam(lr, betas=(0, 0)) on f(x) = x^2 / 2 from `start`."""
    x = ad.tensor([start], dtype=ad.float64, requires_grad=True)
    opt = optim.Adam([x], lr=lr, betas=(0.0, 0.0))
    xs = [start]
    for _ in range(steps):
        opt.zero_grad()
        (x * x / 2).sum().backward()
        opt.step()
        xs.append(float(x.numpy()[0]))
    return np.array(xs)


def gd_vs_sgd():
    """{label: final x} of viz.plots' GD / SGD runs on its multi_minima_1d loss."""
    from viz import plots
    objective = plots.multi_minima_1d
    finals = {}
    for label, (name, kwargs, *noise) in objective.optimizers.items():
        path = plots.optimizer_path(objective, getattr(optim, name), kwargs, objective.start,
                                    objective.steps, noise=noise[0]["noise"] if noise else 0.0)
        finals[label] = float(path[-1, 0])
    return finals


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


LR_VERDICTS = {1e-4: "too small, barely moves", 0.03: "good", 0.3: "good, faster",
               3.0: "too large: jumps up, then stuck (dead ReLUs)"}


def learning_rate_runs(epochs, lrs=tuple(LR_VERDICTS)):
    """{lr: History} of the digits MLP trained with plain SGD at each learning rate."""
    train, val, test = _common.digits_splits(seed=0)
    runs = {}
    for lr in lrs:
        train_loader, val_loader, _, _ = _common.digits_loaders(train, val, test, seed=0)
        ad.manual_seed(0)
        model = _mlp()
        runs[lr] = training.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr),
                                train_loader, val_loader, epochs=epochs, progress=False)
    return runs


def _extra(parser):
    parser.add_argument("--tol", type=float, default=1e-6, help="loss tolerance")


def main(argv=None):
    args = _common.parse_args("optimizers", __doc__, argv, _extra)
    budgets = {"valley": 100 if args.quick else 2000,
               "Rosenbrock": 200 if args.quick else 20000}
    results = {}
    for name, (loss_fn, start, runs) in PROBLEMS.items():
        steps = budgets[name]
        print(f"\n{name}: start {start}, tolerance f < {args.tol:g}, at most {steps} steps")
        print(f"  {'optimizer':<10} {'settings':<34} {'steps to tol':>12} {'final loss':>12}"
              f"  final (x, y)")
        for label, (opt_cls, kwargs) in runs.items():
            reached, final, theta = minimise(loss_fn, start, opt_cls, kwargs, steps, args.tol)
            results[name, label] = (reached, final)
            settings = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "nesterov")
            print(f"  {label:<10} {settings:<34} {reached if reached else '-':>12} "
                  f"{final:12.3e}  ({theta[0]:+.4f}, {theta[1]:+.4f})")

    print("\nAdam with betas = (0, 0), lr 0.3, on f(x) = x^2 / 2 from x = 1:")
    xs = adam_betas_zero()
    print("  x: " + ", ".join(f"{x:+.2f}" for x in xs))
    print("  step sizes |x_t+1 - x_t|: " + ", ".join(f"{d:.2f}" for d in np.abs(np.diff(xs)))
          + "  (always lr: the step is lr * g / |g|)")
    results["adam_betas_zero"] = xs

    if _common.have_matplotlib():
        results["gd_vs_sgd"] = gd_vs_sgd()
        print("\nGD vs SGD on f(x) = x^2/8 - 1.5 exp(-(x - 0.5)^2) - exp(-2 (x - 3)^2) - "
              "0.8 exp(-2 (x + 2.5)^2), from x = 4.5, lr 0.05, 200 steps:")
        for label, x in results["gd_vs_sgd"].items():
            print(f"  {label}: ends at x = {x:.2f}")
        print("  (minima: local at x = 2.80 and -2.30, global at 0.46)")

    epochs = 3 if args.quick else 20
    print(f"\nSGD learning rates on a digits MLP (64-64-10), {epochs} epochs:")
    lr_runs = learning_rate_runs(epochs)
    for lr, history in lr_runs.items():
        last = history.epochs[-1]
        print(f"  lr {lr:<7g} training loss after epoch 1 {history.epochs[0]['loss']:.4g}, "
              f"after {last['epoch']}: {last['loss']:.4g}; val accuracy "
              f"{100 * last['val_accuracy']:.1f}%")
    results["learning_rates"] = {lr: h["loss"] for lr, h in lr_runs.items()}

    _common.draw(_plots, lr_runs, xs, args.out)
    return results


def _plots(lr_runs, adam_xs, out):
    from viz import plots
    valley = plots.valley(1.0, 10.0)
    forms = dict(valley.optimizers)
    # the moving-average form with the same step size and beta as the velocity form's lr
    # and mu: m = beta m + (1 - beta) g, theta -= lr m, i.e. SGD(lr (1 - beta), momentum=beta)
    velocity = forms["Momentum"][1]
    forms["Momentum (average form)"] = ("SGD", {"lr": velocity["lr"] * (1 - velocity["momentum"]),
                                                "momentum": velocity["momentum"]})
    forms["Momentum (velocity form)"] = forms.pop("Momentum")
    for name, objective, optimizers in (("valley", valley, forms), ("saddle", plots.saddle, None),
                                        ("rosenbrock", plots.rosenbrock, None)):
        fig = plots.plot_optimizer_paths(objective, optimizers=optimizers)
        _common.save(fig, out, f"optimizer_paths_{name}")
    fig = plots.plot_optimizer_paths(plots.multi_minima_1d)
    _common.save(fig, out, "optimizer_gd_vs_sgd")

    fig, ax = _common.figure(width=7, height=4)
    steps = np.arange(len(adam_xs))
    ax.plot(steps, adam_xs, "-o", color=_common.COLOURS[1], label="x_t")
    ax.axhline(0, color="grey", lw=1, label="the minimum x = 0")
    ax.set(xlabel="step t", ylabel="x_t",
           title="Adam with betas (0, 0), lr 0.3, on f(x) = x^2 / 2:\nevery step is exactly "
                 "0.3 long, so it ends up jumping across the minimum")
    ax.legend()
    _common.save(fig, out, "adam_betas_zero")

    fig, ax = _common.figure(width=8, height=4.5)
    for colour, (lr, history) in zip(_common.COLOURS, lr_runs.items()):
        losses = np.array([s["loss"] for s in history.steps])
        window = 10
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.semilogy(np.arange(window, len(losses) + 1), smooth, color=colour, lw=2,
                    label=f"lr {lr:g}: {LR_VERDICTS.get(lr, '')}")
    ax.set(xlabel="step (batches of 32)", ylabel="training loss (mean of 10 steps, log scale)",
           title="SGD on the digits MLP: too small, good and too large learning rates")
    ax.legend()
    _common.save(fig, out, "learning_rates")


if __name__ == "__main__":
    main()

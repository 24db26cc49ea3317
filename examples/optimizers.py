"""Optimizers on two classic test functions: which reach the minimum, and how fast.

  valley:     f(x, y) = (x^2 + 100 y^2) / 2      an ill-conditioned quadratic (condition 100):
                                                 steep across the valley, flat along it
  Rosenbrock: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2   a curved, flat-bottomed banana valley

For each of SGD, SGD with momentum, Nesterov, AdaGrad, RMSProp and Adam it prints the number
of steps until f < tolerance (or "-" if never) and the final loss. The learning rates are
tuned per problem by hand (each is near the largest that stays stable). Things to notice:
momentum needs ~sqrt(condition number) times fewer steps than plain SGD in the valley;
RMSProp and Adam take steps of size ~lr whatever the gradient, so at a constant lr they end
up hovering near the minimum instead of settling (a decaying lr_scheduler fixes that).
Run: python examples/optimizers.py [--quick]
"""
import argparse
import math

import numpy as np

import autodiff as ad
from nn import optim

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps (for CI)")
    parser.add_argument("--tol", type=float, default=1e-6, help="loss tolerance")
    args = parser.parse_args(argv)
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
    return results


if __name__ == "__main__":
    main()

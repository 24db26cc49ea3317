"""Batch normalisation, step by step (lecture: "Batch Normalization", the slides on the
per-feature batch statistics, gamma/beta, train vs test mode, and the backward pass of
Ioffe & Szegedy's paper written with the chain rule).

For a batch X (N examples x D features), per feature j:
    mu_j = mean_i x_ij,  var_j = mean_i (x_ij - mu_j)^2,  x_hat = (x - mu) / sqrt(var + eps),
    y = gamma * x_hat + beta
and in eval mode the running averages replace mu and var. The backward (the slide's four
formulas, m = N):
    dl/dx_hat = dl/dy * gamma
    dl/dvar   = sum_i dl/dx_hat_i (x_i - mu) * (-1/2) (var + eps)^(-3/2)
    dl/dmu    = sum_i dl/dx_hat_i * (-1 / sqrt(var + eps)) + dl/dvar * sum_i -2 (x_i - mu) / m
    dl/dx_i   = dl/dx_hat_i / sqrt(var + eps) + dl/dvar * 2 (x_i - mu) / m + dl/dmu / m

What to look at: after BN each feature has mean 0 and std 1 whatever its scale; eval mode
uses the running averages, so an example's output no longer depends on its batch mates;
in training it does (the same example, two different batches, two outputs); with small
batches the batch statistics are noisy (the spread of the batch mean falls as 1/sqrt(N),
figure small_batch_statistics.png); and every backward term equals autodiff's to ~1e-16.

Run: python examples/lectures/batch_norm_demo.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402

EPS = 1e-5
SCALES = np.array([1.0, 10.0, 100.0])   # three features of very different size
OFFSETS = np.array([0.0, 50.0, -300.0])


def features(rng, n):
    """n examples of the three features x_j ~ N(OFFSETS_j, SCALES_j^2)."""
    return rng.standard_normal((n, 3)) * SCALES + OFFSETS


def backward_terms(x, gamma, dl_dy, eps=EPS):
    """The slide's chain-rule formulas for one BN layer, in NumPy: a dict of dl/dx_hat,
    dl/dvar, dl/dmu, dl/dx, dl/dgamma, dl/dbeta."""
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    dl_dxhat = dl_dy * gamma
    dl_dvar = (dl_dxhat * (x - mu) * -0.5 * inv_std ** 3).sum(axis=0)
    dl_dmu = (dl_dxhat * -inv_std).sum(axis=0) + dl_dvar * (-2 * (x - mu)).sum(axis=0) / m
    dl_dx = dl_dxhat * inv_std + dl_dvar * 2 * (x - mu) / m + dl_dmu / m
    return {"dl/dx_hat": dl_dxhat, "dl/dvar": dl_dvar, "dl/dmu": dl_dmu, "dl/dx": dl_dx,
            "dl/dgamma": (dl_dy * x_hat).sum(axis=0), "dl/dbeta": dl_dy.sum(axis=0)}


def autodiff_terms(x_np, gamma_np, beta_np, dl_dy, eps=EPS):
    """The same gradients from autodiff: BN composed from mean/var ops with retain_grad() on
    the intermediates, and dl/dx also through the fused nn.functional.batch_norm."""
    x = ad.tensor(x_np, requires_grad=True)
    gamma = ad.tensor(gamma_np, requires_grad=True)
    beta = ad.tensor(beta_np, requires_grad=True)
    mu = x.mean(dim=0)
    var = ((x - mu) ** 2).mean(dim=0)
    x_hat = (x - mu) / (var + eps).sqrt()
    for t in (mu, var, x_hat):
        t.retain_grad()
    y = gamma * x_hat + beta
    y.backward(ad.tensor(dl_dy))
    xf = ad.tensor(x_np, requires_grad=True)
    nn.functional.batch_norm(xf, None, None, ad.tensor(gamma_np), ad.tensor(beta_np),
                             training=True, eps=eps).backward(ad.tensor(dl_dy))
    return {"dl/dx_hat": x_hat.grad.numpy(), "dl/dvar": var.grad.numpy(),
            "dl/dmu": mu.grad.numpy(), "dl/dx": x.grad.numpy(),
            "dl/dgamma": gamma.grad.numpy(), "dl/dbeta": beta.grad.numpy(),
            "dl/dx (fused op)": xf.grad.numpy()}


def batch_spread(rng, sizes, repeats):
    """For each batch size N: the std over `repeats` batches of the batch mean and of the
    batch std of the first feature (true std 1)."""
    rows = []
    for n in sizes:
        x = rng.standard_normal((repeats, n))
        rows.append((n, x.mean(axis=1).std(), x.std(axis=1).std(), 1 / np.sqrt(n)))
    return np.array(rows)


def main(argv=None):
    args = _common.parse_args("batch_norm_demo", __doc__, argv)
    rng = np.random.default_rng(0)
    result = {}

    print("== per-feature statistics of one training batch (N = 8, D = 3)")
    X = features(rng, 8)
    bn = nn.BatchNorm1d(3).to(ad.float64)
    with ad.no_grad():
        bn.weight.data[...] = [1.0, 2.0, 0.5]   # gamma
        bn.bias.data[...] = [0.0, -1.0, 3.0]    # beta
    print("X =\n" + _common.array_str(X, 2))
    mu, var = X.mean(axis=0), X.var(axis=0)
    print(f"batch mean  mu  = {_common.array_str(mu, 3)}")
    print(f"batch var   var = {_common.array_str(var, 3)}   (biased: divide by N)")
    x_hat = (X - mu) / np.sqrt(var + EPS)
    y = bn(ad.tensor(X)).numpy()
    print(f"x_hat: mean {_common.array_str(x_hat.mean(0), 3)}, std "
          f"{_common.array_str(x_hat.std(0), 3)}  (each feature standardised)")
    print(f"gamma = {bn.weight.numpy()}, beta = {bn.bias.numpy()}")
    print(f"y = gamma x_hat + beta: mean {_common.array_str(y.mean(0), 3)} (= beta), std "
          f"{_common.array_str(y.std(0), 3)} (= gamma)")
    result.update(mu=mu, var=var, y=y, y_expected=bn.weight.numpy() * x_hat + bn.bias.numpy())

    print("\n== running averages: running = 0.9 running + 0.1 batch (unbiased var)")
    steps = 20 if args.quick else 50
    for step in range(1, steps + 1):
        bn(ad.tensor(features(rng, 32)))
        if step in (1, 2, 5, 10, steps):
            mean = _common.array_str(bn.running_mean.numpy(), 2)
            var = _common.array_str(bn.running_var.numpy(), 1)
            print(f"after {step:3d} batches: running_mean {mean}  running_var {var}")
    print(f"true mean {OFFSETS}, true var {SCALES ** 2}; the weight of the initial (0, 1) is "
          f"0.9^{steps} = {0.9 ** steps:.3f}")
    result["running_mean"] = bn.running_mean.numpy().copy()
    result["running_var"] = bn.running_var.numpy().copy()

    print("\n== train vs eval: one example, two different sets of batch mates")
    example = X[:1]
    batch_a = np.concatenate([example, features(rng, 7)])
    batch_b = np.concatenate([example, features(rng, 7) + [0, 30, 0]])  # other mates
    with ad.no_grad():
        bn.train()
        train_a, train_b = bn(ad.tensor(batch_a)).numpy()[0], bn(ad.tensor(batch_b)).numpy()[0]
        bn.eval()
        eval_a, eval_b = bn(ad.tensor(batch_a)).numpy()[0], bn(ad.tensor(batch_b)).numpy()[0]
        bn.train()
    print(f"train mode: {_common.array_str(train_a, 3)} vs {_common.array_str(train_b, 3)}  "
          f"(differs by {np.abs(train_a - train_b).max():.3f})")
    print(f"eval mode:  {_common.array_str(eval_a, 3)} vs {_common.array_str(eval_b, 3)}  "
          f"(differs by {np.abs(eval_a - eval_b).max():.1e})")
    # (the two train-mode calls above moved the running averages once more; eval used those)
    affine = (example[0] - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + EPS)
    affine = affine * bn.weight.numpy() + bn.bias.numpy()
    print(f"eval output = gamma (x - running_mean) / sqrt(running_var + eps) + beta = "
          f"{_common.array_str(affine, 3)}")
    result.update(train_shift=float(np.abs(train_a - train_b).max()),
                  eval_shift=float(np.abs(eval_a - eval_b).max()),
                  eval_error=float(np.abs(eval_a - affine).max()))

    print("\n== small batches give poor statistics (feature ~ N(0, 1), "
          f"{'2,000' if args.quick else '20,000'} batches per size)")
    sizes = [2, 4, 8, 16, 32, 64, 128, 256]
    spread = batch_spread(rng, sizes, 2000 if args.quick else 20000)
    print(_common.table(["batch size", "std of batch mean", "1/sqrt(N)", "std of batch std"],
                        [(int(n), m, t, s) for n, m, s, t in spread],
                        ["{}", "{:.4f}", "{:.4f}", "{:.4f}"]))
    result["spread"] = spread

    print("\n== backward: the slide's formulas vs autodiff (float64, N = 8)")
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    dl_dy = rng.standard_normal(X.shape)
    ours, auto = backward_terms(X, gamma, dl_dy), autodiff_terms(X, gamma, beta, dl_dy)
    ours["dl/dx (fused op)"] = ours["dl/dx"]
    rows = [(name, float(np.abs(ours[name]).max()), float(np.abs(ours[name] - auto[name]).max()))
            for name in ours]
    print(_common.table(["term", "max |formula|", "max |formula - autodiff|"], rows,
                        ["{}", "{:.4g}", "{:.1e}"]))
    print(f"sum_i dl/dx_i = {_common.array_str(ours['dl/dx'].sum(0), 3)}: BN's input gradient "
          "has zero mean per feature (shifting a whole feature changes nothing)")
    result["backward_errors"] = {name: err for name, _, err in rows}

    _common.draw(_plot, spread, X, y, args.out)
    return result


def _plot(spread, X, y, out):
    fig, ax = _common.figure(width=6.4, height=4.2)
    n = spread[:, 0]
    ax.loglog(n, spread[:, 1], "o-", color=_common.COLOURS[0], label="batch mean (true 0)")
    ax.loglog(n, spread[:, 2], "s-", color=_common.COLOURS[1], label="batch std (true 1)")
    ax.loglog(n, spread[:, 3], "--", color="grey", label="1 / sqrt(N)")
    ax.set_xlabel("batch size N (log scale)")
    ax.set_ylabel("std over batches (log scale)")
    ax.set_title("Batch statistics are noisy for small batches")
    ax.set_xticks(n, [str(int(v)) for v in n])
    ax.legend()
    _common.save(fig, out, "small_batch_statistics")

    fig, axes = _common.figure(1, 2, width=10, height=4.0)
    before, after = axes[0]
    for j in range(3):
        colour = _common.COLOURS[j]
        before.scatter(np.full(len(X), j), X[:, j], color=colour, s=30)
        after.scatter(np.full(len(y), j), y[:, j], color=colour, s=30)
        before.annotate(f"mean {X[:, j].mean():.1f}\nstd {X[:, j].std():.1f}",
                        (j, X[:, j].max()), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=9)
        after.annotate(f"mean {y[:, j].mean():.1f} (beta)\nstd {y[:, j].std():.1f} (gamma)",
                       (j, y[:, j].max()), textcoords="offset points", xytext=(0, 8),
                       ha="center", fontsize=9)
    before.set(title="Before BN: one batch of 8, scales 1 : 10 : 100", ylabel="value",
               ylim=(X.min() - 40, X.max() + 80))
    after.set(title="After BN: y = gamma x_hat + beta per feature", ylabel="value",
              ylim=(y.min() - 0.5, y.max() + 1.5))
    for ax in (before, after):
        ax.set_xticks(range(3), ["feature 0", "feature 1", "feature 2"])
        ax.set_xlim(-0.6, 2.6)
    _common.save(fig, out, "batch_before_after")


if __name__ == "__main__":
    main()

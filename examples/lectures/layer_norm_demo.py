"""Layer normalisation vs batch normalisation (lecture: "Layer Normalization", the slide
contrasting the axis each one averages over).

Layer norm standardises each example over its own features:
    mu_i = mean_j x_ij,  var_i = mean_j (x_ij - mu_i)^2,  y_i = gamma * (x_i - mu_i) /
    sqrt(var_i + eps) + beta        (gamma, beta per feature)
Batch norm standardises each feature over the batch instead.

What to look at: after LayerNorm every ROW (example) has mean 0 and std 1, after BatchNorm
every COLUMN (feature) has (figure ln_vs_bn.png); LayerNorm has no running statistics, so
train and eval give the same output, an example's output does not depend on its batch
mates, and a batch of one works (BatchNorm refuses it in training).

Run: python examples/lectures/layer_norm_demo.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402


def main(argv=None):
    args = _common.parse_args("layer_norm_demo", __doc__, argv)
    rng = np.random.default_rng(1)
    # 6 examples x 8 features; each example has its own offset and scale
    X = rng.standard_normal((6, 8)) * rng.uniform(0.5, 5, (6, 1)) + rng.uniform(-10, 10, (6, 1))
    ln = nn.LayerNorm(8).to(ad.float64)
    bn = nn.BatchNorm1d(8).to(ad.float64)
    with ad.no_grad():
        y_ln = ln(ad.tensor(X)).numpy()
        y_bn = bn(ad.tensor(X)).numpy()
    print("X (6 examples x 8 features) =\n" + _common.array_str(X, 2))
    print("\n== statistics of the output")
    rows = [("LayerNorm", y_ln.mean(1), y_ln.std(1), y_ln.mean(0), y_ln.std(0)),
            ("BatchNorm1d", y_bn.mean(1), y_bn.std(1), y_bn.mean(0), y_bn.std(0))]
    for name, row_mean, row_std, col_mean, col_std in rows:
        print(f"{name}: per example (row) mean {_common.array_str(row_mean, 2)}, std "
              f"{_common.array_str(row_std, 2)}")
        print(f"{' ' * len(name)}  per feature (col) mean {_common.array_str(col_mean, 2)}, "
              f"std {_common.array_str(col_std, 2)}")
    expected = (X - X.mean(1, keepdims=True)) / np.sqrt(X.var(1, keepdims=True) + 1e-5)
    ln_error = float(np.abs(y_ln - expected).max())
    print(f"LayerNorm = (x - row mean) / sqrt(row var + eps): max difference {ln_error:.1e}")

    print("\n== train vs eval, and batch mates")
    with ad.no_grad():
        ln.eval()
        y_eval = ln(ad.tensor(X)).numpy()
        ln.train()
        alone = ln(ad.tensor(X[:1])).numpy()
        other_mates = ln(ad.tensor(np.concatenate([X[:1], 100 * rng.standard_normal((3, 8))]))
                         ).numpy()[:1]
    train_eval = float(np.abs(y_eval - y_ln).max())
    mates = float(max(np.abs(alone - y_ln[:1]).max(), np.abs(other_mates - y_ln[:1]).max()))
    print(f"LayerNorm train vs eval output: max difference {train_eval:.1e}")
    print(f"example 0 alone, in its batch, with other batch mates: max difference {mates:.1e}")
    try:
        with ad.no_grad():
            bn(ad.tensor(X[:1]))
        bn_single = "accepted"
    except ValueError as err:
        bn_single = f"refused: {err}"
    print(f"BatchNorm1d in training on a batch of one: {bn_single}")
    result = dict(y_ln=y_ln, ln_error=ln_error, train_eval=train_eval, mates=mates,
                  bn_single_refused=bn_single.startswith("refused"),
                  buffers=[name for name, _ in ln.named_buffers()])
    print(f"LayerNorm buffers (running statistics): {result['buffers'] or 'none'}; "
          f"BatchNorm1d buffers: {[name for name, _ in bn.named_buffers()]}")
    _common.draw(_plot, X, y_ln, y_bn, args.out)
    return result


def _plot(X, y_ln, y_bn, out):
    from matplotlib.patches import Rectangle
    fig, axes = _common.figure(1, 3, width=13, height=4.2)
    panels = [(X, "input X\n(each example has its own offset and scale)", None),
              (y_bn, "BatchNorm: each column (feature) has\nmean 0, std 1 over the batch",
               "col"),
              (y_ln, "LayerNorm: each row (example) has\nmean 0, std 1 over its features",
               "row")]
    for ax, (data, title, group) in zip(axes[0], panels):
        limit = np.abs(data).max()
        image = ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize=11)
        ax.set(xlabel="feature j", ylabel="example i")
        ax.grid(False)
        # outline one of the groups the statistics are taken over
        if group == "col":
            ax.add_patch(Rectangle((2.5, -0.5), 1, data.shape[0], fill=False, lw=3,
                                   edgecolor="black"))
        elif group == "row":
            ax.add_patch(Rectangle((-0.5, 1.5), data.shape[1], 1, fill=False, lw=3,
                                   edgecolor="black"))
    _common.save(fig, out, "ln_vs_bn")


if __name__ == "__main__":
    main()

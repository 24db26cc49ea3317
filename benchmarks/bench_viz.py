"""DOT text for a 5,000-node graph: viz.draw_graph build time (median).

Target (issue 7): under 2 s. The graph is a chain of 2,500 ops on shape (16,), alternating
y * c and tanh (2,502 tensor nodes + 2,500 op nodes), after a recorded backward, so every
label carries a value and a gradient summary. Also timed: exact numbers (scalars), local
derivatives on edges, the same graph grouped in 50 module clusters, and collapsed to one
box per module; the baseline is walking the graph alone (ad.topological_order).
Run: OMP_NUM_THREADS=1 python benchmarks/bench_viz.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import contextlib
import re

import autodiff as ad
import viz
from _common import median_time, row

N_OPS = 2_499  # + the final sum


def chain(shape=(16,), modules=0):
    x = ad.tensor([0.1] * shape[0] if shape else 0.1, requires_grad=True, name="x")
    c = ad.tensor([0.999] * shape[0] if shape else 0.999, name="c")
    y = x
    blocks = max(modules, 1)
    for b in range(blocks):     # exactly `modules` scopes, splitting the ops evenly
        with ad.scope(f"block{b}") if modules else contextlib.nullcontext():
            for k in range(b * N_OPS // blocks, (b + 1) * N_OPS // blocks):
                y = y.tanh() if k % 2 else y * c
    y = y.sum() if shape else y * 1.0
    with viz.record_grads():
        y.backward(retain_graph=True)
    return y


def count_nodes(source):
    return len(re.findall(r"^\t+[tomc]\d+(_\d+)? \[", source, re.M))


def main():
    vec = chain()
    scal = chain(shape=())
    mods = chain(modules=50)
    base = median_time(lambda: ad.topological_order(vec), repeats=5, warmup=1)
    cases = [
        ("(16,): value/grad summaries", lambda: viz.draw_graph(vec)),
        ("scalars: exact numbers", lambda: viz.draw_graph(scal)),
        ("scalars + local derivatives", lambda: viz.draw_graph(scal, show_local_grads=True)),
        ("(16,) in 50 module clusters", lambda: viz.draw_graph(mods)),
        ("(16,), 50 modules collapsed", lambda: viz.draw_graph(mods, collapse=0)),
    ]
    print(f"viz.draw_graph on a {N_OPS}-op chain (median of 5; target < 2000 ms)")
    print(row("baseline: ad.topological_order", base, baseline=base))
    for label, fn in cases:
        nodes = count_nodes(fn().source)
        t = median_time(fn, repeats=5, warmup=1)
        print(row(label, t, baseline=base) + f"   {nodes} nodes")


if __name__ == "__main__":
    main()

"""Run every lecture demo and collect its printed numbers and figures in one page.

    python examples/lectures/run_all.py --out lectures [--quick] [--only xor,dropout]

Each demo runs in this process (`main(["--out", OUT/<name>, ...])`), its printed output is
kept in OUT/<name>/output.txt, and OUT/index.html shows, demo by demo, the docstring (which
lecture slide it reproduces and what to look at), every figure it wrote and the printed
tables. A demo that fails is reported on the page and in the exit status; the others still
run. `make lectures` runs this with --quick; without it the WaveNet demo alone trains two
models for 200,000 steps each (about half an hour on one core).
"""
from __future__ import annotations

import argparse
import contextlib
import html
import importlib.util
import io
import pathlib
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402,F401  (first: it limits BLAS threads before NumPy loads)

# In lecture order.
DEMOS = ["tensor_demo", "two_layer_linear_nn_demo", "training_loop", "xor",
         "backprop_figures", "activations", "weight_init", "vanishing_gradients",
         "skip_connections", "normalization_motivation", "preprocessing", "optimizers",
         "batch_norm_demo", "batch_norm_training", "layer_norm_demo", "dropout",
         "regularisation", "ensembles", "hyperparameter_search", "bells_and_whistles",
         "wavenet_names"]


def load(name):
    """The demo module examples/lectures/<name>.py (imported by path, not by package)."""
    spec = importlib.util.spec_from_file_location(f"lecture_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Tee(io.TextIOBase):
    """Write to several streams at once (the console and the captured copy)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()


def run(name, out, quick, echo=True):
    """Run one demo; returns a record with its output text, figures, seconds and error."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    captured = io.StringIO()
    stream = _Tee(captured, sys.stdout) if echo else captured
    start = time.perf_counter()
    error = None
    module = None
    try:
        module = load(name)
        with contextlib.redirect_stdout(stream):
            module.main(["--out", str(folder)] + (["--quick"] if quick else []))
    except Exception:  # noqa: BLE001 - reported on the page, the other demos still run
        error = traceback.format_exc()
        print(error, file=sys.stderr)
    seconds = time.perf_counter() - start
    (folder / "output.txt").write_text(captured.getvalue())
    figures = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".svg")
                     and not (p.suffix == ".svg" and p.with_suffix(".png").exists()))
    doc = (module.__doc__ if module is not None else "") or ""
    return dict(name=name, doc=doc.strip(), output=captured.getvalue(), figures=figures,
                seconds=seconds, error=error)


def index_html(records, out, quick) -> str:
    """One self-explaining page: contents, then per demo its docstring, figures, output."""
    mode = "quick mode (--quick)" if quick else "full mode"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Lecture demos</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:13px}"
        "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
        ".doc{white-space:pre-wrap;font-family:sans-serif;background:#eef4fa}"
        ".failed{color:#b00}</style></head><body>",
        f"<h1>Lecture demos</h1><p>{len(records)} demos, {mode}; each section is "
        "<code>python examples/lectures/&lt;name&gt;.py</code>: what it reproduces, its "
        "figures, then everything it printed.</p><ul>"]
    for r in records:
        status = " <span class='failed'>(failed)</span>" if r["error"] else ""
        title = html.escape(" ".join(r["doc"].split("\n\n")[0].split()) or r["name"])
        parts.append(f"<li><a href='#{r['name']}'>{r['name']}</a>: {title}{status} "
                     f"({r['seconds']:.1f} s)</li>")
    parts.append("</ul>")
    for r in records:
        parts.append(f"<h2 id='{r['name']}'>{r['name']}.py</h2>")
        parts.append(f"<pre class='doc'>{html.escape(r['doc'])}</pre>")
        if r["error"]:
            parts.append(f"<p class='failed'>This demo failed:</p><pre>"
                         f"{html.escape(r['error'])}</pre>")
        for fig in r["figures"]:
            rel = fig.relative_to(out).as_posix()
            parts.append(f"<p><b>{html.escape(fig.name)}</b><br><a href='{rel}'>"
                         f"<img src='{rel}' alt='{html.escape(fig.stem)}'></a></p>")
        parts.append(f"<p>Printed output ({r['seconds']:.1f} s):</p>"
                     f"<pre>{html.escape(r['output'])}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("lectures"))
    parser.add_argument("--quick", action="store_true", help="every demo in its quick mode")
    parser.add_argument("--only", default=None, help="comma-separated demo names")
    args = parser.parse_args(argv)
    names = DEMOS if args.only is None else args.only.split(",")
    unknown = sorted(set(names) - set(DEMOS))
    if unknown:
        parser.error(f"unknown demo(s) {unknown}; choose from {DEMOS}")
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for name in names:
        print(f"\n######## {name}", flush=True)
        records.append(run(name, args.out, args.quick))
    page = args.out / "index.html"
    page.write_text(index_html(records, args.out, args.quick))
    failed = [r["name"] for r in records if r["error"]]
    total = sum(r["seconds"] for r in records)
    print(f"\nwrote {page} ({len(records)} demos, {total:.1f} s"
          + (f"; FAILED: {', '.join(failed)})" if failed else ")"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

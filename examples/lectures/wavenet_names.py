"""A character-level language model of 32,033 names: Bengio's fixed-window MLP, then the
WaveNet-style hierarchical model (lecture: "Building makemore part 5: a WaveNet").

Reproduces the slide's progression on the names data set (examples/lectures/data/names.txt,
MIT, see the README there), split 80/10/10 by name with a fixed seed:

  baseline   Bengio et al. (2003): the previous 3 characters, each embedded in 10
             dimensions, concatenated, Linear(30, 200) -> BatchNorm1d -> tanh -> Linear(200, 27)
             (12K parameters; the lecture: train 2.058, val 2.105)
  wavenet    the previous 8 characters, embedded in 24 dimensions, fused two at a time in
             three levels, each FlattenConsecutive(2) -> Linear(2C, 128) ->
             BatchNorm1d(128, channels_last=True) -> tanh, then Linear(128, 27)
             (76,579 parameters; the lecture: train 1.769, val 1.993)

Both train with SGD, batch 32, 200,000 steps, lr 0.1 then 0.01 from step 150,000, weights
initialised as the lecture does (W ~ N(0, 1/fan_in); the output layer scaled by 0.1 so the
first loss is close to log 27 = 3.30, i.e. a uniform guess). `--layers conv` builds the
same WaveNet from nn.Conv1d(kernel 2, stride 2) and the default (N, C, L) BatchNorm1d: the
same function of its weights (tests/test_lectures_wavenet.py checks this).

What to look at: the loss curve (mean over 1,000 steps) and its drop at the lr decay; that
the hierarchical model, with more context, beats the baseline on validation; and the
sampled names, which look like names.

Run: python examples/lectures/wavenet_names.py [--quick] [--out DIR] [--steps N]
     [--models baseline,wavenet] [--layers flatten|conv] [--seed S]
(--quick: 2,000 steps per model, about 20 s.)
"""
from __future__ import annotations

import json
import math
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import functional as F  # noqa: E402
from nn import init, optim  # noqa: E402

NAMES = _common.DATA / "names.txt"  # examples/lectures/data/, MIT (see the README there)
VOCAB = 27  # "." (start/end of a name, index 0) and a..z


def load_names(path=NAMES):
    return path.read_text().splitlines()


def encode(ch: str) -> int:
    return 0 if ch == "." else ord(ch) - ord("a") + 1


def decode(ix: int) -> str:
    return "." if ix == 0 else chr(ord("a") + ix - 1)


def build_dataset(words, block_size):
    """(X, Y): for every character of every name (and the final "."), the block_size
    characters before it (left-padded with ".") and the character itself."""
    xs, ys = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = encode(ch)
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    return np.array(xs, dtype=np.int64), np.array(ys, dtype=np.int64)


def split(words, block_size, seed=42):
    """Shuffle the names with `seed` and cut 80/10/10 into train/val/test datasets."""
    words = list(words)
    np.random.default_rng(seed).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return {part: build_dataset(ws, block_size)
            for part, ws in (("train", words[:n1]), ("val", words[n1:n2]),
                             ("test", words[n2:]))}


def _lecture_init(model):
    """The lecture's initialisation: Linear weights N(0, 1/fan_in), biases 0, and the last
    layer's weight scaled by 0.1 (a less confident first guess)."""
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    with ad.no_grad():
        for m in linears:
            init.kaiming_normal_(m.weight, nonlinearity="linear")  # std = 1/sqrt(fan_in)
            if m.bias is not None:
                init.zeros_(m.bias)
        linears[-1].weight.data *= 0.1
    return model


def baseline(n_embd=10, n_hidden=200, block_size=3):
    """Bengio et al.'s MLP: embed each of the block_size characters, concatenate, one
    hidden tanh layer with BatchNorm."""
    return _lecture_init(nn.Sequential(
        nn.Embedding(VOCAB, n_embd), nn.Flatten(),
        nn.Linear(block_size * n_embd, n_hidden, bias=False), nn.BatchNorm1d(n_hidden),
        nn.Tanh(), nn.Linear(n_hidden, VOCAB)))


class ChannelsFirst(nn.Module):
    """(N, L, C) -> (N, C, L): embeddings come out channels-last, Conv1d wants channels
    first."""

    def forward(self, x):
        return x.transpose(1, 2)


def wavenet(n_embd=24, n_hidden=128, layers="flatten"):
    """The hierarchical model on 8 characters: three levels each fusing neighbours in pairs.
    layers="flatten": FlattenConsecutive(2) + Linear on (N, L, C), BatchNorm1d over the last
    axis (channels_last=True). layers="conv": Conv1d(kernel 2, stride 2) on (N, C, L) with
    PyTorch's BatchNorm1d layout; the same function (Linear weight [o, j C + c] = Conv1d
    weight [o, c, j])."""
    if layers == "flatten":
        body = []
        for fan_in in (2 * n_embd, 2 * n_hidden, 2 * n_hidden):
            body += [nn.FlattenConsecutive(2), nn.Linear(fan_in, n_hidden, bias=False),
                     nn.BatchNorm1d(n_hidden, channels_last=True), nn.Tanh()]
        return _lecture_init(nn.Sequential(nn.Embedding(VOCAB, n_embd), *body,
                                           nn.Linear(n_hidden, VOCAB)))
    if layers == "conv":
        body = [ChannelsFirst()]
        for c_in in (n_embd, n_hidden, n_hidden):
            body += [nn.Conv1d(c_in, n_hidden, 2, stride=2, bias=False),
                     nn.BatchNorm1d(n_hidden), nn.Tanh()]
        return _lecture_init(nn.Sequential(nn.Embedding(VOCAB, n_embd), *body, nn.Flatten(),
                                           nn.Linear(n_hidden, VOCAB)))
    raise ValueError(f"wavenet: layers must be 'flatten' or 'conv', got {layers!r}")


@ad.no_grad()
def evaluate(model, x, y, chunk=8192):
    """Mean cross-entropy of model (in eval mode) over all of (x, y)."""
    model.eval()
    total = 0.0
    for i in range(0, len(x), chunk):
        logits = model(ad.tensor(x[i:i + chunk]))
        total += F.cross_entropy(logits, ad.tensor(y[i:i + chunk]), reduction="sum").item()
    model.train()
    return total / len(x)


def train(model, x, y, steps, batch_size=32, lr=0.1, decay_at=0.75, seed=0, log_every=10000,
          label=""):
    """SGD on random minibatches (drawn with replacement, as the lecture does) with lr
    dropping 10x after `decay_at` of the steps. Returns per-step losses and the seconds."""
    rng = np.random.default_rng(seed)
    opt = optim.SGD(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[int(decay_at * steps)], gamma=0.1)
    losses = np.empty(steps)
    start = time.perf_counter()
    for step in range(steps):
        ix = rng.integers(0, len(x), size=batch_size)
        loss = F.cross_entropy(model(ad.tensor(x[ix])), ad.tensor(y[ix]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses[step] = loss.item()
        if step % log_every == 0 or step == steps - 1:
            print(f"  {label} step {step:7d}/{steps}: loss {losses[step]:.4f}  "
                  f"lr {opt.param_groups[0]['lr']:.3g}", flush=True)
    return losses, time.perf_counter() - start


@ad.no_grad()
def sample(model, block_size, n=20, seed=2147483647, max_len=30):
    """n names drawn one character at a time from softmax(model(context)) until ".", with
    ad.multinomial on a generator seeded with `seed` (the lecture's seed)."""
    model.eval()
    g = ad.Generator().manual_seed(seed)
    names = []
    for _ in range(n):
        context, out = [0] * block_size, []
        for _ in range(max_len):
            probs = F.softmax(model(ad.tensor([context])), dim=1)
            ix = int(ad.multinomial(probs, num_samples=1, generator=g).item())
            if ix == 0:
                break
            out.append(ix)
            context = context[1:] + [ix]
        names.append("".join(decode(ix) for ix in out))
    model.train()
    return names


MODELS = {"baseline": (baseline, 3), "wavenet": (wavenet, 8)}
LECTURE = {"baseline": (2.058, 2.105), "wavenet": (1.769, 1.993)}


def _extra(parser):
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per model (default 200,000; 2,000 with --quick)")
    parser.add_argument("--models", default="baseline,wavenet",
                        help="comma-separated: baseline, wavenet")
    parser.add_argument("--layers", choices=("flatten", "conv"), default="flatten",
                        help="build the WaveNet from FlattenConsecutive+Linear or Conv1d")
    parser.add_argument("--seed", type=int, default=42, help="data split and init seed")


def main(argv=None):
    args = _common.parse_args("wavenet_names", __doc__, argv, _extra)
    steps = args.steps or (2000 if args.quick else 200_000)
    words = load_names()
    print(f"{len(words)} names, {VOCAB} symbols, longest {max(map(len, words))}; "
          f"{steps} steps of batch 32 per model")
    results = {}
    for name in args.models.split(","):
        build, block_size = MODELS[name]
        data = split(words, block_size, seed=args.seed)
        ad.manual_seed(args.seed)
        model = build(layers=args.layers) if name == "wavenet" else build()
        n_params = model.num_parameters()
        print(f"\n{name}: context {block_size}, {n_params} parameters, "
              f"{len(data['train'][0])}/{len(data['val'][0])}/{len(data['test'][0])} "
              f"train/val/test examples")
        initial = evaluate(model, *data["val"])
        losses, seconds = train(model, *data["train"], steps=steps, seed=args.seed,
                                log_every=max(steps // 20, 1), label=name)
        final = {part: evaluate(model, *data[part]) for part in ("train", "val", "test")}
        names = sample(model, block_size)
        results[name] = dict(parameters=n_params, initial_val=initial, steps=steps,
                             seconds=seconds, steps_per_second=steps / seconds,
                             losses=losses, samples=names, **final)
        lecture_train, lecture_val = LECTURE[name]
        print(f"{name}: val loss at init {initial:.4f} (log 27 = {math.log(VOCAB):.4f})")
        print(f"{name}: train {final['train']:.4f}  val {final['val']:.4f}  "
              f"test {final['test']:.4f}   (lecture, 200,000 steps: train {lecture_train}, "
              f"val {lecture_val})")
        print(f"{name}: {seconds:.1f} s, {steps / seconds:.0f} steps/s")
        print(f"{name} samples: " + ", ".join(names))
        nn.save(model.state_dict(), args.out / f"{name}.npz")

    summary = {name: {k: v for k, v in r.items() if k != "losses"} for name, r in results.items()}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    np.savez(args.out / "losses.npz", **{name: r["losses"] for name, r in results.items()})
    _common.draw(_plot, results, args.out)
    return results


def _plot(results, out):
    fig, ax = _common.figure(width=7.5, height=4.2)
    for colour, (name, r) in zip(_common.COLOURS, results.items()):
        losses = r["losses"]
        window = 1000 if len(losses) >= 20_000 else max(len(losses) // 20, 1)
        usable = len(losses) // window * window
        means = losses[:usable].reshape(-1, window).mean(axis=1)
        steps = (np.arange(len(means)) + 0.5) * window
        ax.plot(steps, means, color=colour,
                label=f"{name} ({r['parameters']:,} params): val {r['val']:.3f}")
        ax.axhline(r["val"], color=colour, linestyle=":", linewidth=1)
    decay = int(0.75 * len(losses))
    ax.axvline(decay, color="grey", linestyle="--", linewidth=1)
    ax.text(decay, 0.97, " lr 0.1 -> 0.01", transform=ax.get_xaxis_transform(), va="top",
            fontsize=10, color="grey")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.set_title("Names language model: cross-entropy (dotted: final validation loss)")
    ax.legend(fontsize=10)
    _common.save(fig, out, "loss_curves")


if __name__ == "__main__":
    main()

"""Random number throughput and per-call overhead: autodiff's samplers against NumPy's
Generator (the bit stream they wrap) and torch.

Bulk draws show what the wrapping costs on large arrays (target: ~1x NumPy); small draws show
the per-call overhead (argument checks, the generator lock, the Tensor); the makemore loop
draws one character at a time from a 27-way distribution, the case where overhead is all.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_random.py
"""
import _common  # noqa: F401  (single-threaded set-up first)
import numpy as np

import autodiff as ad

BIG = (1000, 1000)
ROWS, CATS = 256, 1000
PROBS = np.random.default_rng(0).random((ROWS, CATS)).astype(np.float32)
CHAR_PROBS = np.random.default_rng(1).random(27).astype(np.float32)


def cases(torch):
    """(name, autodiff fn, NumPy fn, torch fn or None)."""
    g, rng = ad.Generator().manual_seed(0), np.random.default_rng(0)
    tg = torch.Generator().manual_seed(0) if torch else None
    probs, char = ad.tensor(PROBS), ad.tensor(CHAR_PROBS)
    t_probs = torch.tensor(PROBS) if torch else None
    t_char = torch.tensor(CHAR_PROBS) if torch else None
    char64 = CHAR_PROBS.astype(np.float64)
    char64 /= char64.sum()

    def numpy_multinomial():  # inverse CDF per row, by hand (no input checks)
        cdf = np.cumsum(PROBS.astype(np.float64), axis=1)
        cdf /= cdf[:, -1:]
        u = rng.random((ROWS, 8))
        return np.stack([np.searchsorted(c, v, side="right") for c, v in zip(cdf, u)])

    return [
        ("randn (1000, 1000) float32", lambda: ad.randn(*BIG, generator=g),
         lambda: rng.standard_normal(BIG, dtype=np.float32),
         torch and (lambda: torch.randn(*BIG, generator=tg))),
        ("rand (1000, 1000) float32", lambda: ad.rand(*BIG, generator=g),
         lambda: rng.random(BIG, dtype=np.float32),
         torch and (lambda: torch.rand(*BIG, generator=tg))),
        ("randperm 1,000,000", lambda: ad.randperm(1_000_000, generator=g),
         lambda: rng.permutation(1_000_000),
         torch and (lambda: torch.randperm(1_000_000, generator=tg))),
        ("multinomial 256 x 1000, 8 draws", lambda: ad.multinomial(probs, 8, True, generator=g),
         numpy_multinomial,
         torch and (lambda: torch.multinomial(t_probs, 8, True, generator=tg))),
        ("multinomial 256 x 1000, 8 w/o repl.", lambda: ad.multinomial(probs, 8, generator=g),
         None, torch and (lambda: torch.multinomial(t_probs, 8, generator=tg))),
        ("randn (8,)  [per call]", lambda: ad.randn(8, generator=g),
         lambda: rng.standard_normal(8, dtype=np.float32),
         torch and (lambda: torch.randn(8, generator=tg))),
        ("makemore: 1 of 27, x200 calls", lambda: [ad.multinomial(char, 1, True, generator=g)
                                                   for _ in range(200)],
         lambda: [rng.choice(27, p=char64) for _ in range(200)],
         torch and (lambda: [torch.multinomial(t_char, 1, True, generator=tg)
                             for _ in range(200)])),
    ]


def main():
    torch = _common.try_torch()
    print("random sampling, median wall time (ratios: autodiff / NumPy, autodiff / torch)")
    for name, fn_ad, fn_np, fn_torch in cases(torch):
        t_ad = _common.median_time(fn_ad)
        t_np = _common.median_time(fn_np) if fn_np else None
        t_torch = _common.median_time(fn_torch) if fn_torch else None
        ratios = "   ".join(f"{label} {t_ad / t:5.2f}x" for label, t in
                            (("/NumPy", t_np), ("/torch", t_torch)) if t)
        times = "  ".join(f"{label} {t * 1e3:8.3f} ms" for label, t in
                          (("autodiff", t_ad), ("numpy", t_np), ("torch", t_torch)) if t)
        print(f"  {name:<38} {times}   {ratios}")


if __name__ == "__main__":
    main()

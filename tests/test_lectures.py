"""examples/lectures: each demo's --quick run, in-process, checked against the lecture's
numbers or a closed form; run_all's page; one script through its command line."""
import importlib.util
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

LECTURES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "lectures"
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


def load(name):
    if str(LECTURES) not in sys.path:
        sys.path.insert(0, str(LECTURES))
    spec = importlib.util.spec_from_file_location(f"lecture_{name}", LECTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, tmp_path, *extra):
    return load(name).main(["--quick", "--out", str(tmp_path), *extra])


def figures(tmp_path, *names):
    if HAVE_MPL:
        for n in names:
            path = tmp_path / f"{n}.png"
            assert path.exists() and path.stat().st_size > 10_000, n


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_tensor_demo(tmp_path, capsys):
    r = run("tensor_demo", tmp_path)
    out = capsys.readouterr().out
    A = np.array([[3, 1, 4, 1], [5, 9, 2, 6], [5, 3, 5, 8], [9, 7, 9, 3], [2, 3, 8, 4],
                  [6, 2, 6, 4]])
    np.testing.assert_array_equal(r["A"], A)
    assert r["A"].dtype == np.int64 and r["v"].shape == (6,) and r["T"].shape == (4, 4, 2)
    assert r["dot"] == 4.5
    np.testing.assert_array_equal(r["Au"], A @ np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(r["AtA"], A.T @ A)
    np.testing.assert_array_equal(r["A_gt5"], A[A > 5])
    assert r["A12"] == 2
    assert r["third_float16"] == 0.333251953125 and r["third_bfloat16"] == 0.333984375
    assert abs(r["third_float32"] - 1 / 3) < 1e-8
    np.testing.assert_array_equal(r["B"][:, 3], -1.0)
    assert "dtype=int64" in out and "device = cpu" in out


def test_two_layer_linear_nn_demo(tmp_path):
    r = run("two_layer_linear_nn_demo", tmp_path)
    assert r["parameters"] == (3 * 4 + 4) + (4 * 2 + 2)
    assert r["forward_error"] < 1e-6 and r["grad_w2_error"] < 1e-5
    assert r["steps_ok"] and r["loss_after"] < r["loss_before"]
    assert r["collapse_error"] < 1e-5


def test_xor_table_and_preactivations(tmp_path):
    r = run("xor", tmp_path)
    table = r["table"]
    np.testing.assert_array_equal(table[:, :2], [[0, 0], [0, 1], [1, 0], [1, 1]])
    lecture = [[.119, .018, .183], [.881, .269, .743], [.731, .119, .743], [.993, .731, .334]]
    np.testing.assert_allclose(table[:, 2:], lecture, atol=5e-4)
    x = table[:, :2].astype(np.float64)
    h = _sigmoid(x @ np.array([[3.0, 4.0], [2.0, 3.0]]).T + np.array([-2.0, -4.0]))
    np.testing.assert_allclose(table[:, 2:4], h, rtol=1e-5)
    np.testing.assert_allclose(table[:, 4], _sigmoid(h @ np.array([5.0, -5.0]) - 2.0), rtol=1e-5)
    s0, s1, p = r["preactivations"]
    assert (s0, s1) == (1.0, -2.0)
    assert abs(p - (5 * _sigmoid(1) - 5 * _sigmoid(-2) - 2)) < 1e-6
    assert round(r["p_rounded"], 3) == 1.060
    assert r["accuracy"] == 1.0 and r["loss"] < 0.05
    figures(tmp_path, "xor_spaces")


def test_xor_command_line(tmp_path):
    """The script's CLI is the point here: python examples/lectures/xor.py --quick --out."""
    out = subprocess.run([sys.executable, str(LECTURES / "xor.py"), "--quick", "--out",
                          str(tmp_path), "--seed", "3"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[2:6]]
    assert [r[4] for r in rows] == ["0.183", "0.743", "0.743", "0.334"]
    assert [r[5] for r in rows] == ["0", "1", "1", "0"]
    assert "accuracy 100%" in out.stdout


def test_backprop_figures(tmp_path):
    r = run("backprop_figures", tmp_path)
    f = r["forward"]
    np.testing.assert_allclose(f["s"], [1, -2])
    np.testing.assert_allclose(f["h"], [0.7311, 0.1192], atol=5e-5)
    assert abs(f["p"] - 1.0593) < 5e-5 and abs(f["y"] - 0.7426) < 5e-5
    # Fig 6.2: x = (0, 1), t = 1
    h = _sigmoid(np.array([4.0 - 2.0, 3.0 - 4.0]))
    y = _sigmoid(5 * h[0] - 5 * h[1] - 2)
    delta = (y - 1) * y * (1 - y)
    assert abs(r["y"] - y) < 1e-12 and abs(r["dE_dp"] - delta) < 1e-12
    np.testing.assert_allclose(r["autodiff"], delta * h, rtol=1e-12)
    np.testing.assert_allclose(r["chain"], r["autodiff"], rtol=1e-12)
    np.testing.assert_allclose(r["numerical"], r["autodiff"], atol=1e-8)
    np.testing.assert_allclose(r["db1"], [-0.0258, 0.0484], atol=5e-5)
    np.testing.assert_allclose(r["dW1"][:, 0], 0.0)  # x0 = 0: no gradient on its weights
    assert r["worst"] < 1e-8
    for name in ("fig6_1_forward", "fig6_2_backward"):
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    # a plain E.backward() (as on the slide) leaves every gradient for the diagram
    backward = (tmp_path / "fig6_2_backward.svg").read_text()
    assert "grad ?" not in backward and backward.count("grad") >= 8


def test_activations(tmp_path):
    g = run("activations", tmp_path)
    s = _sigmoid(10.0) * (1 - _sigmoid(10.0))
    np.testing.assert_allclose(g["sigmoid"], [s, 0.25, s], rtol=1e-10)   # 4.54e-5, 0.25
    assert round(g["sigmoid"][0], 7) == 4.54e-5
    np.testing.assert_allclose(g["tanh"], [1 - np.tanh(10) ** 2, 1, 1 - np.tanh(10) ** 2],
                               rtol=1e-9)
    np.testing.assert_array_equal(g["ReLU"], [0, 0, 1])        # PyTorch: relu'(0) = 0
    np.testing.assert_allclose(g["Leaky ReLU (0.01)"], [0.01, 0.01, 1])
    np.testing.assert_allclose(g["Leaky ReLU (0.1)"], [0.1, 0.1, 1])
    np.testing.assert_allclose(g["PReLU (a = 0.25)"], [0.25, 0.25, 1])
    np.testing.assert_allclose(g["ELU"], [np.exp(-10), 1, 1], rtol=1e-9)
    np.testing.assert_allclose(g["Maxout"], [0.25, 1, 1])
    figures(tmp_path, "activations_grid", "activations_pair")


@pytest.mark.skipif(not HAVE_MPL, reason="the demo collects its statistics through viz.plots")
def test_weight_init(tmp_path):
    r = run("weight_init", tmp_path)
    std, sat = r["stds"], r["saturation"]
    collapse = std["tanh, 0.01 randn"]
    assert np.all(np.diff(collapse) < 0) and collapse[-1] < 0.1 * collapse[0]
    assert min(sat["tanh, 0.05 randn"]) > 0.3                 # saturated at +-1
    xavier = std["tanh, Xavier"]
    assert xavier[-1] > 0.2 and xavier[-1] > 5 * collapse[-1]
    relu_xavier = std["ReLU, Xavier"]
    assert np.all(np.diff(relu_xavier) < 0) and relu_xavier[-1] < 0.2 * relu_xavier[0]
    kaiming = std["ReLU, Kaiming"]
    assert max(kaiming) / min(kaiming) < 1.3                   # keeps its scale
    assert r["symmetry"] == 0.0                                # identical units stay identical
    figures(tmp_path, "init_histograms", "init_std")


def test_batch_norm_demo(tmp_path):
    r = run("batch_norm_demo", tmp_path)
    np.testing.assert_allclose(r["y"], r["y_expected"], rtol=1e-10, atol=1e-12)
    # running averages moved most of the way from (0, 1) to the true (0, 50, -300), (1, 1e2, 1e4)
    assert np.all(np.abs(r["running_mean"] - [0, 50, -300]) < [0.5, 6, 60])
    assert r["train_shift"] > 0.1 and r["eval_shift"] == 0.0 and r["eval_error"] < 1e-12
    spread = r["spread"]  # std of the batch mean = 1/sqrt(N) (2,000 batches: a few % noise)
    np.testing.assert_allclose(spread[:, 1], spread[:, 3], rtol=0.08)
    assert np.all(np.diff(spread[:, 2]) < 0)
    for term, err in r["backward_errors"].items():
        assert err < 1e-12, term
    figures(tmp_path, "small_batch_statistics", "batch_before_after")


def test_batch_norm_training(tmp_path):
    r = run("batch_norm_training", tmp_path)
    plain, bn = r["without BN"], r["with BN"]
    assert bn["accuracy"][0] > plain["accuracy"][0] + 0.2     # BN learns much faster
    assert max(abs(m) for m in bn["median"]) < 0.3             # BN keeps the input centred
    assert max(plain["median"]) - min(plain["median"]) > 0.5   # without it, it drifts
    figures(tmp_path, "bn_accuracy", "bn_percentiles")


def test_layer_norm_demo(tmp_path):
    r = run("layer_norm_demo", tmp_path)
    np.testing.assert_allclose(r["y_ln"].mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(r["y_ln"].std(1), 1, atol=1e-4)  # sqrt(var / (var + eps))
    assert r["ln_error"] < 1e-12 and r["train_eval"] == 0.0 and r["mates"] < 1e-12
    assert r["bn_single_refused"] and r["buffers"] == []
    figures(tmp_path, "ln_vs_bn")


def test_training_loop(tmp_path, capsys):
    r = run("training_loop", tmp_path)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("Train Epoch:")]
    assert lines[0].startswith("Train Epoch: 1 [0/1438 (0%)]\tLoss: ")
    first_loss = float(lines[0].rsplit(" ", 1)[1])
    assert abs(first_loss - math.log(10)) < 0.3  # the untrained net guesses ~uniformly
    assert "Test set: Average loss:" in out and len(r["history"]) == 2
    assert r["accuracy"] > 0.88 and r["loss"] < first_loss / 4


def test_skip_connections(tmp_path):
    r = run("skip_connections", tmp_path)
    v = r["variants"]
    assert v["plain"]["last"] > 2.2                    # 20 sigmoids: stuck near log 10
    assert v["sigma(s) + p"]["last"] < 0.5 * v["plain"]["last"]   # the identity skip trains
    assert v["sigma(s) + p"]["val_acc"] > 50
    if HAVE_MPL:
        flat, res = r["landscape"]["without skips"], r["landscape"]["with residual connections"]
        assert flat[[0, -1]].max() > 3 * res[[0, -1]].max()      # steeper walls without skips
        figures(tmp_path, "skip_variants", "loss_landscape_1d", "loss_landscape_2d")


def test_normalization_motivation(tmp_path):
    r = run("normalization_motivation", tmp_path)
    assert np.all(r["x0_share"] > 0.999) and np.all(r["correlation"] > 0.999)
    assert 700 < r["weight_ratio_raw"] < 1400      # ~1000x: undoes x0's scale
    assert 0.7 < r["weight_ratio_std"] < 1.4       # the same size once standardised
    assert abs(r["final_std"] - r["minimum"]) < 1e-6
    assert r["final_raw"] > 30 * r["minimum"]      # the raw problem is stuck
    figures(tmp_path, "training_curves")


def test_preprocessing(tmp_path):
    r = run("preprocessing", tmp_path)
    c = r["covariances"]
    np.testing.assert_allclose(c["whitened"], np.eye(2), atol=1e-10)       # identity
    assert abs(c["decorrelated (PCA)"][0, 1]) < 1e-10                      # diagonal
    assert c["decorrelated (PCA)"][0, 0] > c["decorrelated (PCA)"][1, 1]   # sorted variances
    np.testing.assert_allclose(np.diag(c["normalised (/ std)"]), 1, rtol=1e-10)
    np.testing.assert_allclose(c["zero-centred"], c["original data"], rtol=1e-10)
    after = r["train_after"]
    np.testing.assert_allclose(after.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(after.std(axis=(0, 2, 3)), 1, rtol=1e-5)
    assert r["share_positive"] == 1.0 and r["share_centred"] < 0.8
    np.testing.assert_allclose(r["w_centred"], [1, -1], atol=0.05)
    figures(tmp_path, "preprocessing_cloud", "preprocessing_zigzag")


def test_vanishing_gradients(tmp_path):
    r = run("vanishing_gradients", tmp_path)
    norms = r["norms"]
    sig = norms["sigmoid"]
    depth = len(sig)
    assert sig[0] / sig[-1] < 0.25 ** (depth - 1) * 10   # at the 1/4-per-layer bound
    assert np.all(np.diff(np.log(sig)) > 0)               # shrinking towards the input
    for kind in ("relu", "residual"):  # no exponential decay: > 0.6 per layer vs <= 0.25
        per_layer = (norms[kind][0] / norms[kind][-1]) ** (1 / (depth - 1))
        assert 0.6 < per_layer < 1.5, kind
    np.testing.assert_allclose(r["highway_auto"], r["highway_closed"], rtol=1e-12)
    assert r["highway_worst"] < 1e-12
    figures(tmp_path, "gradient_norms")


def test_dropout(tmp_path):
    r = run("dropout", tmp_path)
    np.testing.assert_array_equal(r["values"], [0.0, 5.0])  # 1 / (1 - 0.8) = 5
    assert abs(r["kept"] - 0.2) < 0.005 and abs(r["mean"] - 1.0) < 0.025  # 4 sigma bounds
    assert r["eval_identity"]
    std = r["mc_std"]
    assert std["outside (|x| > 4)"] > 2 * std["on the data (1 < |x| < 3)"]
    kink = r["kink"]
    assert kink["with kink"][1] == pytest.approx(0.4)
    assert kink["after 2000 steps of plain gradient descent"][1] == pytest.approx(0.4, abs=1e-6)
    assert kink["after 2000 steps of dropping a kink unit"][1] < 0.01
    figures(tmp_path, "mc_dropout", "dropout_kink")


def test_regularisation(tmp_path):
    r = run("regularisation", tmp_path)
    p = r["penalties"]
    assert r["penalised_names"] == ["1.weight"]             # the bias is not penalised
    assert p["L1"]["near_zero"] > 2 * p["L2"]["near_zero"]   # L1 is sparse, L2 is not
    for kind in ("L1", "L2"):
        assert p[kind]["mean_abs"] < p["none"]["mean_abs"], kind
    assert r["sgd_decay_diff"] < 1e-12          # weight_decay=wd == loss + wd/2 sum w^2
    assert r["adam_vs_adamw"] > 1e-3            # coupled L2 != decoupled decay
    assert r["stopped_epoch"] == r["best_epoch"] + 10          # patience 10
    assert r["best_val"] == pytest.approx(r["min_val"])     # the same run up to the stop
    assert r["final_val"] > r["best_val"] and r["final_train"] < 0.01
    aug = r["augmentation"]
    assert (aug["random shifts"]["shifted test images"]
            > aug["no augmentation"]["shifted test images"])
    (acc0, conf0), (acc1, conf1) = r["label_smoothing"][0.0], r["label_smoothing"][0.1]
    assert conf1 < conf0 and conf1 < 0.95                   # smoothing caps the confidence
    assert abs(acc1 - acc0) < 0.05                          # ... not the accuracy
    figures(tmp_path, "penalty_weights", "early_stopping")


def test_ensembles(tmp_path):
    r = run("ensembles", tmp_path)
    for label in ("full data", "bootstrap (bagging)"):
        e = r[label]
        assert len(e["members"]) == 3 and all(0.5 < a <= 1 for a in e["members"])
        assert 0.5 < e["mean"] <= 1 and 0.5 < e["vote"] <= 1
    rows = r["disagreement"]                     # (members disagreeing, images, errors, %)
    assert sum(row[1] for row in rows) == 359 and sum(row[2] for row in rows) == r["errors"]
    assert rows[0][0] == 0 and rows[0][2] == r["errors_when_agreeing"]
    for k, images, errors, pct in rows:
        assert pct == pytest.approx(100 * errors / images)
    assert 0.5 < r["tta_plain"] <= 1 and 0.5 < r["tta"] <= 1
    figures(tmp_path, "ensembles")


def test_hyperparameter_search(tmp_path):
    r = run("hyperparameter_search", tmp_path)
    assert r["log_grid_2"] == [0.001, 0.003, 0.01]               # the lecture's grids
    assert r["log_grid_3"] == [0.001, 0.002, 0.005, 0.01]
    assert r["random_best"] > r["grid_best"] + 0.1               # random tries more x values
    log_shares, uniform_shares = r["decade_shares"]["LogUniform"], r["decade_shares"]["Uniform"]
    np.testing.assert_allclose(log_shares, 1 / 3, atol=0.02)     # each decade equally likely
    np.testing.assert_allclose(uniform_shares, [0.01, 0.09, 0.9], atol=0.01)
    records = r["records"]
    assert [t["round"] for t in records].count(1) == len(records) // 2
    assert r["best"] == min(records, key=lambda t: t["metrics"]["val_loss"])
    lo, hi = r["zoomed"]                                         # round 2 zoomed in
    assert 1e-5 < lo < hi < 1.0 and hi / lo < 1e5
    figures(tmp_path, "grid_vs_random", "search_scatter")


def test_bells_and_whistles(tmp_path):
    r = run("bells_and_whistles", tmp_path)
    rows = r["rows"]                            # (name, val loss, test %, gain, decision)
    assert len(rows) == 10 and rows[0][4] == "-"
    best_val = rows[0][1]
    for name, val, acc, gain, decision in rows[1:8]:  # kept iff it lowers the val loss
        assert decision == ("kept" if val < best_val else "rejected"), name
        best_val = min(best_val, val)
        assert 0 <= acc <= 100
    kept = {name for name, *_, decision in rows[1:8] if decision == "kept"}
    assert len(kept) == len(r["config"])
    lo, hi = r["lr_range"]
    assert lo <= r["best"]["lr"] <= hi and 1e-6 <= r["best"]["weight_decay"] <= 1e-2
    assert r["best"] == min(r["records"], key=lambda t: t["metrics"]["val_loss"])["config"]
    figures(tmp_path, "bells_and_whistles")


def test_run_all_writes_the_page(tmp_path):
    run_all = load("run_all")
    assert run_all.main(["--quick", "--out", str(tmp_path), "--only",
                         "tensor_demo,layer_norm_demo"]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "tensor_demo.py" in page and "layer_norm_demo.py" in page
    assert "A.T @ A" in page                       # the printed output
    if HAVE_MPL:
        assert "<img src='layer_norm_demo/ln_vs_bn.png'" in page
    assert (tmp_path / "tensor_demo" / "output.txt").read_text().startswith("\n== creating")
    with pytest.raises(SystemExit):
        run_all.main(["--only", "no_such_demo", "--out", str(tmp_path)])


def test_every_demo_is_in_run_all_and_documents_itself():
    run_all = load("run_all")
    scripts = {p.stem for p in LECTURES.glob("*.py")} - {"run_all", "_common"}
    assert scripts == set(run_all.DEMOS)
    for name in scripts:
        doc = load(name).__doc__
        assert "lecture" in doc.lower() and f"examples/lectures/{name}.py" in doc, name
        assert "--quick" in doc, name

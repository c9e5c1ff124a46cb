"""The stability sweep's harness on a tiny grid: determinism, divergence detection, resume, the result file.

Not the science: that is the committed sweep in benchmarks/stability/."""

import dataclasses
import json
import math

import pytest

from softcap_course import stability

TINY = stability.Config(steps=6, batch=4, context=16, d_model=16, heads=2, layers=1, warmup=2, record_every=2,
                        validation_batches=1)


@pytest.fixture(scope="module")
def text():
    return stability.corpus()[0][:20_000]


def test_the_corpus_is_python_source_in_the_alphabet_and_says_where_it_came_from():
    text, source = stability.corpus()
    assert 300_000 < len(text) < 1_000_000, "a few hundred KB"
    assert set(text) <= set(stability.ALPHABET) and "def " in text and "import " in text
    assert source["characters"] == len(text) and len(source["sha256"]) == 64
    assert source["licence"] == "Python Software Foundation License" and source["modules"]


def test_a_run_is_the_same_for_the_same_seed_and_differs_for_another(text):
    first = stability.train_run(TINY, 1e-2, 0, "cap 30", "float32", text=text)
    again = stability.train_run(TINY, 1e-2, 0, "cap 30", "float32", text=text)
    other = stability.train_run(TINY, 1e-2, 1, "cap 30", "float32", text=text)
    assert first["loss"] == again["loss"] and first["validation_loss"] == again["validation_loss"]
    assert first["loss"] != other["loss"]
    assert len(first["loss"]) == len(first["max_logit"]) == len(first["log_z"]) == 4  # steps 0, 2, 4 and the last
    # Every run starts near the uniform guess over the alphabet: log(95) nats.
    assert abs(first["loss"][0] - math.log(len(stability.ALPHABET))) < 0.5


def test_the_cap_bounds_every_logit_and_the_variants_share_the_initial_weights(text):
    capped = stability.train_run(TINY, 1e-2, 0, "cap 5", "float32", text=text)
    plain = stability.train_run(TINY, 1e-2, 0, "no cap", "float32", text=text)
    assert max(capped["max_logit"]) <= 5.0
    # Same weights and batch at step 0: the first loss differs only by what the cap does to small logits
    # (c tanh(z/c) = z - z^3 / (3 c^2) + ...).
    assert 0 < abs(capped["loss"][0] - plain["loss"][0]) < 1e-2


def test_the_z_loss_adds_the_mean_squared_log_partition_function():
    import torch

    logits = torch.tensor([[[2.0, 0.0, -1.0], [5.0, 5.0, 5.0]]])
    targets = torch.tensor([[0, 2]])
    loss, cross_entropy, largest, mean_log_z = stability.output_loss(logits, targets, None, 0.5)
    log_z = [math.log(math.exp(2) + 1 + math.exp(-1)), 5 + math.log(3)]
    nll = [log_z[0] - 2.0, log_z[1] - 5.0]
    assert cross_entropy.item() == pytest.approx(sum(nll) / 2)
    assert loss.item() == pytest.approx(sum(nll) / 2 + 0.5 * (log_z[0] ** 2 + log_z[1] ** 2) / 2)
    assert largest.item() == 5.0
    assert mean_log_z.item() == pytest.approx(sum(log_z) / 2)


def test_a_rate_far_too_high_is_detected_as_divergence(text):
    run = stability.train_run(TINY, 1e3, 0, "no cap", "float32", text=text)
    assert run["diverged"] and run["validation_loss"] is None
    calm = stability.train_run(TINY, 3e-2, 0, "no cap", "float32", text=text)
    assert not calm["diverged"] and math.isfinite(calm["validation_loss"])


def test_bfloat16_autocast_runs_and_stays_near_float32(text):
    f32 = stability.train_run(TINY, 1e-3, 0, "cap 30", "float32", text=text)
    bf16 = stability.train_run(TINY, 1e-3, 0, "cap 30", "bfloat16", text=text)
    assert bf16["loss"] != f32["loss"], "autocast changed nothing"
    assert abs(bf16["loss"][0] - f32["loss"][0]) < 0.05


def test_the_sweep_writes_its_schema_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    calls = []
    real = stability.train_run

    def counted(config, lr, seed, variant, dtype, device="cpu", text=None):
        calls.append((lr, seed, variant, dtype))
        return real(config, lr, seed, variant, dtype, device=device, text=text)

    monkeypatch.setattr(stability, "train_run", counted)
    out = tmp_path / "sweep.json"
    first = stability.sweep(out, TINY, [3e-2, 1e3], [0], ["no cap"], ["float32"], workers=1, progress=False)
    assert len(calls) == 2 and len(first["runs"]) == 2
    saved = json.loads(out.read_text())
    assert saved["config"]["steps"] == 6 and saved["corpus"]["sha256"] and saved["machine"]["device"] == "cpu"
    assert {"lr", "seed", "variant", "dtype", "diverged", "diverged_at", "loss", "max_logit", "log_z",
            "validation_loss", "seconds"} <= set(saved["runs"][0])
    # Again with a second seed: only the two new runs are trained, the first two are kept.
    second = stability.sweep(out, TINY, [3e-2, 1e3], [0, 1], ["no cap"], ["float32"], workers=1, progress=False)
    assert len(calls) == 4 and {c[1] for c in calls[2:]} == {1}
    assert len(second["runs"]) == 4 and second["seeds"] == [0, 1]
    assert stability.divergence_table(second, "float32") == [["no cap", "0/2", "2/2"]]
    assert stability.largest_stable_lr(second, "float32", "no cap") == 3e-2
    # A sweep with another config does not mix its runs into this file.
    with pytest.raises(SystemExit, match="another config"):
        stability.sweep(out, stability.Config(steps=7), [1e-3], [0], ["no cap"], ["float32"], workers=1,
                        progress=False)


def test_bad_arguments_are_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        stability.main(["--lrs", "0.01", "-1"])
    assert "every learning rate must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        stability.main(["--variants", "cap 7"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_divergence_rate_interval_is_clopper_pearson():
    # 0 of n: the upper end solves (1 - p)^n = 0.025; n of n mirrors it.
    assert stability.rate_interval(0, 5) == (0.0, pytest.approx(1 - 0.025 ** (1 / 5)))
    assert stability.rate_interval(5, 5) == (pytest.approx(0.025 ** (1 / 5)), 1.0)
    # 1 of 5: the ends solve P(X >= 1) = 0.025 and P(X <= 1) = 0.025 for X ~ Binomial(5, p), found by bisection.
    def solve(equation):
        low, high = 0.0, 1.0
        for _ in range(100):
            middle = (low + high) / 2
            low, high = (middle, high) if equation(middle) > 0 else (low, middle)
        return middle

    at_most_one = lambda p: (1 - p) ** 5 + 5 * p * (1 - p) ** 4  # noqa: E731
    low, high = stability.rate_interval(1, 5)
    assert low == pytest.approx(solve(lambda p: 0.025 - (1 - (1 - p) ** 5)), abs=1e-9)
    assert high == pytest.approx(solve(lambda p: at_most_one(p) - 0.025), abs=1e-9)
    assert stability.rate_interval(4, 5) == pytest.approx((1 - high, 1 - low))


def _fake(runs):
    return {"lrs": sorted({r[2] for r in runs}), "runs": [
        {"dtype": "float32", "variant": v, "lr": lr, "seed": seed, "diverged": loss is None, "validation_loss": loss}
        for v, seed, lr, loss in runs]}


def test_the_paired_difference_pairs_runs_by_seed():
    plain = [2.0, 2.5, 3.0, 2.2]
    capped = [1.9, 2.3, 3.0, 1.9]  # differences -0.1, -0.2, 0.0, -0.3: mean -0.15, sd 0.1291
    # The capped runs are listed in another seed order: pairing must go by seed, not by position.
    result = _fake([("no cap", s, 0.1, x) for s, x in enumerate(plain)]
                   + [("cap 30", s, 0.1, capped[s]) for s in (3, 1, 0, 2)])
    mean, low, high, seeds = stability.paired_difference(result, "float32", "cap 30", "no cap", 0.1)
    half = 3.182446 * (0.05 / 3) ** 0.5 / 2  # t(0.975, 3 degrees of freedom) x sd / sqrt(4)
    assert (mean, seeds) == (pytest.approx(-0.15), 4)
    assert (low, high) == (pytest.approx(-0.15 - half, abs=1e-6), pytest.approx(-0.15 + half, abs=1e-6))
    diverged = _fake([("no cap", 0, 0.1, 2.0), ("no cap", 1, 0.1, None), ("cap 30", 0, 0.1, 2.0),
                      ("cap 30", 1, 0.1, 2.1)])
    assert stability.paired_difference(diverged, "float32", "cap 30", "no cap", 0.1) is None


def test_the_largest_stable_rate_is_the_end_of_the_first_unbroken_run_of_stable_rates():
    result = _fake([("no cap", 0, 0.01, 3.0), ("no cap", 0, 0.1, 2.0), ("no cap", 0, 1.0, None),
                    ("no cap", 0, 10.0, 2.5)])
    assert stability.largest_stable_lr(result, "float32", "no cap") == 0.1
    assert stability.largest_stable_lr(_fake([("no cap", 0, 0.01, None)]), "float32", "no cap") is None


def test_the_baselines_are_the_uniform_and_the_character_frequency_losses():
    text = "ab" * 5000  # training: the first 9 000 characters, 4 500 of each; every validation target is a or b
    found = stability.baselines(TINY, text)
    assert found["uniform"] == pytest.approx(math.log(len(stability.ALPHABET)), abs=1e-5)
    assert found["character frequencies"] == pytest.approx(-math.log(4501 / (9000 + len(stability.ALPHABET))),
                                                           abs=1e-5)


def test_a_run_is_diverged_stalled_or_learned():
    floor = {"uniform": 4.56, "character frequencies": 3.4}
    assert stability.outcome({"diverged": True, "validation_loss": None}, floor) == "diverged"
    assert stability.outcome({"diverged": False, "validation_loss": 3.41}, floor) == "stalled"
    assert stability.outcome({"diverged": False, "validation_loss": 3.4}, floor) == "stalled"
    assert stability.outcome({"diverged": False, "validation_loss": 2.3}, floor) == "learned"


def test_the_largest_learning_rate_can_ask_for_runs_that_learned():
    result = _fake([("no cap", 0, 0.01, 3.0), ("no cap", 0, 0.1, 2.0), ("no cap", 0, 1.0, 3.3)])
    floor = {"uniform": 4.56, "character frequencies": 3.1}
    assert stability.largest_stable_lr(result, "float32", "no cap") == 1.0
    assert stability.largest_stable_lr(result, "float32", "no cap",
                                       accept=lambda run: stability.outcome(run, floor) == "learned") == 0.1


def test_the_committed_sweep_holds_the_whole_grid_and_its_baselines():
    committed = json.loads(stability.DEFAULT_OUT.read_text())
    assert len(committed["lrs"]) >= 8 and len(committed["seeds"]) >= 5
    assert set(committed["variants"]) == set(stability.VARIANTS) and set(committed["dtypes"]) == set(stability.DTYPES)
    keys = {stability.run_key(run) for run in committed["runs"]}
    assert keys == {stability.run_key(run) for run in stability.grid(committed["lrs"], committed["seeds"],
                                                                     committed["variants"], committed["dtypes"])}
    assert len(keys) == len(committed["runs"])  # no run twice
    assert committed["baselines"]["character frequencies"] < committed["baselines"]["uniform"]
    assert committed["config"] == dataclasses.asdict(stability.Config())  # the page describes today's defaults

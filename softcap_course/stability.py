"""Does a final-logit softcap keep training stable? A sweep over learning rates, seeds and output variants.

    python -m softcap_course.stability            # the committed sweep (make stability)
    python -m softcap_course.stability --help     # a smaller grid, another device, another output file

A small decoder-only transformer learns to predict the next character of Python source code: fifteen modules of
the standard library of the Python that runs the sweep (their text is the PSF's, under the Python Software Foundation
License; it is read from the installation at run time, never copied into this repository). Every run trains from
the same seed-determined initial weights and batches for a fixed number of steps, at one learning rate, with one
output variant (no cap, a softcap `c * tanh(z / c)`, PaLM's z-loss, or both), in float32 or under bfloat16 autocast.
It records the loss curve, the largest |logit| and whether it diverged, and the final validation loss.

Runs are spread over processes (one thread each), shown by a progress bar, and written to the result file as they
finish: a sweep that is stopped resumes where it stopped when started again with the same grid.
"""

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import sys
import sysconfig
import time
from pathlib import Path

# Read from the running Python's standard library (PSF License); about 500 KB together.
CORPUS_MODULES = ("argparse.py", "textwrap.py", "difflib.py", "string.py", "heapq.py", "bisect.py", "fractions.py",
                  "statistics.py", "dataclasses.py", "functools.py", "pprint.py", "calendar.py", "json/decoder.py",
                  "json/encoder.py", "shlex.py")
# Printable ASCII and the newline; anything else becomes "?" (the modules are almost all ASCII).
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))
VALIDATION_FRACTION = 0.1

# Output variants: (softcap or None, z-loss coefficient).
VARIANTS = {
    "no cap": (None, 0.0),
    "cap 30": (30.0, 0.0),
    "cap 15": (15.0, 0.0),
    "cap 5": (5.0, 0.0),
    "z-loss 1e-4": (None, 1e-4),
    "cap 30 + z-loss 1e-4": (30.0, 1e-4),
}
DTYPES = ("float32", "bfloat16")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "stability" / "sweep-cpu.json"


@dataclasses.dataclass(frozen=True)
class Config:
    """What every run of a sweep shares; a result file is resumed only by a sweep with the same config."""
    steps: int = 200
    batch: int = 32
    context: int = 64
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    warmup: int = 20          # linear learning-rate warm-up, then constant: divergence comes from the rate itself
    weight_decay: float = 0.0
    record_every: int = 5     # the loss, largest |logit| and mean log Z curves keep every 5th step
    validation_batches: int = 8


def corpus():
    """(text, where it came from): the standard-library modules, concatenated, folded to ALPHABET."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    text = "".join((stdlib / name).read_text(encoding="utf-8") for name in CORPUS_MODULES)
    text = "".join(ch if ch in ALPHABET else "?" for ch in text)
    source = {"python": platform.python_version(), "modules": list(CORPUS_MODULES), "characters": len(text),
              "sha256": hashlib.sha256(text.encode()).hexdigest(), "licence": "Python Software Foundation License"}
    return text, source


# --- the model: a small GPT, readable in one sitting ------------------------------------------------------------------

def build_model(config, vocabulary):
    import torch
    from torch import nn

    class Block(nn.Module):
        """Pre-norm transformer block: causal self-attention, then a 4x MLP, each added to the residual stream."""

        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.RMSNorm(config.d_model), nn.RMSNorm(config.d_model)
            self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
            self.out = nn.Linear(config.d_model, config.d_model, bias=False)
            self.mlp = nn.Sequential(nn.Linear(config.d_model, 4 * config.d_model, bias=False), nn.GELU(),
                                     nn.Linear(4 * config.d_model, config.d_model, bias=False))

        def forward(self, x):
            batch, length, width = x.shape
            q, k, v = self.qkv(self.norm1(x)).split(width, dim=-1)
            q, k, v = (t.view(batch, length, config.heads, width // config.heads).transpose(1, 2) for t in (q, k, v))
            attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(attended.transpose(1, 2).reshape(batch, length, width))
            return x + self.mlp(self.norm2(x))

    class CharGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocabulary, config.d_model)
            self.position = nn.Embedding(config.context, config.d_model)
            self.blocks = nn.Sequential(*(Block() for _ in range(config.layers)))
            self.norm = nn.RMSNorm(config.d_model)
            # Untied output layer: nothing but the loss limits the scale of the logits it produces.
            self.head = nn.Linear(config.d_model, vocabulary, bias=False)

        def forward(self, tokens):
            x = self.embed(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))
            return self.head(self.norm(self.blocks(x)))

    return CharGPT()


def output_loss(logits, targets, cap, z_loss):
    """(training loss, cross-entropy, largest |logit|, mean log Z) of raw logits under one output variant, in float32.

    As in parameter-golf's training script, the logits are cast to float32 before the softcap; the z-loss
    (PaLM) adds z_loss * log(Z)^2 per token, which pulls log Z towards 0 and so bounds the logits' drift."""
    import torch
    import torch.nn.functional as F

    logits = logits.float()
    if cap is not None:
        logits = cap * torch.tanh(logits / cap)
    flat = logits.reshape(-1, logits.shape[-1])
    cross_entropy = F.cross_entropy(flat, targets.reshape(-1))
    log_z = torch.logsumexp(flat, dim=-1)
    loss = cross_entropy
    if z_loss:
        loss = loss + z_loss * log_z.pow(2).mean()
    return loss, cross_entropy, logits.detach().abs().max(), log_z.detach().mean()


VALIDATION_SEED = 1234  # the same validation windows for every run (and for the baselines)


def _split(text):
    """(training, validation) character indices: the validation text is the end of the corpus."""
    import torch

    encoded = torch.tensor([ALPHABET.index(ch) for ch in text], dtype=torch.long)
    split = int(len(encoded) * (1 - VALIDATION_FRACTION))
    return encoded[:split], encoded[split:]


def _windows(config, source, generator):
    """A batch of random windows of the source: (inputs, the next character of each)."""
    import torch

    starts = torch.randint(0, len(source) - config.context - 1, (config.batch,), generator=generator)
    chunk = source[starts[:, None] + torch.arange(config.context + 1)]
    return chunk[:, :-1], chunk[:, 1:]


def baselines(config, text):
    """Validation losses of two models that read no context, on the validation windows of every run: the uniform
    distribution over the alphabet (log V) and the training text's character frequencies (add-one smoothed). A run
    that ends no better than the second has learned nothing from the characters before the one it predicts."""
    import torch

    train, validation = _split(text)
    counts = torch.bincount(train, minlength=len(ALPHABET)).double() + 1
    log_frequency = (counts / counts.sum()).log()
    checks = torch.Generator().manual_seed(VALIDATION_SEED)
    values = [-log_frequency[_windows(config, validation, checks)[1]].mean().item()
              for _ in range(config.validation_batches)]
    return {"uniform": round(math.log(len(ALPHABET)), 5), "character frequencies": round(sum(values) / len(values), 5)}


def train_run(config, lr, seed, variant, dtype, device="cpu", text=None):
    """One run: returns its record (plain Python values, JSON-ready)."""
    import torch

    cap, z_loss = VARIANTS[variant]
    if text is None:
        text, _ = corpus()
    train, validation = _split(text)

    torch.manual_seed(seed)  # the initial weights: the same for every variant and learning rate of this seed
    model = build_model(config, len(ALPHABET)).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=config.weight_decay)
    batches = torch.Generator().manual_seed(seed)  # the batches: the same for every variant of this seed
    autocast = torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                              enabled=dtype == "bfloat16")

    def windows(source, generator):
        inputs, targets = _windows(config, source, generator)
        return inputs.to(device), targets.to(device)

    losses, max_logits, log_zs, diverged_at = [], [], [], None
    start = time.perf_counter()
    for step in range(config.steps):
        for group in optimiser.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / config.warmup)
        inputs, targets = windows(train, batches)
        with autocast:
            logits = model(inputs)
        loss, cross_entropy, max_logit, log_z = output_loss(logits, targets, cap, z_loss)
        if not torch.isfinite(loss):
            diverged_at = step
            break
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % config.record_every == 0 or step == config.steps - 1:
            losses.append(round(cross_entropy.item(), 5))
            max_logits.append(round(max_logit.item(), 4))
            log_zs.append(round(log_z.item(), 4))

    final_train = sum(losses[-4:]) / len(losses[-4:]) if losses else math.inf
    if diverged_at is None and final_train > losses[0]:
        diverged_at = config.steps  # finite, but it ended above where it started
    validation_loss = None
    if diverged_at is None:
        model.eval()
        checks = torch.Generator().manual_seed(VALIDATION_SEED)
        with torch.no_grad(), autocast:
            values = [output_loss(model(inputs), targets, cap, 0.0)[1].item()
                      for inputs, targets in (windows(validation, checks) for _ in range(config.validation_batches))]
        validation_loss = round(sum(values) / len(values), 5)
        if not math.isfinite(validation_loss):
            diverged_at, validation_loss = config.steps, None
    return {"lr": lr, "seed": seed, "variant": variant, "dtype": dtype,
            "diverged": diverged_at is not None, "diverged_at": diverged_at,
            "loss": losses, "max_logit": max_logits, "log_z": log_zs, "validation_loss": validation_loss,
            "seconds": round(time.perf_counter() - start, 2)}


# --- the sweep ------------------------------------------------------------------------------------------------------

def run_key(run):
    return (run["dtype"], run["variant"], float(run["lr"]), int(run["seed"]))


def grid(lrs, seeds, variants, dtypes):
    return [{"lr": lr, "seed": seed, "variant": variant, "dtype": dtype}
            for dtype in dtypes for lr in lrs for seed in seeds for variant in variants]


_TEXT = None  # the corpus, read once per process


def _worker_init():
    import torch

    global _TEXT
    torch.set_num_threads(1)  # one process per core: threads inside each would only fight over them
    _TEXT = corpus()[0]


def _run_one(job):
    config, device, run = job
    return train_run(config, run["lr"], run["seed"], run["variant"], run["dtype"], device=device, text=_TEXT)


def machine(device):
    import torch

    described = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                 "cpus": os.cpu_count(), "device": device}
    if device.startswith("cuda"):
        described["gpu"] = torch.cuda.get_device_name(torch.device(device))
    else:
        try:
            described["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                                    if line.startswith("model name"))
        except (OSError, StopIteration):
            described["cpu"] = platform.processor() or "unknown"
    return described


def _write(path, result):
    """Atomically: a sweep killed while writing keeps the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(result, indent=1) + "\n")
    partial.replace(path)


def sweep(out, config, lrs, seeds, variants, dtypes, workers=None, device="cpu", progress=True):
    """Run every (dtype, lr, seed, variant) not yet in ``out``; returns the whole result."""
    import multiprocessing

    from tqdm import tqdm

    text, source = corpus()
    out = Path(out)
    result = {"config": dataclasses.asdict(config), "corpus": source, "baselines": baselines(config, text),
              "machine": machine(device),
              "lrs": list(lrs), "seeds": list(seeds), "variants": list(variants), "dtypes": list(dtypes),
              "runs": [], "seconds": 0.0}
    earlier = json.loads(out.read_text()) if out.exists() else None
    if earlier is not None:
        if earlier.get("config") != result["config"] or earlier.get("corpus", {}).get("sha256") != source["sha256"]:
            raise SystemExit(f"error: {out} holds a sweep with another config or corpus; pass --out with another file "
                             f"(or delete it) to start a new sweep")
        result["runs"] = earlier["runs"]
        result["seconds"] = earlier.get("seconds", 0.0)
        for key in ("lrs", "seeds", "variants", "dtypes"):  # a resumed sweep may widen the grid
            merged = list(dict.fromkeys(earlier.get(key, []) + result[key]))
            result[key] = sorted(merged) if key in ("lrs", "seeds") else merged
    done = {run_key(run) for run in result["runs"]}
    todo = [run for run in grid(lrs, seeds, variants, dtypes) if run_key(run) not in done]
    if not todo:
        if earlier != result:
            _write(out, result)  # a finished sweep gains what a newer version records about it
        return result
    workers = workers or (1 if device.startswith("cuda") else os.cpu_count() or 1)
    started = time.perf_counter()
    jobs = [(config, device, run) for run in todo]
    bar = tqdm(total=len(todo), desc="stability sweep", unit="run", disable=not progress, file=sys.stderr)
    bar.write(f"{len(done)} runs already in {out}; {len(todo)} to go on {workers} process(es)") if done else None
    if workers == 1:
        _worker_init()
        finished = map(_run_one, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init)
        finished = pool.imap_unordered(_run_one, jobs)
    try:
        for run in finished:
            result["runs"].append(run)
            result["seconds"] = round(result["seconds"] + (time.perf_counter() - started), 1)
            started = time.perf_counter()
            _write(out, result)
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m softcap_course.stability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrs", type=float, nargs="+",
                        default=[round(10 ** (-2.5 + i / 2), 6) for i in range(8)],
                        help="learning rates (default: 8 log-spaced from 0.00316 to 10, half a decade apart, "
                             "far into divergence)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT",
                        help=f"output variants (default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--steps", type=int, default=Config.steps)
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when there is a GPU)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU; 1 on a GPU)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result file (default: benchmarks/stability/sweep-<cpu|gpu>.json); resumed if it exists")
    arguments = parser.parse_args(argv)
    if any(lr <= 0 for lr in arguments.lrs):
        parser.error("every learning rate must be positive")
    if arguments.steps < 1:
        parser.error("--steps must be at least 1")
    device = arguments.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    out = arguments.out or DEFAULT_OUT.with_name(f"sweep-{'gpu' if device.startswith('cuda') else 'cpu'}.json")
    config = Config(steps=arguments.steps)
    result = sweep(out, config, arguments.lrs, arguments.seeds, arguments.variants, arguments.dtypes,
                   workers=arguments.workers, device=device)
    print(summary(result))
    print(f"written to {out}")


# --- reading the result ---------------------------------------------------------------------------------------------

def runs_of(result, dtype, variant, lr):
    """The runs (one per seed) of one dtype, variant and learning rate, in seed order."""
    return sorted((r for r in result["runs"] if r["dtype"] == dtype and r["variant"] == variant and r["lr"] == lr),
                  key=lambda r: r["seed"])


def outcome(run, baselines):
    """"diverged"; "stalled" (it did not diverge, but its validation loss is no better than the character
    frequencies': it learned nothing from context); or "learned"."""
    if run["diverged"]:
        return "diverged"
    return "learned" if run["validation_loss"] < baselines["character frequencies"] else "stalled"


def _mean_and_sd(values):
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0


def rate_interval(diverged, runs, confidence=0.95):
    """Clopper-Pearson interval for a divergence rate seen as ``diverged`` of ``runs``: exact, never too narrow, which
    matters with five seeds (0 of 5 still allows a rate of about a half)."""
    from scipy.stats import beta

    tail = (1 - confidence) / 2
    low = 0.0 if diverged == 0 else float(beta.ppf(tail, diverged, runs - diverged + 1))
    high = 1.0 if diverged == runs else float(beta.ppf(1 - tail, diverged + 1, runs - diverged))
    return low, high


def paired_difference(result, dtype, variant, baseline, lr, confidence=0.95):
    """(mean, low, high, seeds) of variant's minus baseline's final validation loss at one learning rate, paired by
    seed (the same initial weights and batches), with a Student-t interval; None unless both converged on every seed
    they share (at least two)."""
    from scipy.stats import t

    ours = {r["seed"]: r for r in runs_of(result, dtype, variant, lr)}
    theirs = {r["seed"]: r for r in runs_of(result, dtype, baseline, lr)}
    seeds = sorted(ours.keys() & theirs.keys())
    if len(seeds) < 2 or any(ours[s]["diverged"] or theirs[s]["diverged"] for s in seeds):
        return None
    differences = [ours[s]["validation_loss"] - theirs[s]["validation_loss"] for s in seeds]
    mean, sd = _mean_and_sd(differences)
    half = float(t.ppf(1 - (1 - confidence) / 2, len(differences) - 1)) * sd / len(differences) ** 0.5
    return mean, mean - half, mean + half, len(seeds)


def divergence_table(result, dtype):
    """Rows (variant, fraction diverged at each learning rate) for one dtype."""
    rows = []
    for variant in result["variants"]:
        row = [variant]
        for lr in result["lrs"]:
            runs = runs_of(result, dtype, variant, lr)
            row.append(f"{sum(r['diverged'] for r in runs)}/{len(runs)}" if runs else "-")
        rows.append(row)
    return rows


def largest_stable_lr(result, dtype, variant, accept=lambda run: not run["diverged"]):
    """The largest learning rate up to which every seed of this variant was accepted (by default: did not diverge):
    that rate and every smaller one of the grid; None if the smallest rate already failed once."""
    stable = None
    for lr in sorted(result["lrs"]):
        runs = runs_of(result, dtype, variant, lr)
        if not runs or not all(accept(r) for r in runs):
            break
        stable = lr
    return stable


def best_validation(result, dtype, variant):
    """(lr, mean, standard deviation over seeds, seeds) of the learning rate with the lowest mean validation loss among
    those where no seed diverged; None if there is none."""
    best = None
    for lr in result["lrs"]:
        runs = runs_of(result, dtype, variant, lr)
        if not runs or any(r["diverged"] for r in runs):
            continue
        values = [r["validation_loss"] for r in runs]
        mean, spread = _mean_and_sd(values)
        if best is None or mean < best[1]:
            best = (lr, mean, spread, len(values))
    return best


def summary(result):
    from .tables import markdown_table

    lines = []
    for dtype in result["dtypes"]:
        if not any(r["dtype"] == dtype for r in result["runs"]):
            continue
        lines.append(f"\n{dtype}: runs that diverged, per learning rate")
        lines.append(markdown_table(["variant"] + [f"{lr:g}" for lr in result["lrs"]],
                                    divergence_table(result, dtype)).data)
        rows = []
        for variant in result["variants"]:
            best = best_validation(result, dtype, variant)
            stable = largest_stable_lr(result, dtype, variant)
            rows.append([variant, "-" if stable is None else f"{stable:g}",
                         "-" if best is None else f"{best[0]:g}",
                         "-" if best is None else f"{best[1]:.4f} ± {best[2]:.4f}"])
        lines.append(markdown_table(["variant", "largest lr with no divergence", "best lr",
                                     "validation loss there (mean ± sd over seeds)"], rows).data)
    lines.append(f"\n{len(result['runs'])} runs, {result['seconds'] / 60:.1f} minutes of sweep")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

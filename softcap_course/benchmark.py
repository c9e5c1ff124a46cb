"""Benchmark of the softcapped cross-entropy of chapter 6: time and peak memory of forward + backward.

    python -m softcap_course.benchmark --n 2048 --d 512 --v 65536 --dtype float32 --device cpu --repeats 5 \
        --out benchmarks/cpu-n2048-d512-v65536-float32

Four ways to compute ``loss = cross_entropy(cap * tanh(hidden @ weight.T / cap), targets)`` and its gradients
for ``hidden`` and ``weight`` are compared:

* ``eager``: the plain formula, differentiated by autograd (the logits are upcast to float32 for the loss,
  as parameter-golf's ``train_gpt.py`` does);
* ``compiled``: the same function under ``torch.compile`` (a failure to compile is reported in the table);
* ``function``: ``softcap_cross_entropy(hidden @ weight.T, targets, cap)``, the autograd Function of the
  graded notebook 06-softcap-gpu;
* ``chunked``: ``chunked_linear_softcap_cross_entropy(hidden, weight, targets, cap, chunk_size)`` from the same
  notebook;
* ``triton``: ``triton_softcap_cross_entropy(hidden @ weight.T, targets, cap)``, the Triton kernel of the graded
  notebook 07-softcap-triton (on a CPU through Triton's interpreter: its time is not a performance figure);
* ``torch_linear_ce``: PyTorch's own ``torch.nn.functional.linear_cross_entropy`` with its batch chunking
  (``LinearCrossEntropyOptions()``). It has no softcap: it computes the *uncapped* loss, a reference point only;
* ``liger`` and ``cce`` (on a GPU, when installed; never required by the course): Liger-Kernel's
  ``liger_fused_linear_cross_entropy(..., softcap=cap)`` and Cut Cross-Entropy's
  ``linear_cross_entropy(..., softcap=cap)``. Elsewhere they are reported as skipped.

This package never contains the graded solutions. The graded functions are therefore read, at run time, from the
notebooks: by default the instructor's solution notebooks ``solutions/06-softcap-gpu/06-softcap-gpu.ipynb`` and
``solutions/07-softcap-triton/07-softcap-triton.ipynb``; a student passes ``--notebook
notebooks/06-softcap-gpu/06-softcap-gpu.ipynb`` (or ``--triton-notebook notebooks/07-...``) to benchmark their own
answers. Their import cell and answer cells are executed, nothing else.

Each variant runs in a fresh Python process, so that one variant's memory cannot hide in another's. There, the
function is run ``--warmup`` times (``torch.compile`` compiles during warm-up), then ``--repeats`` times; the
time is the median of the repeats. ``--rounds R`` starts the variants' processes round-robin R times and pools
their repeats, so that a burst of other work on a shared machine does not fall on one variant only. Peak memory is what the repeats add on top of what the process held after
warm-up (inputs included): ``torch.cuda.max_memory_allocated`` on a GPU; on a CPU the peak resident set size
(Linux's ``VmHWM``, reset through ``/proc/self/clear_refs`` after warm-up; elsewhere ``ru_maxrss``).
On a GPU the table also gives the achieved bandwidth: one pass over the ``(N, V)`` logits in the input dtype
per forward + backward, divided by the time, as a fraction of the device's peak memory bandwidth.
"""

import argparse
import csv
import ctypes
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from softcap_course.words import tr

VARIANTS = ("eager", "compiled", "function", "chunked", "triton", "torch_linear_ce", "liger", "cce")
GPU_ONLY = ("liger", "cce")
# Triton's interpreter does about a million entries a second: past this N x V a CPU run skips the triton variant.
INTERPRETER_LIMIT = 2 ** 23
# Dense bfloat16 tensor-core FLOP/s, by a substring of torch.cuda.get_device_name (vendors' data sheets).
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12,
                   "RTX 4090": 165e12}
REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "solutions" / "06-softcap-gpu" / "06-softcap-gpu.ipynb"
DEFAULT_TRITON_NOTEBOOK = REPO / "solutions" / "07-softcap-triton" / "07-softcap-triton.ipynb"
# Peak memory bandwidth in bytes per second, by a substring of torch.cuda.get_device_name (vendors' data sheets).
PEAK_BANDWIDTH = {"H200": 4.8e12, "H100": 3.35e12, "A100": 2.0e12, "L40S": 8.64e11, "A10": 6.0e11,
                  "L4": 3.0e11, "T4": 3.2e11, "V100": 9.0e11, "RTX 4090": 1.01e12, "RTX 3090": 9.36e11}


# ---------------------------------------------------------------- the implementations


def load_implementations(notebook):
    """``softcap_cross_entropy`` and ``chunked_linear_softcap_cross_entropy`` from a notebook's answer cells."""
    from softcap_course.grading.classroom import answer_namespace

    namespace = answer_namespace(notebook)
    return namespace["softcap_cross_entropy"], namespace["chunked_linear_softcap_cross_entropy"]


class Skipped(Exception):
    """A variant that cannot run here (a GPU-only library on a CPU, or one that is not installed)."""


# Why a variant is skipped, as templates: results.json keeps the English, status_words shows it in the book's language.
NEEDS_GPU = "needs a GPU"
NOT_INSTALLED = "not installed ({})"
TOO_SLOW_TO_INTERPRET = "Triton's interpreter would take minutes per step at N x V = {}: run it at N x V <= {} on a CPU"


def make_loss(variant, cap, chunk_size, notebook, triton_notebook=DEFAULT_TRITON_NOTEBOOK, n_entries=0):
    """A function (hidden, weight, targets) -> scalar loss for one variant."""
    import torch
    import torch.nn.functional as F

    if variant == "torch_linear_ce":
        options = torch.nn.LinearCrossEntropyOptions()
        return lambda hidden, weight, targets: F.linear_cross_entropy(hidden, weight, targets, options=options).float()
    if variant in GPU_ONLY:
        if not torch.cuda.is_available():
            raise Skipped(NEEDS_GPU)
        try:
            if variant == "liger":
                from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy as fused
            else:
                from cut_cross_entropy import linear_cross_entropy as fused
        except ImportError as error:
            raise Skipped(NOT_INSTALLED.format(error.name)) from None

        def library_loss(hidden, weight, targets):
            result = fused(hidden, weight, targets, softcap=cap)
            return result[0] if isinstance(result, tuple) else result

        return library_loss
    if variant == "triton":
        from softcap_course.grading.classroom import answer_namespace

        if not torch.cuda.is_available():
            if n_entries > INTERPRETER_LIMIT:
                raise Skipped(TOO_SLOW_TO_INTERPRET.format(n_entries, INTERPRETER_LIMIT))
            os.environ["TRITON_INTERPRET"] = "1"
        triton_loss = answer_namespace(triton_notebook)["triton_softcap_cross_entropy"]
        return lambda hidden, weight, targets: triton_loss(hidden @ weight.T, targets, cap)

    def eager(hidden, weight, targets):
        return F.cross_entropy((cap * torch.tanh((hidden @ weight.T) / cap)).float(), targets)

    if variant == "eager":
        return eager
    if variant == "compiled":
        return torch.compile(eager)
    function_version, chunked_version = load_implementations(notebook)
    if variant == "function":
        return lambda hidden, weight, targets: function_version(hidden @ weight.T, targets, cap)
    if variant == "chunked":
        return lambda hidden, weight, targets: chunked_version(hidden, weight, targets, cap, chunk_size=chunk_size)
    raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")


# ---------------------------------------------------------------- one variant, in its own process


def _resident_bytes(field):
    """VmRSS / VmHWM of this process in bytes (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_resident():
    """Reset VmHWM to the current resident size (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _resident_bytes("VmHWM") is not None
    except OSError:
        return False


def _release_free_heap():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(variant, n, d, v, dtype, device, repeats, warmup, cap, chunk_size, notebook, seed=0,
            triton_notebook=DEFAULT_TRITON_NOTEBOOK):
    """Time (median seconds) and peak memory (bytes) of forward + backward of one variant, in this process."""
    import torch

    torch.manual_seed(seed)
    dtype = getattr(torch, dtype)
    device = torch.device(device)
    hidden = torch.randn(n, d, device=device).to(dtype).requires_grad_(True)
    weight = (torch.randn(v, d, device=device) / d ** 0.5).to(dtype).requires_grad_(True)
    targets = torch.randint(0, v, (n,), device=device)
    loss_fn = make_loss(variant, cap, chunk_size, notebook, triton_notebook, n_entries=n * v)
    on_gpu = device.type == "cuda"

    def step():
        hidden.grad = weight.grad = None
        loss = loss_fn(hidden, weight, targets)
        loss.backward()
        if on_gpu:
            torch.cuda.synchronize(device)
        return float(loss)

    for _ in range(warmup):
        loss_value = step()
    hidden.grad = weight.grad = None
    if on_gpu:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        method = "torch.cuda.max_memory_allocated"
    else:
        _release_free_heap()
        if _reset_peak_resident():
            baseline, method = _resident_bytes("VmRSS"), "VmHWM - VmRSS after warm-up (fresh process)"
        else:
            baseline, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss (fresh process)"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss_value = step()
        times.append(time.perf_counter() - start)
    if on_gpu:
        peak = torch.cuda.max_memory_allocated(device) - baseline
    elif method.startswith("VmHWM"):
        peak = _resident_bytes("VmHWM") - baseline
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    return {"variant": variant, "status": "ok", "time_s": statistics.median(times), "times_s": times,
            "peak_bytes": int(peak), "memory_method": method, "loss": loss_value}


def _worker(args):
    try:
        result = measure(args.worker, args.n, args.d, args.v, args.dtype, args.device, args.repeats, args.warmup,
                         args.cap, args.chunk_size, args.notebook, triton_notebook=args.triton_notebook)
    except Skipped as reason:
        result = {"variant": args.worker, "status": f"skipped: {reason}"}
    except Exception as error:  # reported in the table, not a crash of the whole benchmark
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        result = {"variant": args.worker, "status": f"failed: {type(error).__name__}: {first_line}"}
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- the whole benchmark


def machine_description(device):
    import torch

    description = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                   "cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count(),
                   "torch_threads": torch.get_num_threads()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                description["cpu"] = line.split(":", 1)[1].strip()
                break
        description["usable_cpus"] = len(os.sched_getaffinity(0))
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                description["memory_gib"] = round(int(line.split()[1]) / 2 ** 20, 1)
    except (OSError, AttributeError):
        pass
    try:
        from importlib.metadata import version

        description["triton"] = version("triton")
    except Exception:  # noqa: BLE001 (not installed)
        pass
    if str(device).startswith("cpu"):
        description["triton_mode"] = "interpreter (TRITON_INTERPRET=1)"
    if str(device).startswith("cuda") and torch.cuda.is_available():
        description["gpu"] = torch.cuda.get_device_name(torch.device(device))
        description["gpu_memory_gib"] = round(torch.cuda.get_device_properties(torch.device(device)).total_memory / 2 ** 30, 1)
    return description


def peak_bandwidth(gpu_name):
    for key, value in PEAK_BANDWIDTH.items():
        if key in gpu_name:
            return value
    return None


def run_variant(variant, args):
    command = [sys.executable, "-m", "softcap_course.benchmark", "--worker", variant]
    for name in ("n", "d", "v", "dtype", "device", "repeats", "warmup", "cap", "chunk_size", "notebook",
                 "triton_notebook"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=args.timeout)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (completed.stderr.strip().splitlines() or ["no output"])[-1][:200]
    return {"variant": variant, "status": f"failed: process exited with {completed.returncode}: {tail}"}


def merge_rounds(rounds):
    """One variant's result over several rounds: the median of every repeat, the largest peak."""
    failed = [r for r in rounds if r["status"] != "ok"]
    if failed:
        return failed[0]
    times = [t for r in rounds for t in r["times_s"]]
    return {**rounds[0], "time_s": statistics.median(times), "times_s": times,
            "peak_bytes": max(r["peak_bytes"] for r in rounds), "rounds": len(rounds)}


def add_ratios(results, element_bytes, n, v, gpu_name=None, d=None):
    eager = next((r for r in results if r["variant"] == "eager" and r["status"] == "ok"), None)
    peak_bw = peak_bandwidth(gpu_name) if gpu_name else None
    peak_flops = next((f for key, f in PEAK_BF16_FLOPS.items() if key in gpu_name), None) if gpu_name else None
    for r in results:
        if r["status"] != "ok":
            continue
        r["peak_mib"] = r["peak_bytes"] / 2 ** 20
        if eager:
            r["time_vs_eager"] = r["time_s"] / eager["time_s"]
            r["memory_vs_eager"] = r["peak_bytes"] / eager["peak_bytes"] if eager["peak_bytes"] > 0 else None
        if gpu_name:
            r["bandwidth_gb_s"] = element_bytes * n * v / r["time_s"] / 1e9
            r["bandwidth_fraction"] = r["bandwidth_gb_s"] * 1e9 / peak_bw if peak_bw else None
            if d and peak_flops and element_bytes == 2:
                # Forward and backward multiply by the projection three times: 6 N D V FLOP at the tensor cores' peak.
                r["matmul_floor_fraction"] = 6 * n * d * v / peak_flops / r["time_s"]
    return results


COLUMNS = ("variant", "status", "time_s", "time_vs_eager", "peak_mib", "memory_vs_eager", "bandwidth_gb_s",
           "bandwidth_fraction", "matmul_floor_fraction")


def format_table(results):
    def cell(value):
        if value is None:
            return ""
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    columns = [c for c in COLUMNS if any(c in r for r in results)]
    rows = [[cell(r.get(c)) for c in columns] for r in results]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def write_outputs(out, report):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report["results"])
    plot(report, out / "results.png")


def status_words(status):
    """A result's status ("ok", "skipped: needs a GPU", "failed: ...") in the book's language; results.json keeps the
    English. A skipped variant's reason is one of the templates above, filled in; a failure's error message stays as
    Python wrote it."""
    kind, _, reason = status.partition(": ")
    if not reason:
        return tr(kind)
    if kind != "failed":
        for template in (NEEDS_GPU, NOT_INSTALLED, TOO_SLOW_TO_INTERPRET):
            filled = re.fullmatch(re.escape(template).replace(r"\{\}", "(.+?)"), reason)
            if filled:
                reason = tr(template, *filled.groups())
                break
        else:
            reason = tr(reason)
    return f"{tr(kind)}: {reason}"


def plot(report, path):
    """Draw the report's times and peak memories into ``path`` (a file name or a binary file), in the book's language.
    It uses no pyplot, so it changes nothing in the caller's matplotlib (a notebook's inline figures)."""
    from matplotlib.figure import Figure

    ok = [r for r in report["results"] if r["status"] == "ok"]
    names = [r["variant"] for r in ok]
    fig = Figure(figsize=(9, 3.2), constrained_layout=True)
    ax_time, ax_mem = fig.subplots(1, 2)
    for ax, key, label in ((ax_time, "time_s", tr("forward + backward time (s)")),
                           (ax_mem, "peak_mib", tr("peak memory (MiB)"))):
        values = [r[key] for r in ok]
        colors = ["tab:gray", "tab:purple", "tab:blue", "tab:green", "tab:orange", "tab:brown", "tab:red", "tab:cyan"]
        bars = ax.bar(names, values, color=colors[:len(names)])
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ratio_key = "time_vs_eager" if key == "time_s" else "memory_vs_eager"
        for bar, r in zip(bars, ok):
            if r.get(ratio_key) is not None:
                ax.annotate(f"{r[ratio_key]:.2f}x", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=9)
        ax.set_title(label, fontsize=10)
    a = report["arguments"]
    fig.suptitle(tr("N={}, D={}, V={}, {} on {}", a["n"], a["d"], a["v"], a["dtype"],
                    report["machine"].get("gpu", report["machine"]["cpu"])), fontsize=10)
    fig.savefig(path, dpi=110, format="png")


def plot_png(report):
    """The plot of ``results.png`` as PNG bytes, drawn again from the report in the book's language (chapter 6)."""
    buffer = io.BytesIO()
    plot(report, buffer)
    return buffer.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2048, help="tokens (rows of hidden)")
    parser.add_argument("--d", type=int, default=512, help="hidden size")
    parser.add_argument("--v", type=int, default=65536, help="vocabulary size")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the variants' processes round-robin this many times and pool their repeats "
                             "(spreads the noise of a shared machine over all variants)")
    parser.add_argument("--cap", type=float, default=30.0)
    parser.add_argument("--chunk-size", type=int, default=256, help="rows per chunk of the chunked version")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    parser.add_argument("--notebook", default=str(DEFAULT_NOTEBOOK),
                        help="notebook whose answer cells define the two graded functions")
    parser.add_argument("--triton-notebook", default=str(DEFAULT_TRITON_NOTEBOOK),
                        help="notebook whose answer cells define the Triton kernel and triton_softcap_cross_entropy")
    parser.add_argument("--out", default=None, help="folder for results.csv, results.json and results.png")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per variant")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.worker:
        return _worker(args)

    from tqdm import tqdm

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}")
    machine = machine_description(args.device)
    runs = {variant: [] for variant in variants}
    progress = tqdm([(r, v) for r in range(args.rounds) for v in variants], desc="variant processes", unit="run")
    for round_index, variant in progress:
        progress.set_postfix_str(f"round {round_index + 1}/{args.rounds}: {variant}")
        runs[variant].append(run_variant(variant, args))
    results = [merge_rounds(runs[variant]) for variant in variants]
    element_bytes = {"float32": 4, "bfloat16": 2, "float16": 2}[args.dtype]
    add_ratios(results, element_bytes, args.n, args.v, machine.get("gpu"), d=args.d)
    arguments = {k: getattr(args, k) for k in ("n", "d", "v", "dtype", "device", "repeats", "warmup", "rounds", "cap",
                                               "chunk_size")}
    arguments["notebook"] = os.path.relpath(args.notebook, REPO)
    arguments["triton_notebook"] = os.path.relpath(args.triton_notebook, REPO)
    report = {"arguments": arguments, "machine": machine, "results": results,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    print(f"\nN={args.n}, D={args.d}, V={args.v}, {args.dtype} on {args.device} "
          f"({machine.get('gpu', machine['cpu'])}); median of {args.rounds} x {args.repeats} repeats, each process after "
          f"{args.warmup} warm-up")
    print(format_table(results))
    if machine.get("gpu"):
        peak_bw = peak_bandwidth(machine["gpu"])
        print(f"bandwidth: one pass over the (N, V) logits per forward + backward; device peak "
              f"{peak_bw / 1e9:.0f} GB/s" if peak_bw else "bandwidth: peak of this GPU unknown (add it to PEAK_BANDWIDTH)")
    if args.out:
        write_outputs(Path(args.out), report)
        print(f"wrote {args.out}/results.csv, results.json, results.png")
    return report


if __name__ == "__main__":
    main()

"""Scaling of chapter 8's vocabulary-parallel loss: per-process peak memory and time for 1, 2, 4, ... processes.

    python -m softcap_course.vocab_parallel_benchmark --n 2048 --v 65536 --processes 1,2,4 \
        --out benchmarks/vocab-parallel-cpu-n2048-v65536-float32

For each number of processes P, P processes join a gloo group on the loopback interface. Each rank makes its own shard
of the ``(N, V)`` float32 logits (``V / P`` columns, from a seeded generator: no process ever holds the whole tensor),
then runs forward and backward of ``vocab_parallel_softcap_cross_entropy`` ``--repeats`` times after a warm-up.
Reported per P: the median time of a step (the slowest rank's), the largest peak memory of a rank above what it held
once its shard existed (Linux's ``VmHWM`` reset through ``/proc/self/clear_refs``), both as ratios to P = 1, and the
loss (the same for every P: the run checks it). The function is read at run time from the solution notebook
``solutions/08-vocab-parallel/08-vocab-parallel.ipynb`` (``--notebook`` picks another): this package holds no solution.
A table is printed and written, with the machine, to ``results.md`` and ``results.json`` in ``--out``.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from softcap_course.benchmark import _release_free_heap, _reset_peak_resident, _resident_bytes, machine_description
from softcap_course.words import tr

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "solutions" / "08-vocab-parallel" / "08-vocab-parallel.ipynb"


def _rank(rank, world, store, notebook, n, v, cap, repeats, seed, pipe):
    import datetime

    import torch
    import torch.distributed as dist

    from softcap_course.grading.classroom import answer_namespace
    from softcap_course.distributed import shard_widths

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    function = answer_namespace(notebook)["vocab_parallel_softcap_cross_entropy"]
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))
    widths = shard_widths(v, world)
    start = sum(widths[:rank])
    # This rank's columns only, generated column block by column block so that every P sees the same logits.
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, v, (n,), generator=generator)
    columns = []
    for first in range(0, v, 4096):
        block = torch.randn(n, min(4096, v - first), generator=generator) * 4
        lo, hi = max(first, start), min(first + block.shape[1], start + widths[rank])
        if lo < hi:
            columns.append(block[:, lo - first:hi - first].clone())
        del block
    shard = torch.cat(columns, dim=1).requires_grad_(True)

    def step():
        shard.grad = None
        loss = function(shard, targets, cap, start)
        loss.backward()
        return float(loss)

    loss = step()  # warm-up
    shard.grad = None
    _release_free_heap()
    dist.barrier()
    reset = _reset_peak_resident()
    baseline = _resident_bytes("VmRSS")
    times = []
    for _ in range(repeats):
        dist.barrier()
        began = time.perf_counter()
        loss = step()
        dist.barrier()  # the step ends when the slowest rank is done
        times.append(time.perf_counter() - began)
    peak = (_resident_bytes("VmHWM") - baseline) if reset else None
    pipe.send({"rank": rank, "times": times, "peak_bytes": peak, "loss": loss, "shard_bytes": shard.numel() * 4})
    pipe.close()
    dist.destroy_process_group()


def measure(processes, notebook, n, v, cap, repeats, seed=0):
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fresh processes: no memory inherited from this one
    folder = tempfile.mkdtemp(prefix="softcap-scaling-")
    pipes, workers = [], []
    for rank in range(processes):
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(target=_rank, args=(rank, processes, os.path.join(folder, "store"), str(notebook), n,
                                                     v, cap, repeats, seed, sender))
        worker.start()
        sender.close()
        pipes.append(receiver)
        workers.append(worker)
    replies = [pipe.recv() for pipe in pipes]
    for worker in workers:
        worker.join()
    step_times = [max(r["times"][i] for r in replies) for i in range(repeats)]
    peaks = [r["peak_bytes"] for r in replies if r["peak_bytes"] is not None]
    return {"processes": processes, "time_s": statistics.median(step_times), "times_s": step_times,
            "peak_bytes_per_process": max(peaks) if peaks else None,
            "shard_bytes": max(r["shard_bytes"] for r in replies), "loss": replies[0]["loss"],
            "losses_agree": max(abs(r["loss"] - replies[0]["loss"]) for r in replies) < 1e-4}


def format_table(results, logits_bytes):
    titles = [tr("processes"), tr("time per step (s)"), tr("time / 1 process"), tr("peak per process (MiB)"),
              tr("peak / 1 process"), tr("peak / full logits"), tr("loss")]
    lines = ["| " + " | ".join(titles) + " |", "|---|---|---|---|---|---|---|"]
    first = results[0]
    for r in results:
        peak = r["peak_bytes_per_process"]
        lines.append(f"| {r['processes']} | {r['time_s']:.3f} | {r['time_s'] / first['time_s']:.2f} | "
                     f"{peak / 2**20:.1f} | {peak / first['peak_bytes_per_process']:.2f} | {peak / logits_bytes:.2f} | "
                     f"{r['loss']:.6f} |")
    return "\n".join(lines)


def header_line(arguments, machine, logits_bytes, date):
    """The line above the table: the problem, the machine, how it was timed, and the date of the run."""
    return tr("N={}, V={}, float32 logits ({:.0f} MiB), cap={}, gloo on {} ({} CPUs usable), torch {}, median of {} "
              "steps after a warm-up, {}", arguments["n"], arguments["v"], logits_bytes / 2**20, arguments["cap"],
              machine["cpu"], machine.get("usable_cpus", machine["logical_cpus"]), machine["torch"],
              arguments["repeats"], date)


def results_markdown(report, date):
    """``results.md`` for the report that ``results.json`` holds, made on ``date``, in the book's language."""
    return (header_line(report["arguments"], report["machine"], report["logits_bytes"], date) + "\n\n"
            + format_table(report["results"], report["logits_bytes"]) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--v", type=int, default=65536)
    parser.add_argument("--cap", type=float, default=30.0)
    parser.add_argument("--processes", default="1,2,4", help="comma-separated numbers of processes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--notebook", default=str(DEFAULT_NOTEBOOK))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from tqdm import tqdm

    counts = [int(p) for p in args.processes.split(",")]
    results = []
    for processes in tqdm(counts, desc="process counts", unit="run"):
        results.append(measure(processes, args.notebook, args.n, args.v, args.cap, args.repeats))
    if not all(r["losses_agree"] for r in results) or max(r["loss"] for r in results) - min(r["loss"] for r in results) > 1e-4:
        raise SystemExit(f"the ranks or the process counts disagree on the loss: {[r['loss'] for r in results]}")
    logits_bytes = args.n * args.v * 4
    machine = machine_description("cpu")
    report = {"arguments": vars(args), "machine": machine, "logits_bytes": logits_bytes, "results": results}
    date = time.strftime("%Y-%m-%d")
    print(header_line(report["arguments"], machine, logits_bytes, date))
    print(format_table(results, logits_bytes))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(results_markdown(report, date))
        (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}/results.md and results.json")
    return results


if __name__ == "__main__":
    main()

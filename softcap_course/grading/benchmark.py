"""How fast a class is graded: a synthetic class through whole grading rounds (``make grading-benchmark``).

    python -m softcap_course.grading.benchmark --students 30 --jobs 1,2 --databases sqlite,postgresql --out OUT
    python -m softcap_course.grading.benchmark --unprotected ...   # the cost of the protection: nbgrader as shipped

For each gradebook database and each number of workers it builds a fresh scratch course from this repository's
solutions (nbgrader generate_assignment), gives every student a submission (two in three complete, one in three
with the first function left blank, as in a real class), and runs ``softcap_course.grading.instructor``'s round (check,
autograde, feedback, export) with that many workers. PostgreSQL is a throw-away server (``softcap_course.grading.postgres``).
It reports submissions graded per minute of the whole round and the speed-up over one worker, and for each run the
seconds nbgrader spent per submission (median, 90th percentile, maximum per assignment). It prints the tables and
writes them as Markdown and JSON.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from softcap_course.grading import classroom, postgres
from softcap_course.grading.instructor import grading_round

TARGET_MEDIAN_SECONDS = 3.0
TARGET_SPEEDUP = 1.7  # two workers against one, on two cores
# Appended to the scratch course's config by --unprotected, to measure what the sandbox and the verification cost:
# nbgrader's own autograde pipeline, kernels on TCP with the notebook's kernel spec. Never for real grading.
UNPROTECTED = """
from nbgrader.converters import Autograde as _Autograde
c.Autograde.autograde_preprocessors = _Autograde.class_traits()["autograde_preprocessors"].default()
c.Execute.kernel_name = ""
c.KernelManager.transport = "tcp"
c.KernelManager.ip = "127.0.0.1"
"""


def synthetic_class(course, root, assignment, students):
    """student id -> notebook: complete reference answers, or every third one missing its first function."""
    solutions = classroom.solution_sources(Path(course) / "solutions" / assignment / f"{assignment}.ipynb")
    release = Path(root) / "notebooks" / assignment / f"{assignment}.ipynb"
    first = next(iter(solutions))
    return {f"student-{i:02d}": classroom.fill_release(
                release, solutions if i % 3 else {k: v for k, v in solutions.items() if k != first})
            for i in range(1, students + 1)}


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since it started (Linux's /proc/stat), or None elsewhere.

    The machine's, not this process tree's: a sandboxed kernel's time reaches no parent's rusage, and the workers of a
    round share the cores with every process of it."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _one_round(course, root, students, assignments, jobs, db_url, unprotected):
    classroom.make_course(course, root, assignments, db_url=db_url)
    if unprotected:
        with open(root / "nbgrader_config.py", "a") as config:
            config.write(UNPROTECTED)
    for assignment in assignments:
        submissions = synthetic_class(course, root, assignment, students)
        classroom.enrol(root, submissions)
        classroom.write_submissions(root, assignment, submissions)
    started, busy = time.monotonic(), busy_cpu_seconds()
    state = grading_round(root, assignments, jobs=jobs)
    wall = time.monotonic() - started
    busy = None if busy is None else busy_cpu_seconds() - busy
    rows = []
    for assignment in assignments:
        seconds = [s for (a, _), s in state.seconds.items() if a == assignment]
        rows.append({"assignment": assignment, "submissions": len(seconds),
                     "median_s": statistics.median(seconds), "p90_s": percentile(seconds, 0.9), "max_s": max(seconds),
                     "autograde_s": sum(seconds)})
    graded = len(state.seconds)
    return {"jobs": jobs, "submissions": graded, "round_wall_s": wall, "per_minute": graded / wall * 60,
            "busy_cpu_s": busy, "cores_busy": None if busy is None else busy / wall,
            "median_s_all": statistics.median(state.seconds.values()), "rows": rows,
            "ungraded": len(state.ungraded)}


def run(course=".", students=30, assignments=None, out=None, workdir=None, unprotected=False, jobs=(1,),
        databases=("sqlite",)):
    course = Path(course).resolve()
    assignments = assignments or sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    workdir = Path(workdir or tempfile.mkdtemp(prefix="grading-benchmark-"))
    runs = []
    for database in databases:
        for workers in jobs:
            root = workdir / f"{database}-{workers}"
            print(f"\n=== {database}, {workers} worker(s): scratch course in {root}, releasing {', '.join(assignments)}",
                  flush=True)
            if database == "postgresql":
                with postgres.throwaway_server() as url:
                    result = _one_round(course, root, students, assignments, workers, url, unprotected)
            else:
                result = _one_round(course, root, students, assignments, workers, None, unprotected)
            one = next((r for r in runs if r["database"] == database and r["jobs"] == 1), None)
            result.update(database=database, speedup=result["per_minute"] / one["per_minute"] if one else None)
            runs.append(result)
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpus = len(os.sched_getaffinity(0))
    result = {"cpus": cpus, "machine": f"{cpus} CPUs, {memory_gib:.1f} GiB, {platform.platform()}, "
                         f"Python {platform.python_version()}",
              "protection": "none (nbgrader as shipped)" if unprotected else "sandbox + verification outside the kernel",
              "students": students, "assignments": assignments, "runs": runs,
              "target_speedup": TARGET_SPEEDUP, "target_median_s": TARGET_MEDIAN_SECONDS}
    table = render(result)
    print("\n" + table)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text(table + "\n")
        print(f"written: {out.with_suffix('.md')}, {out.with_suffix('.json')}")
    return result


def speedup_bound(cpus, cores_busy):
    """The most that any number of workers can speed a round up by on ``cpus`` cores, when one worker keeps
    ``cores_busy`` of them busy: the same CPU work, done at most ``cpus`` cores at a time."""
    return cpus / cores_busy


def render(result):
    lines = [f"Grading a class of {result['students']} through {len(result['assignments'])} assignment(s) on "
             f"{result['machine']}", f"protection: {result['protection']}", "",
             "| gradebook | workers | submissions | whole round s | submissions per minute | vs 1 worker | cores busy |",
             "|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        speedup = f"{run['speedup']:.2f} x" if run["speedup"] is not None else "-"
        cores = f"{run['cores_busy']:.2f}" if run.get("cores_busy") is not None else "-"
        lines.append(f"| {run['database']} | {run['jobs']} | {run['submissions']} | {run['round_wall_s']:.1f} | "
                     f"{run['per_minute']:.1f} | {speedup} | {cores} |")
    speedups = [run["speedup"] for run in result["runs"] if run["jobs"] == 2 and run["speedup"] is not None]
    if speedups:
        lines += ["", f"target: 2 workers >= {result['target_speedup']:g} x one worker: "
                  f"{'met' if min(speedups) >= result['target_speedup'] else 'NOT met'} "
                  f"({', '.join(f'{s:.2f} x' for s in speedups)})"]
    bounds = [(run["database"], run["cores_busy"], speedup_bound(result.get("cpus"), run["cores_busy"]))
              for run in result["runs"] if run["jobs"] == 1 and run.get("cores_busy") and result.get("cpus")]
    if bounds:
        lines += ["", f"Cores busy: the whole machine's busy CPU seconds over the round's wall time. One worker already "
                      f"keeps {' and '.join(f'{cores:.2f} ({database})' for database, cores, _ in bounds)} of the "
                      f"{result['cpus']} cores busy (a submission's kernel and its verification run side by side), so "
                      f"for the same work no number of workers can make a round more than "
                      f"{' and '.join(f'{bound:.2f} x' for _, _, bound in bounds)} as fast on this machine."]
    lines.append("")
    lines.append("A round is check, autograde, feedback and export; a submission's seconds run from nbgrader's first line "
                 "about it to the next submission's (with several workers, each shares the cores with the others).")
    for run in result["runs"]:
        lines += ["", f"{run['database']}, {run['jobs']} worker(s): median {run['median_s_all']:.2f} s per submission",
                  "", "| assignment | submissions | median s | p90 s | max s |", "|---|---|---|---|---|"]
        for row in run["rows"]:
            lines.append(f"| {row['assignment']} | {row['submissions']} | {row['median_s']:.2f} | {row['p90_s']:.2f} | "
                         f"{row['max_s']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--assignments", nargs="*", help="default: every assignment in solutions/")
    parser.add_argument("--course", default=".", help="the course repository (default: the current folder)")
    parser.add_argument("--out", help="write the table to OUT.md and OUT.json")
    parser.add_argument("--unprotected", action="store_true",
                        help="grade without the sandbox and the verification, to measure what they cost")
    parser.add_argument("--jobs", default="1", help="numbers of workers to compare, e.g. 1,2 (default: 1)")
    parser.add_argument("--databases", default="sqlite", help="gradebooks to compare: sqlite, postgresql or both")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")
    try:
        jobs = [int(j) for j in args.jobs.split(",")]
    except ValueError:
        parser.error(f"--jobs takes whole numbers separated by commas (got {args.jobs!r})")
    if any(j < 1 for j in jobs):
        parser.error(f"--jobs: every number of workers must be at least 1 (got {args.jobs!r})")
    databases = [d.strip() for d in args.databases.split(",")]
    unknown = sorted(set(databases) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"--databases: unknown {unknown}; choose sqlite and/or postgresql")
    if "postgresql" in databases and postgres.problem():
        parser.error(f"--databases postgresql: {postgres.problem()}")
    run(args.course, args.students, args.assignments, args.out, unprotected=args.unprotected, jobs=jobs,
        databases=databases)


if __name__ == "__main__":
    main()

"""How long autograding takes: a synthetic class through one full grading round (``make grading-benchmark``).

    python -m softcap_course.grading_benchmark --students 30 [--assignments 01-softmax ...] --out benchmarks/grading
    python -m softcap_course.grading_benchmark --unprotected ...   # the cost of the protection: nbgrader as shipped

It builds a scratch course from this repository's solutions (nbgrader generate_assignment), gives every
student a submission (two in three complete, one in three with the first function left blank, as in a
real class), runs ``softcap_course.instructor``'s round (check, autograde, feedback, export) and reports the
seconds nbgrader spent per submission: median, 90th percentile and maximum per assignment, and the wall time
of the whole round. It prints a table and writes it as Markdown and JSON.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from softcap_course import classroom
from softcap_course.instructor import grading_round

TARGET_MEDIAN_SECONDS = 3.0
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


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(course=".", students=30, assignments=None, out=None, workdir=None, unprotected=False):
    course = Path(course).resolve()
    assignments = assignments or sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir())
    root = Path(workdir or tempfile.mkdtemp(prefix="grading-benchmark-"))
    print(f"scratch course in {root}: releasing {', '.join(assignments)}", flush=True)
    classroom.make_course(course, root, assignments)
    if unprotected:
        with open(root / "nbgrader_config.py", "a") as config:
            config.write(UNPROTECTED)
    for assignment in assignments:
        submissions = synthetic_class(course, root, assignment, students)
        classroom.enrol(root, submissions)
        classroom.write_submissions(root, assignment, submissions)
    started = time.monotonic()
    state = grading_round(root, assignments)
    wall = time.monotonic() - started
    rows = []
    for assignment in assignments:
        seconds = [s for (a, _), s in state.seconds.items() if a == assignment]
        rows.append({"assignment": assignment, "submissions": len(seconds),
                     "median_s": statistics.median(seconds), "p90_s": percentile(seconds, 0.9), "max_s": max(seconds),
                     "autograde_s": sum(seconds)})
    every = [s for s in state.seconds.values()]
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    result = {"machine": f"{len(os.sched_getaffinity(0))} CPUs, {memory_gib:.1f} GiB, {platform.platform()}, "
                         f"Python {platform.python_version()}",
              "protection": "none (nbgrader as shipped)" if unprotected else "sandbox + verification outside the kernel",
              "students": students, "rows": rows, "median_s_all": statistics.median(every),
              "round_wall_s": wall, "target_median_s": TARGET_MEDIAN_SECONDS,
              "target_met": all(row["median_s"] <= TARGET_MEDIAN_SECONDS for row in rows)}
    table = render(result)
    print("\n" + table)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text(table + "\n")
        print(f"written: {out.with_suffix('.md')}, {out.with_suffix('.json')}")
    return result


def render(result):
    lines = [f"Autograding a class of {result['students']} on {result['machine']}",
             f"protection: {result.get('protection', 'sandbox + verification outside the kernel')}", "",
             "| assignment | submissions | median s | p90 s | max s | autograde total s |", "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['assignment']} | {row['submissions']} | {row['median_s']:.2f} | {row['p90_s']:.2f} | "
                     f"{row['max_s']:.2f} | {row['autograde_s']:.1f} |")
    lines += ["", f"median over every submission: {result['median_s_all']:.2f} s; whole round (check, autograde, "
              f"feedback, export) {result['round_wall_s']:.1f} s; target median <= {result['target_median_s']:g} s "
              f"per assignment: {'met' if result['target_met'] else 'NOT met'}"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--assignments", nargs="*", help="default: every assignment in solutions/")
    parser.add_argument("--course", default=".", help="the course repository (default: the current folder)")
    parser.add_argument("--out", help="write the table to OUT.md and OUT.json")
    parser.add_argument("--unprotected", action="store_true",
                        help="grade without the sandbox and the verification, to measure what they cost")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")
    run(args.course, args.students, args.assignments, args.out, unprotected=args.unprotected)


if __name__ == "__main__":
    main()

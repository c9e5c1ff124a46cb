"""The grading benchmark runs (a smoke run: three students, one assignment, one worker) and reports sane numbers."""

import json

from softcap_course.grading import benchmark as grading_benchmark

import grading


def test_grading_benchmark_smoke(tmp_path):
    result = grading_benchmark.run(grading.REPO, students=3, assignments=["01-softmax"], out=tmp_path / "smoke",
                                   workdir=tmp_path / "course", jobs=(1,), databases=("sqlite",))
    (run,) = result["runs"]
    (row,) = run["rows"]
    assert run["submissions"] == row["submissions"] == 3 and run["ungraded"] == 0
    assert 0 < row["median_s"] <= row["max_s"] < 60
    assert 0 < run["per_minute"] == 3 / run["round_wall_s"] * 60
    # The machine's busy CPU over the round: something ran (nbgrader, a kernel), and never more than every core.
    assert 0 < run["cores_busy"] <= result["cpus"] + 0.05
    assert abs(run["busy_cpu_s"] - run["cores_busy"] * run["round_wall_s"]) < 1e-6
    assert json.loads((tmp_path / "smoke.json").read_text())["runs"][0]["rows"][0]["assignment"] == "01-softmax"
    table = (tmp_path / "smoke.md").read_text()
    assert "| sqlite | 1 | 3 |" in table and "| 01-softmax | 3 |" in table
    assert f"| {run['cores_busy']:.2f} |" in table.splitlines()[5] and "cores busy" in table.splitlines()[3]
    # The synthetic class is graded for real: complete submissions get full marks, every third one does not.
    scores = grading.read_scores(tmp_path / "course" / "sqlite-1", "01-softmax")
    assert scores["student-01"].total == scores["student-02"].total == scores["student-01"].max_total
    assert scores["student-03"].total < scores["student-03"].max_total


def test_the_table_says_how_fast_any_number_of_workers_could_be_at_most():
    """A worker that keeps 1.6 of 2 cores busy leaves room for 2 / 1.6 = 1.25 x, whatever the number of workers."""
    run = {"rows": [], "median_s_all": 1.0, "submissions": 10, "per_minute": 6.0}
    result = {"students": 10, "assignments": ["07-softcap-triton"], "machine": "2 CPUs", "cpus": 2, "protection": "x",
              "target_speedup": 1.7, "target_median_s": 3.0,
              "runs": [{**run, "database": "sqlite", "jobs": 1, "round_wall_s": 100.0, "busy_cpu_s": 160.0,
                        "cores_busy": 1.6, "speedup": None},
                       {**run, "database": "sqlite", "jobs": 2, "round_wall_s": 80.0, "busy_cpu_s": 156.0,
                        "cores_busy": 1.95, "speedup": 1.25}]}
    table = grading_benchmark.render(result)
    assert "| sqlite | 1 | 10 | 100.0 | 6.0 | - | 1.60 |" in table and "| sqlite | 2 | 10 | 80.0 | 6.0 | 1.25 x | 1.95 |" in table
    assert "keeps 1.60 (sqlite) of the 2 cores busy" in table and "more than 1.25 x as fast" in table
    assert "NOT met (1.25 x)" in table
    # A run measured where /proc/stat is missing has no figure: a dash, and no bound.
    for one in result["runs"]:
        one["busy_cpu_s"] = one["cores_busy"] = None
    table = grading_benchmark.render(result)
    assert "| sqlite | 1 | 10 | 100.0 | 6.0 | - | - |" in table and "as fast on this machine" not in table


def _is_subreaper():
    import ctypes

    flag = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(37, ctypes.byref(flag), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
    return bool(flag.value)


def test_rounds_in_one_process_over_sqlite_then_postgresql_leave_its_children_alone(tmp_path):
    """`make grading-benchmark` runs its rounds in its own process, SQLite first: the first round made that process a
    subreaper, so the PostgreSQL server that pg_ctl then started was its child, and the next round, which kills its
    orphans at the end, killed the server before the export ("connection refused"). A round kills only what it
    started, and gives the process back as it was."""
    import os
    import subprocess

    import pytest

    from softcap_course.grading import postgres

    if postgres.problem():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL server can start here: {postgres.problem()}")
        pytest.skip(postgres.problem())
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        assert not _is_subreaper()
        result = grading_benchmark.run(grading.REPO, students=1, assignments=["01-softmax"], out=tmp_path / "both",
                                       workdir=tmp_path / "course", jobs=(1,), databases=("sqlite", "postgresql"))
        assert [(run["database"], run["submissions"], run["ungraded"]) for run in result["runs"]] == \
            [("sqlite", 1, 0), ("postgresql", 1, 0)]
        assert bystander.poll() is None, "the round killed a child its caller had started before it"
        assert not _is_subreaper(), "the round left its caller a subreaper"
    finally:
        bystander.kill()
        bystander.wait()

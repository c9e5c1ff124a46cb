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
    assert json.loads((tmp_path / "smoke.json").read_text())["runs"][0]["rows"][0]["assignment"] == "01-softmax"
    table = (tmp_path / "smoke.md").read_text()
    assert "| sqlite | 1 | 3 |" in table and "| 01-softmax | 3 |" in table
    # The synthetic class is graded for real: complete submissions get full marks, every third one does not.
    scores = grading.read_scores(tmp_path / "course" / "sqlite-1", "01-softmax")
    assert scores["student-01"].total == scores["student-02"].total == scores["student-01"].max_total
    assert scores["student-03"].total < scores["student-03"].max_total


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

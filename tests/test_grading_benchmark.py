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

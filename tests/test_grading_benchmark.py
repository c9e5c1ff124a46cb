"""The grading benchmark runs (a smoke run: three students, one assignment) and reports sane numbers."""

import json

from softcap_course import grading_benchmark

import grading


def test_grading_benchmark_smoke(tmp_path):
    result = grading_benchmark.run(grading.REPO, students=3, assignments=["01-softmax"], out=tmp_path / "smoke",
                                   workdir=tmp_path / "course")
    (row,) = result["rows"]
    assert row["submissions"] == 3
    assert 0 < row["median_s"] <= row["max_s"] < 60
    assert json.loads((tmp_path / "smoke.json").read_text())["rows"][0]["assignment"] == "01-softmax"
    assert "| 01-softmax | 3 |" in (tmp_path / "smoke.md").read_text()
    # The synthetic class is graded for real: complete submissions get full marks, every third one does not.
    scores = grading.read_scores(tmp_path / "course", "01-softmax")
    assert scores["student-01"].total == scores["student-02"].total == scores["student-01"].max_total
    assert scores["student-03"].total < scores["student-03"].max_total

"""Chapter 6's benchmark command runs (a smoke run at a tiny size) and reports a broken variant instead of crashing."""

import json
import subprocess
import sys

import grading


def run_benchmark(out, *extra):
    command = [sys.executable, "-m", "softcap_course.benchmark", "--n", "48", "--d", "8", "--v", "256", "--device", "cpu",
               "--repeats", "2", "--chunk-size", "16", "--out", str(out), *extra]
    result = subprocess.run(command, cwd=grading.REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads((out / "results.json").read_text())


def test_benchmark_smoke_run_writes_table_csv_json_and_plot(tmp_path):
    stdout, report = run_benchmark(tmp_path, "--variants", "eager,function,chunked")
    assert "time_vs_eager" in stdout and "memory_vs_eager" in stdout
    for name in ("results.csv", "results.json", "results.png"):
        assert (tmp_path / name).stat().st_size > 0
    results = {r["variant"]: r for r in report["results"]}
    assert set(results) == {"eager", "function", "chunked"}
    assert all(r["status"] == "ok" and r["time_s"] > 0 for r in results.values()), results
    # The three compute the same loss on the same seeded inputs.
    assert abs(results["chunked"]["loss"] - results["eager"]["loss"]) < 1e-4
    assert abs(results["function"]["loss"] - results["eager"]["loss"]) < 1e-4
    assert report["machine"]["cpu"] and report["arguments"]["n"] == 48


def test_benchmark_reports_unwritten_functions_instead_of_crashing(tmp_path):
    release = grading.notebook_path("notebooks", "06-softcap-gpu")
    _, report = run_benchmark(tmp_path, "--variants", "eager,chunked", "--notebook", str(release))
    results = {r["variant"]: r for r in report["results"]}
    assert results["eager"]["status"] == "ok"
    assert results["chunked"]["status"].startswith("failed: NotImplementedError")


def test_benchmark_runs_the_triton_kernel_and_pytorchs_linear_cross_entropy(tmp_path):
    stdout, report = run_benchmark(tmp_path, "--variants", "eager,triton,torch_linear_ce,liger,cce")
    results = {r["variant"]: r for r in report["results"]}
    assert results["triton"]["status"] == "ok", results["triton"]
    # The Triton kernel (through the interpreter on a CPU) computes the same softcapped loss as eager.
    assert abs(results["triton"]["loss"] - results["eager"]["loss"]) < 1e-4
    # PyTorch's linear_cross_entropy has no softcap: its loss is the uncapped one, computed here independently.
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    hidden = torch.randn(48, 8)
    weight = torch.randn(256, 8) / 8 ** 0.5
    targets = torch.randint(0, 256, (48,))
    assert abs(results["torch_linear_ce"]["loss"] - float(F.cross_entropy(hidden @ weight.T, targets))) < 1e-4
    # Liger-Kernel and Cut Cross-Entropy need a GPU: skipped here, and said so.
    for library in ("liger", "cce"):
        assert results[library]["status"].startswith("skipped:"), results[library]
    assert report["machine"]["triton"] == "3.9.0"

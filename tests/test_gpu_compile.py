"""Chapter 7's kernels compiled for real GPUs on a machine without one (softcap_course.gpu_compile).

Triton lowers a kernel for a named target down to a cubin with the ptxas its wheel carries. The reference kernel and
every correct kernel of the mutant table must compile for an A100 (sm_80) and an H100 (sm_90) in each dtype of the
logits; the mistakes that only the compiler sees must be refused with a message that names the line and the cause.
"""

import linecache
import os

import pytest

import grading
from mutants import entries

ASSIGNMENT = "07-softcap-triton"
# The kernel contract's arguments, in order: logits, row_stride, targets, losses, n_cols, cap, grad_scale,
# ignore_index (BLOCK_SIZE is a constexpr).
SIGNATURE = ["*fp32", "i32", "*i64", "*fp32", "i32", "fp32", "fp32", "i32"]
DTYPES = ("float32", "bfloat16", "float16")


@pytest.fixture(scope="module")
def interpreted():
    """Define kernels as chapter 7's notebook does on a CPU: Triton imported in interpreter mode."""
    if os.environ.get("TRITON_INTERPRET") != "1" and "triton" not in __import__("sys").modules:
        os.environ["TRITON_INTERPRET"] = "1"
    import math

    import torch
    import triton
    import triton.language as tl

    def define(source, tag):
        namespace = {"math": math, "torch": torch, "triton": triton, "tl": tl}
        linecache.cache[tag] = (len(source), None, source.splitlines(True), tag)  # as IPython does for a cell
        exec(compile(source, tag, "exec"), namespace)
        return namespace["softcap_cross_entropy_kernel"]

    return define


def kernels(kind):
    reference = [("reference", grading.solution_sources(ASSIGNMENT)["softcap_cross_entropy_kernel"])]
    table = [(e.name, e.source) for e in entries(ASSIGNMENT) if e.target == "softcap_cross_entropy_kernel"
             and e.kind == kind and (kind == "right" or e.caught_by.endswith("_compiles"))]
    return (reference if kind == "right" else []) + table


@pytest.mark.parametrize(("name", "source"), kernels("right"), ids=[n for n, _ in kernels("right")])
def test_every_correct_kernel_compiles_for_a100_and_h100_in_each_dtype(interpreted, name, source):
    from softcap_course import gpu_compile

    compiled = gpu_compile.compile_for_gpu(interpreted(source, f"<{name}>"), SIGNATURE, {"BLOCK_SIZE": 1024},
                                           targets=("sm_80", "sm_90"), dtypes=DTYPES, dtype_argument=0)
    assert [(c.target, c.dtype) for c in compiled] == [(t, d) for t in ("sm_80", "sm_90") for d in DTYPES]
    for kernel in compiled:
        assert kernel.cubin_bytes > 1000 and ".entry softcap_cross_entropy_kernel" in kernel.ptx
        assert 0 < kernel.registers <= 255 and kernel.num_warps in (1, 2, 4, 8, 16)
        programs, warps, fraction = kernel.occupancy
        assert 1 <= programs <= 32 and warps == programs * kernel.num_warps and 0 < fraction <= 1


EXPECTED_CAUSE = {"sum_started_as_int": ("Loop-carried variable running_sum has initial type int32",
                                         "for start in range"),
                  "break_in_block_loop": ("unsupported AST node type: Break", "break"),
                  "return_in_block_loop": ("Cannot have `return` statements inside", "if start >= n_cols:")}


@pytest.mark.parametrize(("name", "source"), kernels("wrong"), ids=[n for n, _ in kernels("wrong")])
def test_what_only_the_compiler_refuses_is_refused_with_its_line_and_cause(interpreted, name, source):
    from softcap_course import gpu_compile

    kernel = interpreted(source, f"<{name}>")
    with pytest.raises(gpu_compile.CompilationRefused) as refused:
        gpu_compile.compile_for_gpu(kernel, SIGNATURE, {"BLOCK_SIZE": 1024}, targets=("sm_90",), dtypes=DTYPES,
                                    dtype_argument=0)
    cause, code = EXPECTED_CAUSE[name]
    assert cause in refused.value.message and "Traceback" not in refused.value.message
    line = int(refused.value.message.rsplit("(line ", 1)[1].split(":")[0])
    assert code in source.splitlines()[line - 1], (refused.value.message, source.splitlines()[line - 1])


def test_occupancy_follows_the_per_sm_limits():
    """By hand: 72 registers x 32 threads = 2 304 per warp (a multiple of 256); 4 warps take 9 216 of the SM's 65 536
    registers, so 7 programs fit (28 warps of 64: 43.75 %), fewer than the warp slots (16) or program slots (32)."""
    from softcap_course.gpu_compile import CompiledKernel

    kernel = CompiledKernel("sm_90", "float32", num_warps=4, num_stages=3, shared_bytes=0, registers=72,
                            spilled_bytes=0, cubin_bytes=0, ptx="", ttgir="")
    assert kernel.occupancy == (7, 28, 28 / 64) and kernel.limited_by() == "registers"
    light = CompiledKernel("sm_80", "float32", num_warps=8, num_stages=3, shared_bytes=0, registers=24,
                           spilled_bytes=0, cubin_bytes=0, ptx="", ttgir="")
    assert light.occupancy == (8, 64, 1.0) and light.limited_by() == "warp slots"


def test_the_grader_compiles_the_submitted_source_in_the_sandbox(monkeypatch):
    """The grader holds only a proxy of the student's kernel: it compiles the kernel's source read from the submitted
    cells (decorators, the jit helpers it calls, its literal constants), in the sandbox, with the grader's own
    TRITON_INTERPRET=1 left out, and names the line as the student's cell numbers it."""
    from softcap_course import gpu_compile
    from softcap_course.grading import sandbox

    if sandbox.problem():
        pytest.skip(sandbox.problem())
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    reference = grading.solution_sources(ASSIGNMENT)["softcap_cross_entropy_kernel"]
    cells = ["import os\nBLOCK = 64", "# my kernel\n\n" + reference]
    source = gpu_compile.kernel_source_from_cells(cells, "softcap_cross_entropy_kernel")
    assert source.parameters[0] == "logits_ptr" and source.def_line == 4  # the decorator is line 3 of its cell
    compiled = gpu_compile.compile_for_gpu(source, SIGNATURE, {"BLOCK_SIZE": 1024}, targets=("sm_90",),
                                           dtypes=("bfloat16",), dtype_argument=0, sandboxed=True)
    assert compiled[0].registers > 0
    broken = gpu_compile.kernel_source_from_cells(["# my kernel\n\n" + reference.replace("running_sum = 0.0",
                                                                                          "running_sum = 0")],
                                                  "softcap_cross_entropy_kernel")
    with pytest.raises(gpu_compile.CompilationRefused) as refused:
        gpu_compile.compile_for_gpu(broken, SIGNATURE, {"BLOCK_SIZE": 1024}, targets=("sm_90",), sandboxed=True)
    line = int(refused.value.message.rsplit("(line ", 1)[1].split(":")[0])
    assert "for start in range" in ("# my kernel\n\n" + reference).splitlines()[line - 1]

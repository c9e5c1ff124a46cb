"""Compile a Triton kernel for real GPUs on a machine that has none.

Triton's interpreter (``TRITON_INTERPRET=1``) runs a kernel on the CPU, but it accepts programs that the GPU compiler
refuses (a ``break`` in a loop, a ``return`` inside a ``for``, an accumulator that starts as an int and becomes a
float) and it says nothing about what the compiler makes of a kernel. Triton can still lower a kernel for a named
GPU without one: ``triton.compile`` with a ``GPUTarget`` goes down to PTX and, through the ``ptxas`` its wheel
carries, to a cubin. ``compile_for_gpu`` does that for each target and dtype and reports what the compiler reports.

A process that imported Triton in interpreter mode cannot compile (Triton's own library functions are then
interpreted ones), so the compilation runs in a child Python process without ``TRITON_INTERPRET``, given the
kernel's source and the small helpers and constants it uses.
"""

import dataclasses
import inspect
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import types

# Compute capability (major * 10 + minor) of the GPUs the course names, and the per-SM limits that decide occupancy
# (NVIDIA's CUDA C++ Programming Guide, "Technical Specifications per Compute Capability"; 8.0 and 9.0 agree on all
# but shared memory).
TARGETS = {"sm_80": 80, "sm_90": 90}
GPU_NAMES = {"sm_80": "A100", "sm_90": "H100"}
SM_LIMITS = {
    "sm_80": {"registers": 65536, "warps": 64, "blocks": 32, "shared_bytes": 164 * 1024},
    "sm_90": {"registers": 65536, "warps": 64, "blocks": 32, "shared_bytes": 228 * 1024},
}
REGISTER_ALLOCATION_UNIT = 256  # registers are given to a warp in multiples of 256
DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


class CompilationRefused(Exception):
    """The GPU compiler refused the kernel: ``message`` is what a student needs (the line and the cause)."""

    def __init__(self, target, dtype, message):
        super().__init__(f"the {target} compiler refused the kernel ({dtype}): {message}")
        self.target, self.dtype, self.message = target, dtype, message


@dataclasses.dataclass
class CompiledKernel:
    """What the compiler made of one kernel for one target and dtype."""

    target: str
    dtype: str
    num_warps: int
    num_stages: int
    shared_bytes: int  # shared memory per program, as the compiler reports it
    registers: int  # registers per thread (from the cubin's resource usage)
    spilled_bytes: int  # local memory per thread: registers spilled by ptxas
    cubin_bytes: int
    ptx: str
    ttgir: str

    @property
    def occupancy(self):
        """(programs resident on one SM, warps resident, fraction of the SM's warp slots), from the per-SM limits."""
        limits = SM_LIMITS[self.target]
        per_warp = math.ceil(self.registers * 32 / REGISTER_ALLOCATION_UNIT) * REGISTER_ALLOCATION_UNIT
        by_registers = limits["registers"] // max(1, per_warp * self.num_warps)
        by_warps = limits["warps"] // self.num_warps
        by_shared = limits["shared_bytes"] // self.shared_bytes if self.shared_bytes else limits["blocks"]
        programs = min(by_registers, by_warps, by_shared, limits["blocks"])
        return programs, programs * self.num_warps, programs * self.num_warps / limits["warps"]

    def limited_by(self):
        """Which per-SM resource stops more programs from being resident."""
        limits = SM_LIMITS[self.target]
        per_warp = math.ceil(self.registers * 32 / REGISTER_ALLOCATION_UNIT) * REGISTER_ALLOCATION_UNIT
        counts = {"registers": limits["registers"] // max(1, per_warp * self.num_warps),
                  "warp slots": limits["warps"] // self.num_warps,
                  "shared memory": limits["shared_bytes"] // self.shared_bytes if self.shared_bytes else 10**9,
                  "programs per SM": limits["blocks"]}
        return min(counts, key=counts.get)


@dataclasses.dataclass
class KernelSource:
    """A kernel as text: the module that defines it (with the @triton.jit helpers it calls and its constants), its
    name, the line of its ``def`` in the student's cell, and its parameters in order."""

    source: str
    name: str
    def_line: int
    parameters: list


_HEADER = ["import math", "import triton", "import triton.language as tl", ""]


def kernel_source(kernel):
    """The ``KernelSource`` of a live @triton.jit kernel (compiled or interpreted), from its function's source."""
    function = getattr(kernel, "fn", kernel)
    seen, parts, constants = set(), [], {}

    def visit(fn):
        if fn.__name__ in seen:
            return
        seen.add(fn.__name__)
        for name in fn.__code__.co_names:
            value = fn.__globals__.get(name)
            inner = getattr(value, "fn", None)
            if isinstance(inner, types.FunctionType) and hasattr(value, "fn"):
                visit(inner)
            elif isinstance(value, (bool, int, float)) and not isinstance(value, type):
                constants[name] = value
        parts.append(textwrap.dedent(inspect.getsource(fn)))

    visit(function)
    lines, first = inspect.getsourcelines(function)
    def_line = first + next((i for i, line in enumerate(lines) if line.lstrip().startswith("def ")), 0)
    header = _HEADER + [f"{name} = {value!r}" for name, value in sorted(constants.items())]
    return KernelSource("\n".join(header) + "\n\n" + "\n\n".join(parts), function.__name__, def_line,
                        list(inspect.signature(function).parameters))


def kernel_source_from_cells(cells, name):
    """The ``KernelSource`` of the kernel ``name`` defined in one of ``cells`` (source texts), read without running
    them: its ``def`` with decorators, the decorated functions it calls, and constants assigned a literal."""
    import ast

    definitions, constants = {}, {}
    for cell in cells:
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                start = min(d.lineno for d in node.decorator_list)
                text = "\n".join(cell.splitlines()[start - 1:node.end_lineno])
                definitions[node.name] = (text, node.lineno, [a.arg for a in node.args.args], node)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                if isinstance(value, (bool, int, float)):
                    constants[node.targets[0].id] = value
    if name not in definitions:
        raise CompilationRefused("sm_90", "float32", f"no decorated function {name} in the answer cells")
    seen, parts, used = [], [], set()

    def visit(function_name):
        if function_name in seen:
            return
        seen.append(function_name)
        text, _, _, node = definitions[function_name]
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name):
                used.add(inner.id)
                if inner.id in definitions and inner.id != function_name:
                    visit(inner.id)
        parts.append(text)

    visit(name)
    header = _HEADER + [f"{key} = {value!r}" for key, value in sorted(constants.items()) if key in used]
    _, def_line, parameters, _ = definitions[name]
    return KernelSource("\n".join(header) + "\n\n" + "\n\n".join(parts), name, def_line, parameters)


# The child process: compile the kernel in `source` for every (target, dtype) asked, print one JSON line.
_CHILD = r"""
import json, os, re, subprocess, sys, tempfile, traceback
spec = json.loads(sys.stdin.read())
sys.path.insert(0, spec["folder"])
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
module = __import__("kernel_source")
kernel = getattr(module, spec["name"])
tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
results = []
for target, capability, dtype, signature in spec["jobs"]:
    try:
        compiled = triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=spec["constexprs"]),
                                  target=GPUTarget("cuda", capability, 32))
    except Exception as error:
        results.append({"target": target, "dtype": dtype, "error": f"{type(error).__name__}: {error}"})
        continue
    path = os.path.join(spec["folder"], f"{target}-{dtype}.cubin")
    with open(path, "wb") as handle:
        handle.write(compiled.asm["cubin"])
    usage = subprocess.run([tool, "--dump-resource-usage", path], capture_output=True, text=True).stdout
    registers = re.search(r"REG:(\d+)", usage)
    local = re.search(r"LOCAL:(\d+)", usage)
    results.append({"target": target, "dtype": dtype, "num_warps": compiled.metadata.num_warps,
                    "num_stages": compiled.metadata.num_stages, "shared_bytes": compiled.metadata.shared,
                    "registers": int(registers.group(1)) if registers else -1,
                    "spilled_bytes": int(local.group(1)) if local else -1,
                    "cubin_bytes": len(compiled.asm["cubin"]), "ptx": compiled.asm["ptx"],
                    "ttgir": compiled.asm["ttgir"]})
print(json.dumps(results))
"""


def student_message(error, def_line=1):
    """The compiler's error cut to what a student needs, the cause and the line, without Triton's own frames.

    Triton numbers lines from the kernel's ``def`` (line 1); ``def_line`` is where that ``def`` stands in the cell
    or file, so the message gives the line as the student's editor numbers it.
    """
    text = str(error)
    causes = [line.strip() for line in text.splitlines() if line.strip()]
    cause = causes[-1] if causes else text
    cause = re.sub(r"^\w+(Error|Exception): ", "", cause)
    wrapped = re.match(r"^\w+\((['\"])(.*)\1\)$", cause)  # AssertionError('Loop-carried variable ...')
    cause = wrapped.group(2) if wrapped else cause
    where = re.search(r"at (\d+):(\d+):\n(.*?)\n\s*\^", text, flags=re.S)
    if where:
        code = where.group(3).strip().splitlines()[-1].strip()
        return f"{cause} (line {def_line + int(where.group(1)) - 1}: {code})"
    return cause[:400]


def compile_for_gpu(kernel, signature, constexprs, targets=("sm_80", "sm_90"), dtypes=("float32",),
                    dtype_argument=None, timeout=300, sandboxed=False):
    """Compile ``kernel`` for each target in ``targets`` (keys of ``TARGETS``) and each dtype in ``dtypes``.

    ``signature`` maps every argument to a Triton type ("*fp32", "i64", "fp32", "constexpr"), or lists the types of
    the non-constexpr parameters in order (a student names them as they like); the pointer arguments named in
    ``dtype_argument`` (a name, several, or a position in that list) take each dtype in turn. ``constexprs`` gives the values of the
    ``constexpr`` arguments. ``kernel`` is a @triton.jit kernel or a ``KernelSource``; ``sandboxed`` compiles in the
    grading sandbox (for a student's source read by the grader). Returns a list of ``CompiledKernel``; raises ``CompilationRefused`` with the compiler's
    message, cut to the line and the cause, for the first (target, dtype) it refuses.
    """
    text = kernel if isinstance(kernel, KernelSource) else kernel_source(kernel)
    source, name, def_line = text.source, text.name, text.def_line
    if isinstance(signature, (list, tuple)):  # types in the order of the kernel's parameters, whatever their names
        parameters = [p for p in text.parameters if p not in constexprs]
        if len(parameters) != len(signature):
            raise CompilationRefused(targets[0], dtypes[0], f"{name} takes {len(parameters)} arguments besides "
                                     f"{', '.join(constexprs) or 'its constexprs'}; the launch passes {len(signature)}")
        signature = {**dict(zip(parameters, signature)), **{key: "constexpr" for key in constexprs}}
        if isinstance(dtype_argument, int):
            dtype_argument = parameters[dtype_argument]
    names = (dtype_argument,) if isinstance(dtype_argument, str) else tuple(dtype_argument or ())
    jobs = []
    for target in targets:
        for dtype in dtypes:
            typed = dict(signature)
            for argument in names:
                typed[argument] = "*" + DTYPES[dtype]
            jobs.append((target, TARGETS[target], dtype, typed))
    with tempfile.TemporaryDirectory(prefix="softcap-compile-") as folder:
        with open(os.path.join(folder, "kernel_source.py"), "w") as handle:
            handle.write(source)
        environment = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
        environment.update(TRITON_CACHE_DIR=os.path.join(folder, "cache"), TRITON_DEFAULT_FP_FUSION="1",
                           TRITON_HOME=folder, TRITON_INTERPRET="0")
        spec = {"folder": folder, "name": name, "constexprs": constexprs, "jobs": jobs}
        argv = [sys.executable, "-c", _CHILD]
        if sandboxed:  # a student's source, compiled by the grader: importing it runs its decorators and defaults
            from softcap_course.grading import sandbox

            passed = {key: environment[key] for key in ("TRITON_CACHE_DIR", "TRITON_DEFAULT_FP_FUSION", "TRITON_HOME",
                                                        "TRITON_INTERPRET")}
            argv = sandbox.command(argv, scratch=folder, cwd=folder, environment=passed)
        result = subprocess.run(argv, input=json.dumps(spec), capture_output=True, text=True, timeout=timeout,
                                env=environment, cwd=folder)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise CompilationRefused(targets[0], dtypes[0], student_message(lines[-1] if lines else "no output"))
    compiled = []
    for entry in json.loads(result.stdout.strip().splitlines()[-1]):
        if "error" in entry:
            raise CompilationRefused(entry["target"], entry["dtype"], student_message(entry["error"], def_line))
        compiled.append(CompiledKernel(**entry))
    return compiled

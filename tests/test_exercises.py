"""The book's in-browser exercises (softcap_course/exercises.py), checked in CPython: the same file runs in Pyodide.

For every exercise: the stub fails and says it is not written yet; several correct answers, written the way
different readers would (other formulas, other library calls), pass; named wrong answers fail on the call meant
to catch them, with the hint chosen for that mistake. The scalar autograd Value is checked against exact
derivatives and finite differences. The Spanish edition: the same runs give the same verdicts in Spanish, and
every English text the module can show has its Spanish translation.
"""

import ast
import html
import math
import string
from pathlib import Path

import pytest

from softcap_course import exercises
from softcap_course.autograd import Value
from softcap_course.exercises import EXERCISES, exercise_stub, exercise_title, run_exercise

STABLE_SOFTMAX = """
import math
def softmax(logits):
    m = max(logits)
    exps = [math.exp(z - m) for z in logits]
    total = sum(exps)
    return [e / total for e in exps]
"""
LOGSUMEXP = """
import math
def logsumexp(logits):
    m = max(logits)
    return m + math.log(sum(math.exp(z - m) for z in logits))
"""

# exercise -> correct answers, each a different way to write it.
CORRECT = {
    "softmax": [STABLE_SOFTMAX, """
import math
def softmax(logits):
    # via log-sum-exp: p_i = exp(z_i - lse)
    m = max(logits)
    lse = m + math.log(math.fsum(math.exp(z - m) for z in logits))
    return [math.exp(z - lse) for z in logits]
""", """
from math import exp
def softmax(logits):
    shift = sorted(logits)[-1]
    out = []
    for z in logits:
        out.append(exp(z - shift))
    s = 0.0
    for e in out:
        s += e
    return tuple(e / s for e in out)
"""],
    "softmax_ratio": ["""
import math
def probability_ratio(logits, i, j):
    return math.exp(logits[i] - logits[j])
""", """
import math
def probability_ratio(logits, i, j):
    m = max(logits)
    return math.exp(logits[i] - m) / math.exp(logits[j] - m)
"""],
    "logsumexp": [LOGSUMEXP, """
import math
def logsumexp(logits):
    # pairwise: log(e^a + e^b) = max + log1p(exp(-|a - b|))
    acc = logits[0]
    for z in logits[1:]:
        hi, lo = max(acc, z), min(acc, z)
        acc = hi + math.log1p(math.exp(lo - hi))
    return acc
"""],
    "log_softmax": [LOGSUMEXP + """
def log_softmax(logits):
    lse = logsumexp(logits)
    return [z - lse for z in logits]
""", """
import math
def log_softmax(logits):
    m = max(logits)
    shifted = [z - m for z in logits]
    log_total = math.log(math.fsum(math.exp(s) for s in shifted))
    return [s - log_total for s in shifted]
"""],
    "cross_entropy": [LOGSUMEXP + """
def cross_entropy(logits, target):
    return logsumexp(logits) - logits[target]
""", """
import math
def cross_entropy(logits, target):
    m = max(logits)
    return -((logits[target] - m) - math.log(sum(math.exp(z - m) for z in logits)))
"""],
    "value_softmax": ["""
def softmax(logits):
    m = max(v.data for v in logits)
    exps = [(v - m).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]

def log_softmax(logits):
    m = max(v.data for v in logits)
    total = sum((v - m).exp() for v in logits)
    return [v - m - total.log() for v in logits]
""", """
def softmax(logits):
    top = max(logits)          # a Value: the shift is then part of the graph, and harmless
    exps = [(z - top).exp() for z in logits]
    s = exps[0]
    for e in exps[1:]:
        s = s + e
    return [e * s ** -1 for e in exps]

def log_softmax(logits):
    return [p.log() for p in softmax(logits)]
"""],
    "softmax_temperature": ["""
import math
def softmax_with_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    m = max(logits)
    scaled = [(z - m) / temperature for z in logits]   # shift, then divide: every entry <= 0
    exps = [math.exp(s) for s in scaled]
    total = math.fsum(exps)
    return [e / total for e in exps]
""", """
import math
def softmax_with_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature")
    m = max(logits)
    exps = [math.exp((z - m) / temperature) for z in logits]
    return [e / sum(exps) for e in exps]
""", """
import math
def softmax_with_temperature(logits, temperature):
    # via the log-sum-exp of the shifted, tempered logits: p_i = exp(s_i - lse)
    if not (temperature > 0):
        raise ValueError("T must be > 0")
    top = max(logits)
    s = [(z - top) / temperature for z in logits]
    lse = math.log(sum(math.exp(v) for v in s))
    return [math.exp(v - lse) for v in s]
"""],
    "entropy": ["""
import math
def entropy_from_logits(logits, temperature):
    m = max(logits)
    s = [(z - m) / temperature for z in logits]
    total = math.fsum(math.exp(v) for v in s)
    p = [math.exp(v) / total for v in s]
    return math.log(total) - math.fsum(pi * si for pi, si in zip(p, s) if pi > 0)
""", """
import math
def entropy_from_logits(logits, temperature):
    # -sum p_i log p_i with log p_i = s_i - lse (a log-softmax), never log(p)
    z = [v / temperature for v in logits]
    m = max(z)
    lse = m + math.log(sum(math.exp(v - m) for v in z))
    h = 0.0
    for v in z:
        log_p = v - lse
        if log_p > -math.inf and math.exp(log_p) > 0:
            h -= math.exp(log_p) * log_p
    return h
""", """
from math import exp, log
def entropy_from_logits(logits, temperature):
    top = max(logits)
    shifted = [(z - top) / temperature for z in logits]
    weights = [exp(s) for s in shifted]
    total = sum(weights)
    mean_shift = sum(w * s for w, s in zip(weights, shifted) if w) / total
    return log(total) - mean_shift
"""],
    "softcap": ["""
import math
def softcap(x, cap=30.0):
    return cap * math.tanh(x / cap)
""", """
import math
def softcap(x, cap=30.0):
    # tanh via exp of a non-positive number: no overflow
    u = abs(x) / cap
    e = math.exp(-2 * u)
    t = (1 - e) / (1 + e)
    return math.copysign(cap * t, x)
"""],
    "softcap_slope": ["""
import math
def softcap_slope(x, cap=30.0):
    return 1 - math.tanh(x / cap) ** 2
""", """
import math
def softcap_slope(x, cap=30.0):
    c = math.cosh(min(abs(x) / cap, 350.0))
    return 1.0 / (c * c)
"""],
    "softcapped_cross_entropy": ["""
import math
def softcapped_cross_entropy(logits, target, cap=30.0):
    c = [cap * math.tanh(z / cap) for z in logits]
    m = max(c)
    return m + math.log(sum(math.exp(v - m) for v in c)) - c[target]
""", """
import math
def softcapped_cross_entropy(logits, target, cap=30.0):
    # the capped logits lie in [-cap, cap]: for cap = 30 no exp can overflow, but shift anyway for any cap
    c = [cap * math.tanh(z / cap) for z in logits]
    m = max(c)
    return -math.log(math.exp(c[target] - m) / math.fsum(math.exp(v - m) for v in c))
"""],
}

# exercise -> (name, wrong answer, the call it must fail on, a fragment of the hint it must give)
WRONG = {
    "softmax": [
        ("no shift", "import math\ndef softmax(logits):\n    e = [math.exp(z) for z in logits]\n"
                     "    return [x / sum(e) for x in e]", "softmax([1000.0, 999.0, 998.0])", "Subtract the largest"),
        ("not normalised", "import math\ndef softmax(logits):\n    m = max(logits)\n"
                           "    return [math.exp(z - m) for z in logits]", "softmax([1.0, 2.0, 3.0])",
         "divide each exp by the sum"),
        ("shift by min", "import math\ndef softmax(logits):\n    m = min(logits)\n    e = [math.exp(z - m) for z in logits]\n"
                         "    return [x / sum(e) for x in e]", "softmax([800.0, -800.0, 0.0])", "Subtract the largest"),
        ("a generator", "import math\ndef softmax(logits):\n    m = max(logits)\n    e = [math.exp(z - m) for z in logits]\n"
                        "    return (x / sum(e) for x in e)", "softmax([1.0, 2.0, 3.0])", "return a list"),
    ],
    "softmax_ratio": [
        ("ratio of raw exps", "import math\ndef probability_ratio(logits, i, j):\n"
                              "    return math.exp(logits[i]) / math.exp(logits[j])",
         "probability_ratio([1000.0, 999.0], 0, 1)", "Subtract the largest"),
        ("inverted", "import math\ndef probability_ratio(logits, i, j):\n    return math.exp(logits[j] - logits[i])",
         "probability_ratio([1.0, 2.0, 3.0], 2, 0)", "exp(z_i - z_j)"),
    ],
    "logsumexp": [
        ("no shift", "import math\ndef logsumexp(logits):\n    return math.log(sum(math.exp(z) for z in logits))",
         "logsumexp([-1000.0, -1000.0])", "math.log of zero"),  # exp(-1000.0) is 0.0, and math.log(0.0) raises
        ("forgets m", "import math\ndef logsumexp(logits):\n    m = max(logits)\n"
                      "    return math.log(sum(math.exp(z - m) for z in logits))", "logsumexp([1.0, 2.0, 3.0])",
         "do not forget to add m back"),
        ("underflows", "import math\ndef logsumexp(logits):\n    s = sum(math.exp(z) for z in logits)\n"
                       "    return math.log(s) if s > 0 else -math.inf",
         "logsumexp([-1000.0, -1000.0])", "every exp underflowed"),
    ],
    "log_softmax": [
        ("log of softmax", STABLE_SOFTMAX + "\ndef log_softmax(logits):\n"
                                            "    return [math.log(p) if p > 0 else -math.inf for p in softmax(logits)]",
         "log_softmax([1000.0, 0.0])", "underflowed to 0"),
        ("sign", LOGSUMEXP + "\ndef log_softmax(logits):\n    return [logsumexp(logits) - z for z in logits]",
         "log_softmax([1.0, 2.0, 3.0])", "every entry is <= 0"),
    ],
    "cross_entropy": [
        ("probability then log", STABLE_SOFTMAX + "\ndef cross_entropy(logits, target):\n"
                                                  "    p = softmax(logits)[target]\n"
                                                  "    return -math.log(p) if p > 0 else math.inf",
         "cross_entropy([1000.0, 0.0], 1)", "underflowed to 0"),
        ("sign", LOGSUMEXP + "\ndef cross_entropy(logits, target):\n    return logits[target] - logsumexp(logits)",
         "cross_entropy([1.0, 2.0, 3.0], 2)", "never negative"),
        ("wrong index", LOGSUMEXP + "\ndef cross_entropy(logits, target):\n"
                                    "    return logsumexp(logits) - max(logits)", "cross_entropy([1.0, 2.0, 3.0], 0)",
         "target = 0"),
    ],
    "value_softmax": [
        ("cut graph", "def softmax(logits):\n    m = max(v.data for v in logits)\n"
                      "    exps = [Value(v.data - m).exp() for v in logits]\n    total = sum(exps)\n"
                      "    return [e / total for e in exps]\n"
                      "def log_softmax(logits):\n    return [p.log() for p in softmax(logits)]",
         "gradient of sum_i w_i * softmax(", "every gradient is 0"),
        ("floats", "import math\ndef softmax(logits):\n    m = max(v.data for v in logits)\n"
                   "    e = [math.exp(v.data - m) for v in logits]\n    return [x / sum(e) for x in e]\n"
                   "def log_softmax(logits):\n    return softmax(logits)", "softmax([Value(1.0)", "floats carry no gradient"),
        ("no shift", "def softmax(logits):\n    exps = [v.exp() for v in logits]\n    total = sum(exps)\n"
                     "    return [e / total for e in exps]\n"
                     "def log_softmax(logits):\n    return [p.log() for p in softmax(logits)]",
         "softmax([Value(1000.0)", "Subtract the largest"),
    ],
    "softmax_temperature": [
        ("divide, then shift", "import math\ndef softmax_with_temperature(logits, temperature):\n"
                               "    if temperature <= 0: raise ValueError('T')\n"
                               "    s = [z / temperature for z in logits]\n    m = max(s)\n"
                               "    e = [math.exp(x - m) for x in s]\n    return [x / sum(e) for x in e]",
         "softmax_with_temperature([1e+300, 0.0], 1e-10)", "Shift first, then divide"),
        ("multiplies", "import math\ndef softmax_with_temperature(logits, temperature):\n"
                       "    if temperature <= 0: raise ValueError('T')\n    s = [z * temperature for z in logits]\n"
                       "    m = max(s)\n    e = [math.exp(x - m) for x in s]\n    return [x / sum(e) for x in e]",
         "softmax_with_temperature([1.0, 2.0, 3.0], 0.5)", "divide every logit by T"),
        ("no check", "import math\ndef softmax_with_temperature(logits, temperature):\n"
                     "    t = temperature or 1.0\n    m = max(logits)\n"
                     "    e = [math.exp((z - m) / t) for z in logits]\n    return [x / sum(e) for x in e]",
         "softmax_with_temperature([1.0, 2.0], 0.0)", "T must be > 0"),
        ("no shift", "import math\ndef softmax_with_temperature(logits, temperature):\n"
                     "    if temperature <= 0: raise ValueError('T')\n    e = [math.exp(z / temperature) for z in logits]\n"
                     "    return [x / sum(e) for x in e]", "softmax_with_temperature([2.0, 1.0], 0.0001)",
         "Subtract the largest"),
    ],
    "entropy": [
        ("probability form", STABLE_SOFTMAX + "\ndef entropy_from_logits(logits, temperature):\n"
                                              "    p = softmax([z / temperature for z in logits])\n"
                                              "    return -sum(q * math.log(q) for q in p)",
         "entropy_from_logits([2.0, 1.0], 0.001)", "did a probability underflow to 0"),
        ("log 0 as -inf", STABLE_SOFTMAX + "\ndef entropy_from_logits(logits, temperature):\n"
                                           "    p = softmax([z / temperature for z in logits])\n"
                                           "    return -sum(q * (math.log(q) if q > 0 else -math.inf) for q in p)",
         "entropy_from_logits([2.0, 1.0], 0.001)", "a probability underflows to 0"),
        ("mask kept", "import math\ndef entropy_from_logits(logits, temperature):\n    m = max(logits)\n"
                      "    s = [(z - m) / temperature for z in logits]\n    total = sum(math.exp(v) for v in s)\n"
                      "    return math.log(total) - sum(math.exp(v) / total * v for v in s)",
         "entropy_from_logits([3.0, -inf, 1.0], 1.0)", "a masked logit (-inf) has p = 0"),
        ("sign", "import math\ndef entropy_from_logits(logits, temperature):\n    m = max(logits)\n"
                 "    s = [(z - m) / temperature for z in logits]\n    total = sum(math.exp(v) for v in s)\n"
                 "    return sum(math.exp(v) / total * v for v in s if v > -math.inf) - math.log(total)",
         "entropy_from_logits([0.0, 0.0], 1.0)", "never negative"),
        ("no shift", "import math\ndef entropy_from_logits(logits, temperature):\n"
                     "    e = [math.exp(z / temperature) for z in logits]\n    total = sum(e)\n"
                     "    return math.log(total) - sum(w / total * z / temperature for w, z in zip(e, logits) if w)",
         "entropy_from_logits([1000.0, 999.0], 1.0)", "Subtract the largest"),
        ("forgets T", "import math\ndef entropy_from_logits(logits, temperature):\n    m = max(logits)\n"
                      "    s = [z - m for z in logits]\n    total = sum(math.exp(v) for v in s)\n"
                      "    return math.log(total) - sum(math.exp(v) / total * v for v in s if v > -math.inf)",
         "entropy_from_logits([1.2, 4.7, 3.1, 0.5, 2.9], 0.25)", "T = 0.25"),
    ],
    "softcap": [
        ("clip", "def softcap(x, cap=30.0):\n    return max(-cap, min(cap, x))", "softcap(1.0)",
         "Its slope is 0 beyond the cap"),
        ("identity", "def softcap(x, cap=30.0):\n    return x", "softcap(1.0)", "x came back unchanged"),
        ("no inner divide", "import math\ndef softcap(x, cap=30.0):\n    return cap * math.tanh(x)", "softcap(1.0)",
         "divide by cap inside"),
        ("default", "import math\ndef softcap(x, cap=15.0):\n    return cap * math.tanh(x / cap)", "softcap(1.0)",
         "default cap = 30"),
    ],
    "softcap_slope": [
        ("forgets chain", "import math\ndef softcap_slope(x, cap=30.0):\n    return cap * (1 - math.tanh(x / cap) ** 2)",
         "softcap_slope(0.0, 30.0)", "at most 1"),
        ("sech, not squared", "import math\ndef softcap_slope(x, cap=30.0):\n    return 1 / math.cosh(x / cap)",
         "softcap_slope(10.0, 30.0)", "caps cancel"),
    ],
    "softcapped_cross_entropy": [
        ("uncapped", LOGSUMEXP + "\ndef softcapped_cross_entropy(logits, target, cap=30.0):\n"
                                 "    return logsumexp(logits) - logits[target]",
         "softcapped_cross_entropy([1.0, 2.0, 3.0], 0, 30.0)", "cap every logit first"),
    ],
}


def test_every_exercise_has_correct_and_wrong_answers_in_this_file():
    assert set(CORRECT) == set(EXERCISES) == set(WRONG)


def test_every_chapter_page_1_to_5_has_two_or_three_exercises():
    per_chapter = {}
    for task in EXERCISES.values():
        per_chapter.setdefault(task.chapter, []).append(task.name)
    assert sorted(per_chapter) == [1, 2, 3, 4, 5]
    assert all(2 <= len(names) <= 3 for names in per_chapter.values()), per_chapter


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_stub_fails_saying_it_is_not_written(name):
    verdict = run_exercise(name, EXERCISES[name].stub)
    assert verdict.startswith("failed: ") and "not written yet" in verdict, verdict


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in sorted(CORRECT) for i in range(len(CORRECT[n]))])
def test_correct_answers_pass(name, index):
    verdict = run_exercise(name, CORRECT[name][index])
    assert verdict.startswith("passed: "), verdict


@pytest.mark.parametrize(("name", "label"), [(n, w[0]) for n in sorted(WRONG) for w in WRONG[n]])
def test_wrong_answers_fail_on_their_call_with_their_hint(name, label):
    _, code, call, hint = next(w for w in WRONG[name] if w[0] == label)
    verdict = run_exercise(name, code)
    assert verdict.startswith("failed: "), verdict
    assert call in verdict, verdict
    assert hint in verdict, verdict
    assert "expected" in verdict and "got" in verdict and "hint:" in verdict


def test_syntax_errors_missing_functions_and_top_level_errors_are_named():
    assert "does not parse" in run_exercise("softmax", "def softmax(logits)\n    return logits")
    assert "define softmax" in run_exercise("softmax", "def soft_max(logits):\n    return logits")
    verdict = run_exercise("softmax", "x = 1\nraise RuntimeError('boom')\n")
    assert verdict.startswith("failed: your code raised RuntimeError: boom (line 2)")
    assert run_exercise("nope", "").startswith("failed: no exercise named")


def test_what_the_code_prints_is_shown_after_the_verdict():
    verdict = run_exercise("softmax", STABLE_SOFTMAX + "\nprint('hello')\n" + "print('x')\n" * 30)
    assert verdict.startswith("passed: ") and "your code printed:\nhello" in verdict and "(11 more lines)" in verdict


def test_a_return_value_that_breaks_the_check_is_a_failure_not_a_crash():
    verdict = run_exercise("softmax", "def softmax(logits):\n    return [object()] * len(logits)")
    assert verdict.startswith("failed: "), verdict


def test_the_browser_files_use_the_standard_library_only():
    """exercises.py and autograd.py are shipped to Pyodide, which has no NumPy: they may import the stdlib only."""
    allowed = {"contextlib", "io", "math", "random", "traceback", "softcap_course.autograd"}
    for path in (Path(exercises.__file__), Path(exercises.__file__).with_name("autograd.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert {a.name for a in node.names} <= allowed, path
            elif isinstance(node, ast.ImportFrom):
                assert node.module in allowed, path


# ------------------------------------------------------------------------------------------------ the Value class


def test_value_gradients_match_hand_derivatives():
    x, y = Value(2.0), Value(-3.0)
    z = x * y + x ** 3 - y / x + (x * 0.5).exp() + (y * y).log() + (x / 4).tanh()
    z.backward()
    dx = -3.0 + 3 * 4.0 + (-3.0) / 4.0 + 0.5 * math.exp(1.0) + (1 - math.tanh(0.5) ** 2) / 4
    dy = 2.0 - 1 / 2.0 + 2 / -3.0
    assert math.isclose(x.grad, dx, rel_tol=1e-14) and math.isclose(y.grad, dy, rel_tol=1e-14)
    assert math.isclose(z.data, -6.0 + 8.0 + 1.5 + math.exp(1.0) + math.log(9.0) + math.tanh(0.5), rel_tol=1e-14)


def test_value_reuse_accumulates_and_right_operands_work():
    a = Value(3.0)
    b = a * a + 2 - a  # a used three times
    b.backward()
    assert b.data == 8.0 and a.grad == 5.0
    c = Value(4.0)
    d = 1 / c + 10 - c
    d.backward()
    assert math.isclose(c.grad, -1 / 16 - 1, rel_tol=1e-15)


def test_value_backward_survives_a_long_chain():
    v = Value(1.0)
    out = v
    for _ in range(5000):
        out = out * 1.0001
    out.backward()
    assert math.isclose(v.grad, 1.0001 ** 5000, rel_tol=1e-9)


def test_value_of_a_value_is_refused():
    with pytest.raises(TypeError, match="cut the graph"):
        Value(Value(1.0))


def test_the_log_of_zero_hint_knows_both_messages_of_math_log():
    """CPython 3.11 says "math domain error", Pyodide's Python 3.14 "expected a positive input, got 0.0"."""
    for message in ("math domain error", "expected a positive input, got 0.0"):
        assert "math.log of zero" in exercises._hint_for_exception(ValueError(message))


# ------------------------------------------------------------------------------------------------ the Spanish edition

SPANISH = exercises.MESSAGES["es"]
# The only wrong-answer call above that is prose rather than code, as the Spanish verdict words it.
SPANISH_CALL = {"gradient of sum_i w_i * softmax(": "gradiente de sum_i w_i * softmax("}
# Code that goes wrong outside the checks (and one that prints), for the reports around them.
OTHER_CODE = [("softmax", "def softmax(logits)\n    return logits"), ("softmax", "def soft_max(logits):\n    return 1"),
              ("softmax", "x = 1\nraise RuntimeError('boom')\n"), ("nope", ""),
              ("softmax", STABLE_SOFTMAX + "\nprint('hello')\n" + "print('x')\n" * 30),
              ("softmax", "def softmax(logits):\n    return [object()] * len(logits)"),
              ("softmax", "def softmax(logits):\n    return softmax(logits)"),
              ("softmax", "def softmax(logits):\n    return [1 / 0]"),
              ("softmax", "def softmax(logits):\n    return len(logits) + 'x'"),
              ("softmax", "def softmax(logits):\n    raise KeyError('k')"),
              ("softmax", "import math\ndef softmax(logits):\n    return [math.exp(z) for z in logits]"),
              ("softmax", "def softmax(logits):\n    return [1.0]")]


def record_say(monkeypatch):
    """Every (template, fields) passed to exercises.say from now on, in order."""
    said, say = [], exercises.say

    def recording(template, **fields):
        said.append((template, fields))
        return say(template, **fields)
    monkeypatch.setattr(exercises, "say", recording)
    return said


def every_run():
    """(exercise, code) for every stub, correct and wrong answer of this file, and the other code above."""
    runs = [(name, EXERCISES[name].stub) for name in sorted(EXERCISES)]
    runs += [(name, code) for name in sorted(CORRECT) for code in CORRECT[name]]
    runs += [(name, wrong[1]) for name in sorted(WRONG) for wrong in WRONG[name]]
    return runs + OTHER_CODE


def fields_of(template):
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def without_docstrings(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node) is not None:
            node.body = node.body[1:]
    return ast.dump(tree)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_spanish_stub_is_the_same_code_with_its_texts_in_spanish(name):
    english, spanish = exercise_stub(name), exercise_stub(name, "es")
    assert english == EXERCISES[name].stub
    assert without_docstrings(spanish) == without_docstrings(english)
    english_texts = [ast.get_docstring(node) for node in ast.walk(ast.parse(english))
                     if isinstance(node, ast.FunctionDef)]
    english_texts += [line for line in english.splitlines() if line.startswith("#")]
    assert english_texts and not any(text in spanish for text in english_texts), spanish


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_spanish_stub_fails_saying_in_spanish_it_is_not_written(name):
    verdict = run_exercise(name, exercise_stub(name, "es"), language="es")
    assert verdict.startswith("incorrecto: ") and "aún no está escrita" in verdict, verdict
    assert "NotImplementedError" in verdict and "not written" not in verdict, verdict


@pytest.mark.parametrize(("name", "index"), [(n, i) for n in sorted(CORRECT) for i in range(len(CORRECT[n]))])
def test_correct_answers_pass_in_spanish(name, index):
    verdict = run_exercise(name, CORRECT[name][index], language="es")
    assert verdict == f"correcto: {exercise_title(name, 'es')}: se cumplen todas las comprobaciones", verdict


@pytest.mark.parametrize(("name", "label"), [(n, w[0]) for n in sorted(WRONG) for w in WRONG[n]])
def test_wrong_answers_fail_in_spanish_with_the_translation_of_their_english_hint(name, label, monkeypatch):
    _, code, call, _ = next(w for w in WRONG[name] if w[0] == label)
    said = record_say(monkeypatch)
    english = run_exercise(name, code)
    english_hint = english.split("\n  hint: ", 1)[1].split("\n")[0]
    # The hint went through say(): find its template and fields, and word them in Spanish.
    template, fields = next(((t, f) for t, f in said if t.format(**f) == english_hint), (None, None))
    assert template is not None, f"the hint was not written through exercises.say: {english_hint}"
    spanish = run_exercise(name, code, language="es")
    assert spanish.startswith("incorrecto: "), spanish
    assert SPANISH_CALL.get(call, call) in spanish, spanish
    assert f"\n  pista: {SPANISH[template].format(**fields)}" in spanish, spanish
    assert "\n  esperado " in spanish and "\n  obtenido " in spanish, spanish
    assert english_hint not in spanish and "hint:" not in spanish and "expected" not in spanish, spanish


def test_errors_around_the_checks_and_printed_output_are_reported_in_spanish():
    def es(code, name="softmax"):
        return run_exercise(name, code, language="es")
    verdict = es("def softmax(logits)\n    return logits")
    assert verdict.startswith("incorrecto: tu código no se puede analizar: ") and "(línea 1)" in verdict, verdict
    assert verdict.endswith("\n  pista: revisa la sangría y los paréntesis"), verdict
    verdict = es("def soft_max(logits):\n    return logits")
    assert verdict.startswith("incorrecto: define softmax (una función con exactamente ese nombre)"), verdict
    verdict = es("x = 1\nraise RuntimeError('boom')\n")
    assert verdict.startswith("incorrecto: tu código lanzó RuntimeError: boom (línea 2) antes de que"), verdict
    assert es("", "nope") == "incorrecto: no hay ningún ejercicio llamado 'nope'"
    verdict = es("def softmax(logits):\n    return [1 / 0]")
    assert "\n  esperado un resultado\n  obtenido ZeroDivisionError: " in verdict, verdict
    assert "pista: una división por cero" in verdict, verdict
    verdict = es("def softmax(logits):\n    return [object()] * len(logits)")
    assert verdict.startswith("incorrecto: "), verdict
    verdict = es(STABLE_SOFTMAX + "\nprint('hello')\n" + "print('x')\n" * 30)
    assert verdict.startswith("correcto: ") and "\ntu código imprimió:\nhello\n" in verdict, verdict
    assert verdict.endswith("\n... (11 líneas más)"), verdict


def test_every_text_the_module_says_has_a_spanish_translation_with_the_same_fields():
    """A scan of exercises.py: say() gets plain English strings (no f-strings: fields are named and filled by
    say), each one is in the Spanish table with the same {fields}, and the table has nothing else but the titles."""
    said = set()
    for node in ast.walk(ast.parse(Path(exercises.__file__).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "say":
            text = node.args[0]
            assert isinstance(text, ast.Constant) and isinstance(text.value, str), ast.unparse(node)
            said.add(text.value)
    titles = {task.title for task in EXERCISES.values()}
    missing = sorted(text for text in said | titles if text not in SPANISH)
    assert not missing, "no Spanish translation for:\n" + "\n".join(missing)
    assert set(SPANISH) == said | titles, sorted(set(SPANISH) - said - titles)
    for english, spanish in SPANISH.items():
        assert fields_of(spanish) == fields_of(english), (english, spanish)
        assert spanish != english, english
    stub_lines = {line for task in EXERCISES.values() for line in task.stub.split("\n")}
    assert set(exercises.STUB_LINES["es"]) <= stub_lines, sorted(set(exercises.STUB_LINES["es"]) - stub_lines)


def test_every_template_said_in_the_runs_is_translated_and_no_spanish_verdict_has_english(monkeypatch):
    """Every stub, correct and wrong answer and the other code above, in Spanish: what went through say() has a
    Spanish entry, and no English text (a template's words between its fields) is left in a verdict."""
    said = record_say(monkeypatch)
    verdicts = [run_exercise(name, code, language="es") for name, code in every_run()]
    assert said and {template for template, _ in said} <= set(SPANISH), \
        sorted({template for template, _ in said} - set(SPANISH))
    english_words = {literal.strip() for template in SPANISH for literal, *_ in string.Formatter().parse(template)
                     if len(literal.strip()) >= 20}
    for verdict in verdicts:
        assert verdict.startswith(("correcto: ", "incorrecto: ")), verdict
        assert not [words for words in english_words if words in verdict], verdict


def test_the_english_runs_say_english_after_a_spanish_run():
    run_exercise("softmax", CORRECT["softmax"][0], language="es")
    assert run_exercise("softmax", CORRECT["softmax"][0]).startswith("passed: Softmax on a list")
    assert run_exercise("softmax", CORRECT["softmax"][0], language="en").startswith("passed: ")


def test_an_unknown_language_raises_a_value_error_naming_it():
    from softcap_course.book.tryit import box_html
    for attempt in (lambda: run_exercise("softmax", STABLE_SOFTMAX, language="fr"),
                    lambda: exercise_stub("softmax", "fr"), lambda: exercise_title("softmax", "fr"),
                    lambda: box_html("softmax", "fr")):
        with pytest.raises(ValueError, match="'fr'"):
            attempt()


def test_the_box_in_spanish_has_spanish_words_and_stub_and_the_same_dom_contract():
    from softcap_course.book.tryit import BOX_TEXTS, box_html, box_language
    for name in sorted(EXERCISES):
        spanish, english = box_html(name, "es"), box_html(name)
        assert '<strong>Pruébalo aquí:</strong>' in spanish and html.escape(exercise_title(name, "es")) in spanish
        assert '<button type="button" data-role="run">Ejecutar</button>' in spanish
        assert '<button type="button" data-role="reset">Restablecer</button>' in spanish
        assert f'aria-label="Código Python del ejercicio {html.escape(exercise_title(name, "es"))}"' in spanish
        assert f">{html.escape(exercise_stub(name, 'es'))}</textarea>" in spanish
        assert "Python se ejecuta en tu navegador" in spanish and "Try it" not in spanish and ">Run<" not in spanish
        assert "<strong>Try it here:</strong>" in english
        assert ">Run</button>" in english and ">Reset</button>" in english
        assert f">{html.escape(EXERCISES[name].stub)}</textarea>" in english
        for contract in (f'data-exercise="{name}"', 'data-role="run"', 'data-role="reset"', 'data-role="result"',
                         "<textarea"):
            assert contract in spanish and contract in english
    assert set(BOX_TEXTS) == set(exercises.LANGUAGES)
    assert [box_language(language) for language in ("es", "en", None, "fr")] == ["es", "en", "en", "en"]

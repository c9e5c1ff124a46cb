"""The book's "Try it here" exercises: stubs and checks, in pure Python.

Each exercise is a stub the reader completes on the page and a check that calls the reader's function on chosen
inputs. The same file runs in two places: in the reader's browser (Pyodide, in a Web Worker, shipped by
``softcap_course.book.tryit``) and under pytest in CPython (``tests/test_exercises.py``). So it uses ``math`` and
nothing outside the standard library, and it reports a failure the way the graded notebooks do: the call, what
was expected, what came back, and a hint chosen by what went wrong.

    run_exercise("softmax", code)  ->  "passed: ..." or "failed: ..."
    run_exercise("softmax", code, language="es")  ->  "correcto: ..." or "incorrecto: ..."

Every text the reader sees is written here in English, through ``say(template, **fields)`` (or, for titles and
stubs, ``exercise_title`` and ``exercise_stub``); the other languages are tables at the end of the file, keyed by
the English text.
"""

import contextlib
import io
import math
import random
import traceback

from softcap_course.autograd import Value

EXERCISES = {}


class Failed(Exception):
    """A check that did not hold; its message is shown to the reader as it is."""


class Exercise:
    def __init__(self, name, chapter, title, functions, stub, check):
        self.name, self.chapter, self.title = name, chapter, title
        self.functions, self.stub, self.check = functions, stub, check


def exercise(name, chapter, title, functions, stub):
    """Register the decorated ``check(namespace)`` as exercise ``name``."""
    def register(check):
        EXERCISES[name] = Exercise(name, chapter, title, tuple(functions), stub.strip("\n") + "\n", check)
        return check
    return register


# ---------------------------------------------------------------------------------------------------- languages

# The language of the run in progress. run_exercise sets it for the duration of one run, so that the checks and
# their hints, several calls down, need no language parameter (a browser tab runs one exercise at a time).
_language = "en"


def check_language(language):
    if language != "en" and language not in MESSAGES:
        raise ValueError(f"the exercises have no texts in language {language!r} (there are: {', '.join(LANGUAGES)})")


def translate(text, language):
    """``text``, English as written in this file, in ``language``: the one place where a translation is looked up.

    A text missing from a language's table comes out in English, so that the reader still gets a message; the
    tests fail on any such gap.
    """
    check_language(language)
    return text if language == "en" else MESSAGES[language].get(text, text)


def say(template, **fields):
    """A message for the reader in the current run's language, its ``{fields}`` filled in."""
    return translate(template, _language).format(**fields)


def exercise_title(name, language="en"):
    return translate(EXERCISES[name].title, language)


def exercise_stub(name, language="en"):
    """Exercise ``name``'s stub in ``language``: the same code, its docstrings and comments translated."""
    check_language(language)
    lines = EXERCISES[name].stub.split("\n")
    if language != "en":
        lines = [STUB_LINES[language].get(line, line) for line in lines]
    return "\n".join(lines).strip("\n") + "\n"


# ---------------------------------------------------------------------------------------------------- reporting


def show(value):
    """A value as the reader would write it (floats to 17 significant digits, Values by their data)."""
    if isinstance(value, Value):
        return f"Value({show(value.data)})"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(show(v) for v in value[:8]) + (", ..." if len(value) > 8 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def call_text(name, args):
    return f"{name}({', '.join(show(a) for a in args)})"


def failure(call, expected, got, hint):
    return Failed(say("{call}\n  expected {expected}\n  got      {got}\n  hint: {hint}",
                      call=call, expected=expected, got=got, hint=hint))


def call(namespace, name, *args):
    """Call the reader's ``name(*args)``; an exception becomes a failure that names the call and says why."""
    function = namespace[name]
    try:
        return function(*args)
    except NotImplementedError:
        raise Failed(say("{name} is not written yet: it still raises NotImplementedError. Replace that line with "
                         "your code.", name=name)) from None
    except OverflowError as error:
        raise failure(call_text(name, args), say("a result"), f"OverflowError: {error}",
                      say("math.exp(x) overflows for x above about 709.78. Subtract the largest logit first: "
                          "exp(x - m) is never above 1.")) from None
    except RecursionError:
        raise failure(call_text(name, args), say("a result"), "RecursionError",
                      say("the function calls itself without end"))
    except Exception as error:  # noqa: BLE001 (any error of the reader's code is reported, never raised)
        raise failure(call_text(name, args), say("a result"), f"{type(error).__name__}: {error}",
                      _hint_for_exception(error)) from None


def _hint_for_exception(error):
    # math.log(0.0): "math domain error" up to Python 3.13, "expected a positive input, got 0.0" from 3.14 (Pyodide's).
    if isinstance(error, ValueError) and ("math domain error" in str(error) or "positive input" in str(error)):
        return say("math.log of zero or of a negative number: did a probability underflow to 0? Stay in log space.")
    if isinstance(error, ZeroDivisionError):
        return say("a division by zero: the sum of exponentials underflowed to 0? Shift by the maximum first.")
    if isinstance(error, TypeError):
        return say("check the types: the function takes a list of numbers and returns what the stub's docstring "
                   "says")
    return say("the function raised where it should return; read the error above")


def close(got, expected, rel=1e-9, absolute=1e-12):
    return isinstance(got, (int, float)) and not isinstance(got, bool) and (
        (math.isnan(expected) and math.isnan(got)) or
        (math.isinf(expected) and got == expected) or
        (math.isfinite(expected) and math.isfinite(got) and math.isclose(got, expected, rel_tol=rel, abs_tol=absolute)))


def expect_number(got, expected, call, hint, rel=1e-9, absolute=1e-12):
    if isinstance(got, Value):
        got = got.data
    if not close(got, expected, rel, absolute):
        raise failure(call, show(expected), show(got), hint(got) if callable(hint) else hint)


def expect_list(got, expected, call, hint, rel=1e-9, absolute=1e-12):
    """``got`` must be a list (or tuple) of numbers of ``expected``'s length, each close to its entry."""
    if not isinstance(got, (list, tuple)):
        raise failure(call, say("a list of {count} numbers", count=len(expected)),
                      f"{type(got).__name__}: {show(got)}",
                      say("return a list, e.g. [e / total for e in exps] (a generator or a single number is not a "
                          "list)"))
    if len(got) != len(expected):
        raise failure(call, say("{count} numbers", count=len(expected)), f"{len(got)}: {show(list(got))}",
                      say("one output per logit, in the same order"))
    values = [g.data if isinstance(g, Value) else g for g in got]
    if not all(close(g, e, rel, absolute) for g, e in zip(values, expected)):
        raise failure(call, show(expected), show(list(got)), hint(values) if callable(hint) else hint)


def exact_softmax(logits):
    """Softmax as a reference: shifted, and summed with math.fsum (correctly rounded)."""
    m = max(logits)
    exps = [math.exp(z - m) for z in logits]
    total = math.fsum(exps)
    return [e / total for e in exps]


def exact_logsumexp(logits):
    m = max(logits)
    if math.isinf(m):
        return m
    return m + math.log(math.fsum(math.exp(z - m) for z in logits))


def softmax_hint(got):
    if any(isinstance(g, float) and math.isnan(g) for g in got):
        return say("nan appears when inf / inf is computed: exp overflowed. Subtract max(logits) before exp.")
    total = math.fsum(g for g in got if isinstance(g, (int, float)))
    if not math.isclose(total, 1.0, rel_tol=1e-9):
        return say("the outputs sum to {total!r}, not 1: divide each exp by the sum of all of them", total=total)
    return say("the outputs sum to 1 but are not softmax: exp(z_i - m) / sum_j exp(z_j - m), with the same m for "
               "all")


# ---------------------------------------------------------------------------------------------------- chapter 1


@exercise("softmax", 1, "Softmax on a list, with the shift", ["softmax"], '''
import math

def softmax(logits):
    """Probabilities from a list of logits (floats): exp(z_i - m) / sum_j exp(z_j - m), m = max(logits)."""
    raise NotImplementedError
''')
def check_softmax(ns):
    cases = [[1.0, 2.0, 3.0], [0.0], [-1.0, 0.0, 1.0, 2.0], [5.0, 5.0, 5.0, 5.0], [1000.0, 999.0, 998.0],
             [-1000.0, -1001.0], [800.0, -800.0, 0.0], [1e-300, 0.0, -1e-300]]
    for logits in cases:
        expect_list(call(ns, "softmax", list(logits)), exact_softmax(logits), call_text("softmax", [logits]),
                    softmax_hint)


@exercise("softmax_ratio", 1, "Only differences matter", ["probability_ratio"], '''
import math

def probability_ratio(logits, i, j):
    """p_i / p_j for p = softmax(logits), without computing softmax: it depends on z_i - z_j only."""
    raise NotImplementedError
''')
def check_probability_ratio(ns):
    for logits, i, j in [([1.0, 2.0, 3.0], 2, 0), ([1000.0, 999.0], 0, 1), ([-5.0, 5.0], 0, 1),
                         ([3.0, 3.0, 1.0], 1, 0), ([700.0, 0.0, 705.0], 2, 0)]:
        expected = math.exp(logits[i] - logits[j])
        expect_number(call(ns, "probability_ratio", list(logits), i, j), expected,
                      call_text("probability_ratio", [logits, i, j]),
                      say("p_i / p_j = exp(z_i) / exp(z_j) = exp(z_i - z_j): the sum cancels, and so does any "
                          "shift"))


# ---------------------------------------------------------------------------------------------------- chapter 2


@exercise("logsumexp", 2, "Log-sum-exp without overflow", ["logsumexp"], '''
import math

def logsumexp(logits):
    """log(sum_j exp(z_j)) for a list of floats, exact where the sum of exponentials would overflow."""
    raise NotImplementedError
''')
def check_logsumexp(ns):
    for logits in [[1.0, 2.0, 3.0], [0.0], [-1000.0, -1000.0], [1000.0, 1000.0], [710.0, 0.0], [-745.0, -750.0],
                   [1e6, 1e6 - 1.0, 0.0]]:
        def hint(got, logits=logits):
            if isinstance(got, float) and math.isinf(got) and got < 0:
                return say("-inf: every exp underflowed to 0 before the log. Factor out m = max: "
                           "m + log(sum exp(z - m))")
            return say("log-sum-exp = m + log(sum_j exp(z_j - m)) with m = max(logits); do not forget to add m back")
        expect_number(call(ns, "logsumexp", list(logits)), exact_logsumexp(logits), call_text("logsumexp", [logits]),
                      hint, rel=1e-12)


@exercise("log_softmax", 2, "Log-probabilities, without taking log of a probability", ["log_softmax"], '''
import math

def log_softmax(logits):
    """log(softmax(logits)) for a list of floats, finite even where softmax underflows to 0."""
    raise NotImplementedError
''')
def check_log_softmax(ns):
    for logits in [[1.0, 2.0, 3.0], [0.0, 0.0], [1000.0, 0.0], [-800.0, 0.0, 800.0], [50.0, -50.0]]:
        lse = exact_logsumexp(logits)
        expected = [z - lse for z in logits]

        def hint(got):
            if any(isinstance(g, float) and math.isinf(g) for g in got):
                return say("-inf: log of a probability that underflowed to 0. Use log_softmax(z)_i = "
                           "z_i - logsumexp(z)")
            return say("log_softmax(z)_i = z_i - logsumexp(z); every entry is <= 0")
        expect_list(call(ns, "log_softmax", list(logits)), expected, call_text("log_softmax", [logits]), hint,
                    rel=1e-12, absolute=1e-12)


# ---------------------------------------------------------------------------------------------------- chapter 3


@exercise("cross_entropy", 3, "Cross-entropy from raw logits", ["cross_entropy"], '''
import math

def cross_entropy(logits, target):
    """-log softmax(logits)[target] for one example, from the logits directly (no probabilities on the way)."""
    raise NotImplementedError
''')
def check_cross_entropy(ns):
    for logits, target in [([1.0, 2.0, 3.0], 2), ([1.0, 2.0, 3.0], 0), ([0.0, 0.0, 0.0, 0.0], 1),
                           ([1000.0, 0.0], 1), ([-5.0, 30.0, 2.0], 1), ([0.0, 800.0], 0)]:
        expected = exact_logsumexp(logits) - logits[target]

        def hint(got, target=target, logits=logits):
            if isinstance(got, float) and math.isinf(got):
                return say("inf: the probability of the target underflowed to 0 before the log. Use "
                           "logsumexp(z) - z[t]")
            if isinstance(got, (int, float)) and got < 0:
                return say("a cross-entropy is never negative: it is -log p with p <= 1 (check the sign)")
            return say("cross-entropy = logsumexp(logits) - logits[target] (here target = {target})", target=target)
        expect_number(call(ns, "cross_entropy", list(logits), target), expected,
                      call_text("cross_entropy", [logits, target]), hint, rel=1e-12)


VALUE_STUB = '''
# Value is defined on this page (softcap_course/autograd.py): +, -, *, /, **, .exp(), .log(), .tanh(), .backward().
# Comparisons look at .data, so max(logits) works.

def softmax(logits):
    """softmax of a list of Values, as a list of Values (the gradient must flow back to every logit)."""
    raise NotImplementedError

def log_softmax(logits):
    """log softmax of a list of Values, as a list of Values, without taking the log of a probability."""
    raise NotImplementedError
'''


@exercise("value_softmax", 3, "softmax and log_softmax on autograd Values (microgpt's exercise)",
          ["softmax", "log_softmax"], VALUE_STUB)
def check_value_softmax(ns):
    rng = random.Random(20261202)
    cases = [[1.0, 2.0, 3.0], [0.5, -1.5], [2.0, 2.0, -1.0, 0.25], [1000.0, 999.0, 998.0]]
    for name in ("softmax", "log_softmax"):
        for data in cases:
            shown = call_text(name, [[Value(x) for x in data]])
            reference = exact_softmax(data) if name == "softmax" else [z - exact_logsumexp(data) for z in data]
            logits = [Value(x) for x in data]
            out = call(ns, name, logits)
            if not isinstance(out, (list, tuple)) or not all(isinstance(v, Value) for v in out):
                raise failure(shown, say("a list of {count} Values", count=len(data)), show(out),
                              say("compute with the Values themselves (v.exp(), v - m, ...): floats carry no "
                                  "gradient"))
            expect_list(out, reference, shown, softmax_hint if name == "softmax" else
                        say("log_softmax(z)_i = z_i - log(sum_j exp(z_j)), with a shift by max for large logits"))
            # The gradient backward() leaves, against central finite differences of the reader's own function.
            weights = [rng.uniform(-1.0, 1.0) for _ in data]
            loss = sum((w * v for w, v in zip(weights, out)), Value(0.0))
            loss.backward()
            got = [v.grad for v in logits]
            expected = []
            for k in range(len(data)):
                step = 1e-5 * max(1.0, abs(data[k]))
                up = [Value(x + (step if i == k else 0.0)) for i, x in enumerate(data)]
                down = [Value(x - (step if i == k else 0.0)) for i, x in enumerate(data)]
                f_up = math.fsum(w * v.data for w, v in zip(weights, call(ns, name, up)))
                f_down = math.fsum(w * v.data for w, v in zip(weights, call(ns, name, down)))
                expected.append((f_up - f_down) / (2 * step))
            if not all(math.isclose(g, e, rel_tol=1e-4, abs_tol=1e-6) for g, e in zip(got, expected)):
                hint = (say("every gradient is 0: the output is not connected to the logits. Building "
                            "Value(x.data ...) starts a new graph; compute with the Values themselves")
                        if all(g == 0.0 for g in got) else
                        say("the values are right but the gradient is not: is some step done on .data (plain "
                            "floats)?"))
                raise failure(say("gradient of sum_i w_i * {call}[i] with w = {weights}", call=shown,
                                  weights=show(weights)),
                              say("{expected} (finite differences)", expected=show(expected)), show(got), hint)


# ---------------------------------------------------------------------------------------------------- chapter 4


@exercise("softmax_temperature", 4, "Softmax at temperature T", ["softmax_with_temperature"], '''
import math

def softmax_with_temperature(logits, temperature):
    """softmax(logits / temperature) for a list of floats; ValueError unless temperature > 0."""
    raise NotImplementedError
''')
def check_softmax_temperature(ns):
    # The last two cases overflow z / T itself (1e300 / 1e-10, 3.0 / 1e-308 are beyond float64's 1.8e308): dividing
    # first gives inf - inf = nan, shifting first gives (z - m) / T <= 0, which can only go to -inf (probability 0).
    for logits, temperature in [([1.0, 2.0, 3.0], 1.0), ([1.0, 2.0, 3.0], 0.5), ([1.0, 2.0, 3.0], 10.0),
                                ([2.0, 1.0], 0.01), ([2.0, 1.0], 1e-4), ([300.0, 0.0], 0.1),
                                ([1e300, 0.0], 1e-10), ([3.0, 1.0, 2.0], 1e-308)]:
        top = max(logits)
        expected = exact_softmax([(z - top) / temperature for z in logits])
        overflows = any(math.isinf(z / temperature) for z in logits)

        def hint(got, temperature=temperature, overflows=overflows, top=top):
            if any(isinstance(g, float) and math.isnan(g) for g in got):
                if overflows:
                    return say("nan: divide, then shift fails here, because z / T overflows to inf already "
                               "({top!r} / {temperature!r} is beyond float64's range) and inf - inf is nan. "
                               "Shift first, then divide: (z - max(logits)) / T is <= 0 and never overflows.",
                               top=top, temperature=temperature)
                return say("nan: at a small temperature z / T is huge and exp overflows. Shift by the max first.")
            return say("divide every logit by T = {temperature!r} first, then take a stable softmax",
                       temperature=temperature)
        expect_list(call(ns, "softmax_with_temperature", list(logits), temperature), expected,
                    call_text("softmax_with_temperature", [logits, temperature]), hint)
    for temperature in (0.0, -1.0):
        shown = call_text("softmax_with_temperature", [[1.0, 2.0], temperature])
        try:
            result = ns["softmax_with_temperature"]([1.0, 2.0], temperature)
        except ValueError:
            continue
        except Exception as error:  # noqa: BLE001
            raise failure(shown, "ValueError", f"{type(error).__name__}: {error}",
                          say("check the temperature first: if not temperature > 0: raise ValueError(...)")) from None
        raise failure(shown, "ValueError", show(result),
                      say("T must be > 0; T = 0 is greedy decoding, not a softmax"))


def exact_entropy(logits, temperature):
    """Entropy of softmax(logits / T) from the logits: s = (z - max) / T, H = log(sum e^s) - sum p s, p = 0 terms
    left out (a masked logit, s = -inf, has p = 0)."""
    top = max(logits)
    s = [(z - top) / temperature for z in logits]
    total = math.fsum(math.exp(v) for v in s)
    p = [math.exp(v) / total for v in s]
    return math.log(total) - math.fsum(pi * si for pi, si in zip(p, s) if pi > 0)


@exercise("entropy", 4, "The entropy a temperature controls, from the logits", ["entropy_from_logits"], '''
import math

def entropy_from_logits(logits, temperature):
    """Entropy in nats of softmax(logits / temperature), from the logits, with no
    log of a probability: s_i = (z_i - max(logits)) / temperature, then
    H = log(sum_j exp(s_j)) - sum_i p_i * s_i. A logit may be -inf (masked)."""
    raise NotImplementedError
''')
def check_entropy(ns):
    # (2.0, 1.0) at T = 0.001: p = [1, exp(-1000)] and exp(-1000) underflows to 0, so the probability form
    # -sum p log p takes log(0). A masked logit (-inf) has p = 0 and s = -inf: its term p * s must be left out.
    cases = [([0.0, 0.0], 1.0), ([1.0, 2.0, 3.0], 1.0), ([1.2, 4.7, 3.1, 0.5, 2.9], 0.25), ([5.0] * 4, 2.0),
             ([1.0, 2.0, 3.0], 100.0), ([1000.0, 999.0], 1.0), ([2.0, 1.0], 0.001), ([3.0, -math.inf, 1.0], 1.0)]
    for logits, temperature in cases:
        expected = exact_entropy(logits, temperature)
        masked = any(z == -math.inf for z in logits)

        def hint(got, masked=masked, temperature=temperature):
            if isinstance(got, float) and math.isnan(got):
                if masked:
                    return say("nan from 0 * -inf: a masked logit (-inf) has p = 0 and adds nothing to the "
                               "entropy. Leave out the terms with p_i == 0 in sum_i p_i * s_i.")
                return say("nan from 0 * log(0): at T = {temperature!r} a probability underflows to 0. Work from "
                           "the logits: H = log(sum_j exp(s_j)) - sum_i p_i * s_i, s_i = (z_i - max) / T",
                           temperature=temperature)
            if isinstance(got, (int, float)) and got < 0:
                return say("entropy is never negative: H = log(sum_j exp(s_j)) - sum_i p_i * s_i (mind the signs)")
            return say("H = log(sum_j exp(s_j)) - sum_i p_i * s_i with s_i = (z_i - max(logits)) / T, here "
                       "T = {temperature!r}, natural log", temperature=temperature)
        expect_number(call(ns, "entropy_from_logits", list(logits), temperature), expected,
                      call_text("entropy_from_logits", [logits, temperature]), hint, absolute=1e-15)


# ---------------------------------------------------------------------------------------------------- chapter 5


@exercise("softcap", 5, "The final-logit softcap", ["softcap"], '''
import math

def softcap(x, cap=30.0):
    """cap * tanh(x / cap) for one float: close to x for small x, never beyond +-cap."""
    raise NotImplementedError
''')
def check_softcap(ns):
    for x, cap in [(0.0, 30.0), (1.0, 30.0), (-12.5, 30.0), (30.0, 30.0), (1e6, 30.0), (-1e300, 30.0), (5.0, 2.0),
                   (50.0, 50.0)]:
        expected = cap * math.tanh(x / cap)
        args = (x,) if cap == 30.0 and x in (0.0, 1.0) else (x, cap)  # the default must be 30

        def hint(got, x=x, cap=cap):
            if isinstance(got, (int, float)) and abs(got) > cap:
                return say("beyond the cap {cap!r}: the result is cap * tanh(x / cap), which stays within +-cap",
                           cap=cap)
            if got == x and x != 0.0 and _clips(ns):
                return say("this is a hard clip: x unchanged inside +-cap, exactly +-cap outside "
                           "(softcap(45.0, 30.0) returned 30.0). Its slope is 0 beyond the cap, so a logit that has "
                           "run away gets no gradient to bring it back, and it has a kink at +-cap. The softcap "
                           "bends every logit a little, smoothly: cap * tanh(x / cap)")
            if got == x and x != 0.0:
                return say("x came back unchanged: the softcap is cap * tanh(x / cap), a little below x even for "
                           "small x (x - x**3 / (3 * cap**2) + ...)")
            return say("cap * tanh(x / cap): divide by cap inside the tanh, multiply by cap outside (default "
                       "cap = 30)")
        expect_number(call(ns, "softcap", *args), expected, call_text("softcap", list(args)), hint)


def _clips(ns):
    """Whether the reader's softcap returns exactly the cap for a logit beyond it, as min/max clipping does."""
    try:
        return ns["softcap"](45.0, 30.0) == 30.0
    except Exception:  # noqa: BLE001 (a probe for the hint only; the checks report the reader's errors)
        return False


@exercise("softcap_slope", 5, "How much gradient the cap lets through", ["softcap_slope"], '''
import math

def softcap_slope(x, cap=30.0):
    """d/dx of cap * tanh(x / cap) for one float: 1 near 0, towards 0 far beyond the cap."""
    raise NotImplementedError
''')
def check_softcap_slope(ns):
    for x, cap in [(0.0, 30.0), (10.0, 30.0), (-45.0, 30.0), (30.0, 30.0), (400.0, 30.0), (1e6, 30.0), (3.0, 1.5)]:
        t = math.tanh(x / cap)
        expected = 1.0 - t * t

        def hint(got):
            if isinstance(got, (int, float)) and math.isfinite(got) and got > 1.0:
                return say("the slope is at most 1 (at x = 0): d/dx cap*tanh(x/cap) = 1 - tanh(x/cap)**2")
            return say("chain rule: cap * (1 - tanh(x/cap)**2) * (1 / cap) = 1 - tanh(x/cap)**2 (the caps cancel)")
        expect_number(call(ns, "softcap_slope", x, cap), expected, call_text("softcap_slope", [x, cap]), hint,
                      rel=1e-9, absolute=1e-15)


@exercise("softcapped_cross_entropy", 5, "Cross-entropy of capped logits", ["softcapped_cross_entropy"], '''
import math

def softcapped_cross_entropy(logits, target, cap=30.0):
    """Cross-entropy of softcap(logits) at the target: logsumexp(c) - c[target], c_i = cap * tanh(z_i / cap)."""
    raise NotImplementedError
''')
def check_softcapped_cross_entropy(ns):
    for logits, target, cap in [([1.0, 2.0, 3.0], 0, 30.0), ([100.0, -100.0, 0.0], 1, 30.0),
                                ([1e4, 0.0], 1, 30.0), ([5.0, 4.0], 0, 1.0), ([0.0, 0.0], 0, 30.0)]:
        capped = [cap * math.tanh(z / cap) for z in logits]
        expected = exact_logsumexp(capped) - capped[target]

        def hint(got, logits=logits):
            if isinstance(got, float) and math.isinf(got):
                return say("inf: take the cross-entropy of the capped logits in log space: "
                           "logsumexp(c) - c[target]")
            return say("cap every logit first (cap * tanh(z / cap)), then cross-entropy = logsumexp(c) - c[target]")
        expect_number(call(ns, "softcapped_cross_entropy", list(logits), target, cap), expected,
                      call_text("softcapped_cross_entropy", [logits, target, cap]), hint, rel=1e-12)


# ---------------------------------------------------------------------------------------------------- running


def run_exercise(name, code, max_printed_lines=20, language="en"):
    """Run the reader's ``code``, then exercise ``name``'s checks: a verdict in ``language``, whose first word says
    which way it went ("passed" or "failed" in English, "correcto" or "incorrecto" in Spanish)."""
    global _language
    check_language(language)
    previous, _language = _language, language
    try:
        return _run(name, code, max_printed_lines)
    finally:
        _language = previous


def failed_verdict(text):
    return say("failed: {text}", text=text)


def _run(name, code, max_printed_lines):
    if name not in EXERCISES:
        return failed_verdict(say("no exercise named {name!r}", name=name))
    task = EXERCISES[name]
    namespace = {"__name__": "__tryit__", "Value": Value}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(code, "<your code>", "exec"), namespace)
            except SyntaxError as error:
                return failed_verdict(say("your code does not parse: {message} (line {line})\n  {text}\n  hint: "
                                          "check the indentation and the brackets", message=error.msg,
                                          line=error.lineno, text=(error.text or "").rstrip()))
            except Exception as error:  # noqa: BLE001 (the reader's code at the top level)
                line = next((frame.lineno for frame in reversed(traceback.extract_tb(error.__traceback__))
                             if frame.filename == "<your code>"), "?")
                return failed_verdict(say("your code raised {kind}: {error} (line {line}) before any check ran",
                                          kind=type(error).__name__, error=error, line=line))
            missing = [f for f in task.functions if not callable(namespace.get(f))]
            if missing:
                return failed_verdict(say("define {names} (a function named exactly so); the stub shows the "
                                          "signature", names=", ".join(missing)))
            try:
                task.check(namespace)
            except Failed as report:
                verdict = failed_verdict(str(report))
            except Exception as error:  # noqa: BLE001 (what the function returned broke the check itself)
                verdict = failed_verdict(say("the check could not use what your function returned ({kind}: "
                                             "{error}); return what the stub's docstring says",
                                             kind=type(error).__name__, error=error))
            else:
                verdict = say("passed: {title}: every check holds", title=exercise_title(name, _language))
    finally:
        lines = printed.getvalue().splitlines()
    if lines:
        shown = lines[:max_printed_lines]
        if len(lines) > max_printed_lines:
            shown.append(say("... ({count} more lines)", count=len(lines) - max_printed_lines))
        verdict += "\n" + say("your code printed:") + "\n" + "\n".join(shown)
    return verdict


# ---------------------------------------------------------------------------------------------------- Spanish
# Keyed by the English text exactly as written above; a template keeps its {fields} and the code, identifiers,
# numbers and formulas it quotes. tests/test_exercises.py fails on an English text without its translation here.

MESSAGES = {"es": {
    # The verdicts and the layout of a failure.
    "passed: {title}: every check holds": "correcto: {title}: se cumplen todas las comprobaciones",
    "failed: {text}": "incorrecto: {text}",
    "{call}\n  expected {expected}\n  got      {got}\n  hint: {hint}":
        "{call}\n  esperado {expected}\n  obtenido {got}\n  pista: {hint}",
    "a result": "un resultado",
    "a list of {count} numbers": "una lista de {count} números",
    "{count} numbers": "{count} números",
    "a list of {count} Values": "una lista de {count} Values",
    "{expected} (finite differences)": "{expected} (diferencias finitas)",
    "gradient of sum_i w_i * {call}[i] with w = {weights}": "gradiente de sum_i w_i * {call}[i] con w = {weights}",
    "your code printed:": "tu código imprimió:",
    "... ({count} more lines)": "... ({count} líneas más)",

    # What went wrong before or around the checks.
    "no exercise named {name!r}": "no hay ningún ejercicio llamado {name!r}",
    "your code does not parse: {message} (line {line})\n  {text}\n  hint: check the indentation and the brackets":
        "tu código no se puede analizar: {message} (línea {line})\n  {text}\n  pista: revisa la sangría y los "
        "paréntesis",
    "your code raised {kind}: {error} (line {line}) before any check ran":
        "tu código lanzó {kind}: {error} (línea {line}) antes de que empezara ninguna comprobación",
    "define {names} (a function named exactly so); the stub shows the signature":
        "define {names} (una función con exactamente ese nombre); el esqueleto muestra la firma",
    "the check could not use what your function returned ({kind}: {error}); return what the stub's docstring says":
        "la comprobación no ha podido usar lo que devolvió tu función ({kind}: {error}); devuelve lo que dice el "
        "docstring del esqueleto",
    "{name} is not written yet: it still raises NotImplementedError. Replace that line with your code.":
        "{name} aún no está escrita: sigue lanzando NotImplementedError. Sustituye esa línea por tu código.",
    "math.exp(x) overflows for x above about 709.78. Subtract the largest logit first: exp(x - m) is never above 1.":
        "math.exp(x) se desborda (overflow) para x por encima de 709.78, más o menos. Resta primero el logit más "
        "grande: exp(x - m) nunca pasa de 1.",
    "the function calls itself without end": "la función se llama a sí misma sin fin",
    "math.log of zero or of a negative number: did a probability underflow to 0? Stay in log space.":
        "math.log de cero o de un número negativo: ¿se ha subdesbordado (underflow) a 0 una probabilidad? Quédate "
        "en el espacio logarítmico.",
    "a division by zero: the sum of exponentials underflowed to 0? Shift by the maximum first.":
        "una división por cero: ¿se ha subdesbordado a 0 la suma de exponenciales? Desplaza primero por el máximo.",
    "check the types: the function takes a list of numbers and returns what the stub's docstring says":
        "revisa los tipos: la función recibe una lista de números y devuelve lo que dice el docstring del esqueleto",
    "the function raised where it should return; read the error above":
        "la función lanzó una excepción donde debía devolver un valor; lee el error de arriba",

    # Lists of numbers; softmax.
    "return a list, e.g. [e / total for e in exps] (a generator or a single number is not a list)":
        "devuelve una lista, p. ej. [e / total for e in exps] (un generador o un solo número no es una lista)",
    "one output per logit, in the same order": "una salida por logit, en el mismo orden",
    "nan appears when inf / inf is computed: exp overflowed. Subtract max(logits) before exp.":
        "nan aparece al calcular inf / inf: exp se ha desbordado. Resta max(logits) antes de exp.",
    "the outputs sum to {total!r}, not 1: divide each exp by the sum of all of them":
        "las salidas suman {total!r}, no 1: divide cada exp entre la suma de todas ellas",
    "the outputs sum to 1 but are not softmax: exp(z_i - m) / sum_j exp(z_j - m), with the same m for all":
        "las salidas suman 1 pero no son la softmax: exp(z_i - m) / sum_j exp(z_j - m), con la misma m para todas",
    "p_i / p_j = exp(z_i) / exp(z_j) = exp(z_i - z_j): the sum cancels, and so does any shift":
        "p_i / p_j = exp(z_i) / exp(z_j) = exp(z_i - z_j): la suma se cancela, y también cualquier desplazamiento",

    # Log-sum-exp, log_softmax, cross-entropy.
    "-inf: every exp underflowed to 0 before the log. Factor out m = max: m + log(sum exp(z - m))":
        "-inf: cada exp se subdesbordó (underflow) a 0 antes del log. Saca factor común m = max: "
        "m + log(sum exp(z - m))",
    "log-sum-exp = m + log(sum_j exp(z_j - m)) with m = max(logits); do not forget to add m back":
        "log-sum-exp = m + log(sum_j exp(z_j - m)) con m = max(logits); no olvides volver a sumar m",
    "-inf: log of a probability that underflowed to 0. Use log_softmax(z)_i = z_i - logsumexp(z)":
        "-inf: log de una probabilidad que se subdesbordó a 0. Usa log_softmax(z)_i = z_i - logsumexp(z)",
    "log_softmax(z)_i = z_i - logsumexp(z); every entry is <= 0":
        "log_softmax(z)_i = z_i - logsumexp(z); todas las entradas son <= 0",
    "inf: the probability of the target underflowed to 0 before the log. Use logsumexp(z) - z[t]":
        "inf: la probabilidad del objetivo se subdesbordó a 0 antes del log. Usa logsumexp(z) - z[t]",
    "a cross-entropy is never negative: it is -log p with p <= 1 (check the sign)":
        "una entropía cruzada nunca es negativa: es -log p con p <= 1 (revisa el signo)",
    "cross-entropy = logsumexp(logits) - logits[target] (here target = {target})":
        "entropía cruzada = logsumexp(logits) - logits[target] (aquí target = {target})",

    # Autograd Values.
    "compute with the Values themselves (v.exp(), v - m, ...): floats carry no gradient":
        "calcula con los propios Values (v.exp(), v - m, ...): los floats no llevan gradiente",
    "log_softmax(z)_i = z_i - log(sum_j exp(z_j)), with a shift by max for large logits":
        "log_softmax(z)_i = z_i - log(sum_j exp(z_j)), desplazando por el máximo para logits grandes",
    "every gradient is 0: the output is not connected to the logits. Building Value(x.data ...) starts a new graph; "
    "compute with the Values themselves":
        "todos los gradientes son 0: la salida no está conectada a los logits. Construir Value(x.data ...) empieza "
        "un grafo nuevo; calcula con los propios Values",
    "the values are right but the gradient is not: is some step done on .data (plain floats)?":
        "los valores son correctos, pero el gradiente no: ¿haces algún paso sobre .data (floats simples)?",

    # Temperature and entropy.
    "nan: divide, then shift fails here, because z / T overflows to inf already ({top!r} / {temperature!r} is "
    "beyond float64's range) and inf - inf is nan. Shift first, then divide: (z - max(logits)) / T is <= 0 and "
    "never overflows.":
        "nan: dividir y después desplazar falla aquí, porque z / T ya se desborda a inf ({top!r} / {temperature!r} "
        "queda fuera del rango de float64) e inf - inf es nan. Desplaza primero y divide después: "
        "(z - max(logits)) / T es <= 0 y nunca se desborda.",
    "nan: at a small temperature z / T is huge and exp overflows. Shift by the max first.":
        "nan: a temperatura pequeña, z / T es enorme y exp se desborda. Desplaza primero por el máximo.",
    "divide every logit by T = {temperature!r} first, then take a stable softmax":
        "divide primero cada logit entre T = {temperature!r} y después calcula una softmax estable",
    "check the temperature first: if not temperature > 0: raise ValueError(...)":
        "comprueba primero la temperatura: if not temperature > 0: raise ValueError(...)",
    "T must be > 0; T = 0 is greedy decoding, not a softmax":
        "T debe ser > 0; T = 0 es la decodificación voraz, no una softmax",
    "nan from 0 * -inf: a masked logit (-inf) has p = 0 and adds nothing to the entropy. Leave out the terms with "
    "p_i == 0 in sum_i p_i * s_i.":
        "nan de 0 * -inf: un logit enmascarado (-inf) tiene p = 0 y no aporta nada a la entropía. Deja fuera los "
        "términos con p_i == 0 en sum_i p_i * s_i.",
    "nan from 0 * log(0): at T = {temperature!r} a probability underflows to 0. Work from the logits: "
    "H = log(sum_j exp(s_j)) - sum_i p_i * s_i, s_i = (z_i - max) / T":
        "nan de 0 * log(0): con T = {temperature!r} una probabilidad se subdesborda a 0. Trabaja a partir de los "
        "logits: H = log(sum_j exp(s_j)) - sum_i p_i * s_i, s_i = (z_i - max) / T",
    "entropy is never negative: H = log(sum_j exp(s_j)) - sum_i p_i * s_i (mind the signs)":
        "la entropía nunca es negativa: H = log(sum_j exp(s_j)) - sum_i p_i * s_i (cuidado con los signos)",
    "H = log(sum_j exp(s_j)) - sum_i p_i * s_i with s_i = (z_i - max(logits)) / T, here T = {temperature!r}, "
    "natural log":
        "H = log(sum_j exp(s_j)) - sum_i p_i * s_i con s_i = (z_i - max(logits)) / T, aquí T = {temperature!r}, "
        "logaritmo natural",

    # The softcap.
    "beyond the cap {cap!r}: the result is cap * tanh(x / cap), which stays within +-cap":
        "más allá del tope {cap!r}: el resultado es cap * tanh(x / cap), que se queda dentro de +-cap",
    "this is a hard clip: x unchanged inside +-cap, exactly +-cap outside (softcap(45.0, 30.0) returned 30.0). Its "
    "slope is 0 beyond the cap, so a logit that has run away gets no gradient to bring it back, and it has a kink "
    "at +-cap. The softcap bends every logit a little, smoothly: cap * tanh(x / cap)":
        "esto es un recorte duro: x sin cambios dentro de +-cap, exactamente +-cap fuera (softcap(45.0, 30.0) "
        "devolvió 30.0). Su pendiente es 0 más allá del tope, así que un logit que se ha disparado no recibe "
        "gradiente que lo haga volver, y tiene un punto anguloso en +-cap. El softcap curva cada logit un poco, de "
        "forma suave: cap * tanh(x / cap)",
    "x came back unchanged: the softcap is cap * tanh(x / cap), a little below x even for small x "
    "(x - x**3 / (3 * cap**2) + ...)":
        "x ha vuelto sin cambios: el softcap es cap * tanh(x / cap), un poco por debajo de x incluso para x pequeño "
        "(x - x**3 / (3 * cap**2) + ...)",
    "cap * tanh(x / cap): divide by cap inside the tanh, multiply by cap outside (default cap = 30)":
        "cap * tanh(x / cap): divide entre cap dentro de la tanh y multiplica por cap fuera (cap = 30 por defecto)",
    "the slope is at most 1 (at x = 0): d/dx cap*tanh(x/cap) = 1 - tanh(x/cap)**2":
        "la pendiente es como mucho 1 (en x = 0): d/dx cap*tanh(x/cap) = 1 - tanh(x/cap)**2",
    "chain rule: cap * (1 - tanh(x/cap)**2) * (1 / cap) = 1 - tanh(x/cap)**2 (the caps cancel)":
        "regla de la cadena: cap * (1 - tanh(x/cap)**2) * (1 / cap) = 1 - tanh(x/cap)**2 (los cap se cancelan)",
    "inf: take the cross-entropy of the capped logits in log space: logsumexp(c) - c[target]":
        "inf: calcula la entropía cruzada de los logits acotados en el espacio logarítmico: logsumexp(c) - c[target]",
    "cap every logit first (cap * tanh(z / cap)), then cross-entropy = logsumexp(c) - c[target]":
        "acota primero cada logit (cap * tanh(z / cap)) y después entropía cruzada = logsumexp(c) - c[target]",

    # The exercises' titles.
    "Softmax on a list, with the shift": "La softmax de una lista, con el desplazamiento",
    "Only differences matter": "Solo importan las diferencias",
    "Log-sum-exp without overflow": "Log-sum-exp sin desbordamiento",
    "Log-probabilities, without taking log of a probability":
        "Log-probabilidades, sin tomar el logaritmo de una probabilidad",
    "Cross-entropy from raw logits": "Entropía cruzada a partir de los logits en bruto",
    "softmax and log_softmax on autograd Values (microgpt's exercise)":
        "softmax y log_softmax sobre Values de autograd (el ejercicio de microgpt)",
    "Softmax at temperature T": "La softmax a temperatura T",
    "The entropy a temperature controls, from the logits":
        "La entropía que controla una temperatura, a partir de los logits",
    "The final-logit softcap": "El softcap de los logits finales",
    "How much gradient the cap lets through": "Cuánto gradiente deja pasar el tope",
    "Cross-entropy of capped logits": "Entropía cruzada de los logits acotados",
}}

# The stubs in Spanish, line by line: each docstring or comment line of an English stub and its translation. Code
# lines have no entry, so a Spanish stub is the English code, names and signatures (exercise_stub).
STUB_LINES = {"es": {
    '    """Probabilities from a list of logits (floats): exp(z_i - m) / sum_j exp(z_j - m), m = max(logits)."""':
        '    """Probabilidades a partir de una lista de logits (floats): exp(z_i - m) / sum_j exp(z_j - m), m = max(logits)."""',
    '    """p_i / p_j for p = softmax(logits), without computing softmax: it depends on z_i - z_j only."""':
        '    """p_i / p_j para p = softmax(logits), sin calcular la softmax: solo depende de z_i - z_j."""',
    '    """log(sum_j exp(z_j)) for a list of floats, exact where the sum of exponentials would overflow."""':
        '    """log(sum_j exp(z_j)) para una lista de floats, exacto también donde la suma de exponenciales se desbordaría."""',
    '    """log(softmax(logits)) for a list of floats, finite even where softmax underflows to 0."""':
        '    """log(softmax(logits)) para una lista de floats, finito incluso donde la softmax se subdesborda a 0."""',
    '    """-log softmax(logits)[target] for one example, from the logits directly (no probabilities on the way)."""':
        '    """-log softmax(logits)[target] para un ejemplo, directamente desde los logits (sin pasar por probabilidades)."""',
    '# Value is defined on this page (softcap_course/autograd.py): +, -, *, /, **, .exp(), .log(), .tanh(), .backward().':
        '# Value está en esta página (softcap_course/autograd.py): +, -, *, /, **, .exp(), .log(), .tanh(), .backward().',
    '# Comparisons look at .data, so max(logits) works.':
        '# Las comparaciones miran .data, así que max(logits) funciona.',
    '    """softmax of a list of Values, as a list of Values (the gradient must flow back to every logit)."""':
        '    """softmax de una lista de Values, como lista de Values (el gradiente debe volver hasta cada logit)."""',
    '    """log softmax of a list of Values, as a list of Values, without taking the log of a probability."""':
        '    """log softmax de una lista de Values, como lista de Values, sin tomar el log de una probabilidad."""',
    '    """softmax(logits / temperature) for a list of floats; ValueError unless temperature > 0."""':
        '    """softmax(logits / temperature) para una lista de floats; ValueError salvo que temperature > 0."""',
    '    """Entropy in nats of softmax(logits / temperature), from the logits, with no':
        '    """Entropía en nats de softmax(logits / temperature), a partir de los logits, sin',
    '    log of a probability: s_i = (z_i - max(logits)) / temperature, then':
        '    log de una probabilidad: s_i = (z_i - max(logits)) / temperature, y después',
    '    H = log(sum_j exp(s_j)) - sum_i p_i * s_i. A logit may be -inf (masked)."""':
        '    H = log(sum_j exp(s_j)) - sum_i p_i * s_i. Un logit puede valer -inf (enmascarado)."""',
    '    """cap * tanh(x / cap) for one float: close to x for small x, never beyond +-cap."""':
        '    """cap * tanh(x / cap) para un float: cerca de x si x es pequeño, nunca más allá de +-cap."""',
    '    """d/dx of cap * tanh(x / cap) for one float: 1 near 0, towards 0 far beyond the cap."""':
        '    """d/dx de cap * tanh(x / cap) para un float: 1 cerca de 0, tiende a 0 muy por encima del tope."""',
    '    """Cross-entropy of softcap(logits) at the target: logsumexp(c) - c[target], c_i = cap * tanh(z_i / cap)."""':
        '    """Entropía cruzada de softcap(logits) en el target: logsumexp(c) - c[target], c_i = cap * tanh(z_i / cap)."""',
}}

LANGUAGES = ("en", *MESSAGES)

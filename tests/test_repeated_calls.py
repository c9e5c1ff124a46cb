"""Verification answers loops of identical calls with one generator (chapter 4's sampling tests) from calls the worker
makes ahead: the draws, the generator's states and the exceptions must be exactly those of one call at a time."""

import json

import numpy as np
import pytest

from softcap_course.grading import verification, worker
from softcap_course.raised import raised_reply


def sample(logits, temperature, rng):
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    return int(rng.choice(len(logits), p=weights / weights.sum()))


def fragile(logits, temperature, rng):
    """Raises whenever it draws index 0: an exception in the middle of a run of calls."""
    index = sample(logits, temperature, rng)
    if index == 0:
        raise ValueError("drew 0")
    return index


class InProcessWorker:
    """The worker's protocol without its process: each request and reply crosses as JSON, as through the pipe."""

    def __init__(self, **functions):
        self.namespace, self.requests = dict(functions), []

    def ask(self, request, timeout=None):
        request = json.loads(json.dumps(request))
        self.requests.append(request)
        try:
            reply = worker._serve(self.namespace, request)
        except BaseException as error:  # noqa: BLE001
            reply = raised_reply(error)
        return json.loads(json.dumps(reply))


def outcomes(function, calls):
    """What each call returns (or raises), in order; calls are (args, generator) pairs. ``function`` is the
    student's function called directly, or a proxy of it."""
    seen = []
    for args, rng in calls:
        try:
            seen.append(("value", function(*args, rng)))
        except ValueError as error:
            seen.append(("raised", str(error)))
    return seen


def test_a_loop_of_identical_calls_gets_the_one_by_one_draws_in_few_round_trips():
    remote = InProcessWorker(sample=sample)
    proxy = verification._proxy(remote, "sample")
    ours, theirs = np.random.default_rng(4), np.random.default_rng(4)
    args = ([1.2, 4.7, 3.1, 0.5, 2.9], 2.0)
    got = outcomes(proxy, [(args, ours)] * 2000)
    assert got == outcomes(sample, [(args, theirs)] * 2000)
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert len(remote.requests) <= 16  # 1 + 2 + 4 + ... + 1024: 12 requests, not 2000


@pytest.mark.parametrize("between", ["generator moved", "other arguments", "twin generator", "an exception"])
def test_anything_between_two_calls_ends_the_run_and_changes_no_result(between):
    function = fragile if between == "an exception" else sample
    proxy = verification._proxy(InProcessWorker(**{function.__name__: function}), function.__name__)
    # The reference: the same protocol, one round trip per call (a call that raises leaves the caller's generator
    # where it was, whereas a direct call would have moved it: compare like with like).
    reference = verification._proxy(InProcessWorker(**{function.__name__: function}), function.__name__)
    reference._speculation.most = 1
    args, other = ([0.3, 1.0, 2.0], 1.0), ([0.0, 0.0, 5.0], 0.5)
    sides = [{"main": np.random.default_rng(7), "twin": np.random.default_rng(8), "proxy": p, "seen": []}
             for p in (proxy, reference)]
    for step in range(300):
        for side in sides:  # the same actions on both sides, in lockstep
            if between == "generator moved" and step % 7 == 3:
                side["main"].random()
            use_args = other if between == "other arguments" and step % 5 == 0 else args
            rng = side["twin"] if between == "twin generator" and step % 3 == 0 else side["main"]
            side["seen"] += outcomes(side["proxy"], [(use_args, rng)])
    got, expected = sides[0]["seen"], sides[1]["seen"]
    assert got == expected
    assert sides[0]["main"].bit_generator.state == sides[1]["main"].bit_generator.state
    if between == "an exception":
        assert ("raised", "drew 0") in got and ("value", 2) in got  # both cases happened


def test_the_worker_repeats_only_a_plain_call_with_one_generator():
    namespace = {"sample": sample}
    without = {"call": "sample", "args": [{"__plain__": [1.0, 2.0]}, {"__plain__": 1.0}], "kwargs": {},
               "storages": [], "repeat": 4}
    with pytest.raises(worker.WorkerFailed, match="only a call on plain data with one generator"):
        worker._serve(namespace, without)
    request = verification._Views().request([[1.0, 2.0], 1.0, np.random.default_rng(0)], {})
    replies = worker._serve(namespace, {"call": "sample", **request, "repeat": 10 ** 9})["replies"]
    assert 1 <= len(replies) <= worker.REPEAT_MOST

"""The grading machinery: what an instructor's grading round runs, never imported by a student's notebook.

* ``classroom``: scratch courses and classes of submissions (the tests and the benchmark build on it);
* ``sandbox``: the bubblewrap sandbox every process that runs student code lives in;
* ``worker`` and ``verification``: the scores decided outside the student's process;
* ``memory``: chapter 6-7's memory figure, measured by the operating system around the student's call;
* ``feedback`` and ``sanitise``: what students and instructors see, inert;
* ``instructor`` and ``parallel``: ``make grade``, one round over the class, N submissions at a time;
* ``postgres``: a throw-away PostgreSQL server for tests and benchmarks; ``benchmark``: ``make grading-benchmark``.
"""

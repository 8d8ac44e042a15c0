"""The fuzz harnesses' short CI run: each target's corpus, then FUZZ_BUDGET mutated inputs, none raising unexpectedly.

FUZZ_BUDGET (mutated inputs per harness, default 5000: all harnesses in about 6 s here) and FUZZ_SEED (default 0)
scale and vary the run; `python -m tests.fuzz.run` is the long form.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.engine import Report, Target, execute, fuzz, load_corpus
from tests.fuzz.targets import TARGETS

BUDGET = int(os.environ.get("FUZZ_BUDGET", "5000"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_inputs_raise_only_the_declared_errors(name: str) -> None:
    target = TARGETS[name]
    corpus = load_corpus(name)
    report = fuzz(target, len(corpus) + BUDGET, seed=SEED)
    print(report.summary())
    assert not report.crash_kinds, "\n\n".join(crash.describe() for crash in report.crashes[:3])
    accepted = [label for label in report.outcomes if label.startswith("ok:")]
    # A harness that only ever sees refusals (or only acceptances) is not exercising the parser.
    assert accepted, f"{name}: no input was accepted"
    if target.declared:
        assert report.errors, f"{name}: no input was refused"
    assert len(report.outcomes) >= 2, report.outcomes


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_corpus_input_is_handled(name: str) -> None:
    """The captured corpus and the saved crash inputs (crash-*): each one accepted or refused as declared."""
    report = Report(name)
    for data in load_corpus(name):
        crash = execute(TARGETS[name], data, report)
        assert crash is None, crash.describe()
    assert report.inputs >= 3


def test_a_harness_reports_an_undeclared_exception_as_a_crash() -> None:
    def parse(data: bytes) -> str:
        if len(data) > 3:
            return "ok"
        if data[:1] == b"\x00":
            raise ValueError("declared refusal")
        return str(data[5])  # IndexError: what a fuzzer is for

    target = Target("toy", parse, (ValueError,))
    report = fuzz(target, 500, seed=1, corpus=[b"\x00\x01\x02\x03\x04", b"\x01\x02"])
    assert report.crash_kinds["IndexError"] > 0 and report.errors["ValueError"] > 0
    assert report.crashes[0].kind == "IndexError" and len(report.crashes[0].data) <= 3


def test_an_input_that_runs_too_long_is_reported_as_a_hang() -> None:
    def parse(data: bytes) -> str:
        while data.startswith(b"\xff"):
            pass  # the loop a length field of 0 can cause
        return "ok"

    report = fuzz(Target("toy", parse, ()), 2, seed=1, corpus=[b"\x01", b"\xff"], hang_s=0.3)
    assert report.crash_kinds == {"Hang": 1} and report.crashes[0].data == b"\xff"

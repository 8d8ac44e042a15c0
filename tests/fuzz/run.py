"""Long fuzz runs from the command line: `python -m tests.fuzz.run --parser rtp --inputs 1000000`.

Prints inputs/s, the declared errors and the unexpected exceptions by type, and the distinct outcomes reached.
`--engine atheris` runs the same target under atheris (coverage-guided libFuzzer, `pip install atheris`) instead of
the built-in mutator; `--save-crashes` writes each crashing input to tests/fuzz/corpus/<parser>/crash-<hash>.bin.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import shutil
import sys
import tempfile
import time
from typing import Any

from .engine import CORPUS_ROOT, Report, Target, execute, fuzz, load_corpus

_LAZY_IMPORTS = ("mediaserver.control_server", "mediaserver.sfu", "mediaserver.rooms.publishing",
                 "mediaserver.transport.mux_core", "mediaserver.transport.peer", "signaling_gateway.bus",
                 "signaling_gateway.media_client")


def _save(target: Target, data: bytes) -> str:
    path = CORPUS_ROOT / target.name / f"crash-{hashlib.sha1(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    return str(path)


def _print_report(report: Report, show_outcomes: int) -> None:
    print(report.summary())
    for label, count in report.outcomes.most_common(show_outcomes):
        print(f"    {count:>9}  {label}")
    for crash in report.crashes[:5]:
        print("--- crash ---")
        print(crash.describe())


def _run_atheris(target_name: str, inputs: int, show_outcomes: int) -> int:
    import atheris  # optional: only this engine needs it

    with atheris.instrument_imports(include=["mediaserver", "signaling_gateway", "aioice", "msgpack"]):
        # The rigs import these lazily; imported here, inside the block, they are instrumented too.
        for module in _LAZY_IMPORTS:
            importlib.import_module(module)
        from .targets import TARGETS
    target = TARGETS[target_name]
    report = Report(target.name)
    seeds = tempfile.mkdtemp(prefix=f"fuzz-{target.name}-")
    for index, data in enumerate(load_corpus(target.name)):
        with open(f"{seeds}/{index:04d}", "wb") as f:
            f.write(data)
    start = time.perf_counter()

    def one_input(data: bytes) -> None:
        crash = execute(target, data, report)
        if report.inputs == inputs or crash is not None:
            report.seconds = time.perf_counter() - start
            _print_report(report, show_outcomes)
            sys.stdout.flush()
        if crash is not None:
            raise RuntimeError(crash.describe())  # atheris stops and writes the input as an artifact

    # libFuzzer adds what it finds to the first corpus folder: a scratch copy, so the stored corpus stays captured.
    atheris.Setup([sys.argv[0], f"-runs={inputs}", f"-max_len={target.max_len}", "-print_final_stats=1", seeds],
                  one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(seeds, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parser", required=True, help="target name, or 'all'")
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long instead (0: no limit)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("mutator", "atheris"), default="mutator")
    parser.add_argument("--save-crashes", action="store_true")
    parser.add_argument("--outcomes", type=int, default=15, help="how many of the commonest outcomes to list")
    args = parser.parse_args(argv)
    if args.engine == "atheris":
        return _run_atheris(args.parser, args.inputs, args.outcomes)

    from .targets import TARGETS

    names = list(TARGETS) if args.parser == "all" else [args.parser]
    failed = False
    for name in names:
        target = TARGETS[name]
        inputs = args.inputs
        if args.seconds:
            # Calibrate on a short run, then size the long one to fit the time asked for.
            probe = fuzz(target, 2000, seed=args.seed + 1000)
            inputs = min(inputs, max(2000, int(probe.rate * args.seconds)))

        def progress(report: Report) -> None:
            print(f"  {report.target}: {report.inputs} inputs, {report.rate:,.0f}/s, "
                  f"{len(report.outcomes)} outcomes, {len(report.crash_kinds)} crash kinds", flush=True)

        report = fuzz(target, inputs, seed=args.seed, progress=progress)
        _print_report(report, args.outcomes)
        if args.save_crashes:
            seen: set[Any] = set()
            for crash in report.crashes:
                if (crash.kind, crash.message[:40]) not in seen:
                    seen.add((crash.kind, crash.message[:40]))
                    print("saved", _save(target, crash.data))
        failed |= bool(report.crash_kinds)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

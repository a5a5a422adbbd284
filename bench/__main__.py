"""Run the benchmarks, print each result, and write docs/benchmarks.md with its chart.

python -m bench            quick run (under 3 minutes): S1 at G=1 and 100, small S2 and S3, S4
python -m bench --full     the full set: S1 up to G=1,000, S2 with 2,000 games, S3 with 10,000 sockets
python -m bench --smoke    CI: seconds of S1 against our server only; writes nothing, and exits 1
                           unless a whole game was played, no client saw an error and the server
                           logged no traceback
python -m bench --only S3  some scenarios of the quick (or --full) plan; prints, writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench import report
from bench.scenarios import FULL, QUICK, SCENARIOS, SMOKE, Result, Run
from bench.servers import KINDS, raise_open_file_limit


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="the full set of scenarios and sizes")
    mode.add_argument("--smoke", action="store_true", help="a few seconds of S1 against our server; a CI check")
    parser.add_argument("--only", metavar="S1,S3", help="run only these scenarios; the docs are left alone")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="for S4 (default: %(default)s)")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a server where S4 may create and drop a bench_* database (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.only:
        args.only = {name.strip().upper() for name in args.only.split(",")}
        if unknown := args.only - set(SCENARIOS):
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


async def bench(args: argparse.Namespace, command: str) -> int:
    # A SIGTERM (a CI timeout, say) unwinds like Ctrl-C, so every server started is stopped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    started = time.time()
    plan = SMOKE if args.smoke else FULL if args.full else QUICK
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))  # the servers' databases and logs
    run = Run(
        plan=plan,
        scenarios={"S1"} if args.smoke else args.only or set(SCENARIOS),
        kinds=("ours",) if args.smoke else KINDS,
        workdir=workdir,
        on_start=lambda what: print(f"... {what}", flush=True),
        on_result=lambda result: print(report.summary_line(result), flush=True),
        redis_url=args.redis_url,
        postgres_url=args.postgres_url,
    )
    try:
        results = await run.all()
    finally:
        if any(r.errors or r.tracebacks for r in run.results):
            print(f"Something went wrong: the servers' logs are kept in {workdir}")
        else:
            shutil.rmtree(workdir)
    for note in run.notes:
        print(f"note: {note}")
    if args.smoke:
        return smoke_verdict(results[0])
    if args.only:
        print("--only: docs/benchmarks.md was left as it was.")
        return 0
    report.write(results, run.notes, plan, command=command, started=started, seconds=time.time() - started)
    print(f"wrote {report.DOC.relative_to(report.ROOT)} and {report.CHART.relative_to(report.ROOT)}")
    return 0


def smoke_verdict(result: Result) -> int:
    """Pass if a whole game was played, the clients saw no error and the server logged no
    traceback; timings are never judged."""
    failures = []
    if result.games_finished < 1:
        failures.append("no game was played to its end")
    if result.errors:
        failures.append(f"errors: {dict(result.errors)}")
    for line in sorted(set(result.tracebacks)):
        print(f"smoke: the server logged: {line}")
    if result.tracebacks:
        failures.append("the server logged tracebacks")
    print(f"smoke: {'FAILED: ' + '; '.join(failures) if failures else 'OK'}")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    raise_open_file_limit()
    command = " ".join(["python -m bench", *argv])
    try:
        return uvloop.run(bench(args, command))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: every server this run started has been stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

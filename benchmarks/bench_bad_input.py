"""Count tracebacks over many generated bad inputs (issue 12.7): specs and CLI arguments.

Each input must either be refused in one line (naming the file and key, or the
argument) with a non-zero exit and nothing created, or give a run that can start.
Everything runs in this process through `tuitune.client.cli.main`, so an escaped exception
would surface here; the CLI's last-resort boundary turns one into an "internal error"
line, which is counted as a traceback too.

    python benchmarks/bench_bad_input.py --specs 10000 --cli 10000
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.engine.bad_input import (  # noqa: E402
    check_cli,
    check_spec_file,
    cli_argvs,
    spec_texts,
)
from tuitune.engine.runs import create_run  # noqa: E402
from tuitune.core.spec import load_spec  # noqa: E402


def _settings(n: int) -> settings:
    # Generation only: no shrinking (nothing fails, outcomes are recorded) and no
    # example database; every input counts once.
    return settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def bench_specs(n: int, work: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    spec_dir, home = work / "specs", Path(os.environ["TUITUNE_HOME"])
    spec_dir.mkdir()
    (spec_dir / "train.py").write_text("print('hi')\n")

    @_settings(n)
    @given(text=spec_texts())
    def one(text: str) -> None:
        path = spec_dir / "gen.toml"
        path.write_text(text)
        outcome = check_spec_file(path, home)
        counts[outcome.kind] += 1
        if outcome.problem:
            counts["problems"] += 1
            problems.append(outcome.problem)
        shutil.rmtree(home / "runs", ignore_errors=True)

    one()
    for p in problems[:10]:
        print("  problem:", p)
    return counts


def bench_cli(n: int, work: Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    spec = work / "good.toml"
    (work / "train.py").write_text("print('hi')\n")
    spec.write_text('command = ["{python}", "train.py", "--lr", "{lr}"]\n'
                    '[space.lr]\ntype = "float"\nlow = 0.001\nhigh = 0.1\n'
                    '[space.opt]\ntype = "categorical"\nchoices = ["adam", "sgd"]\n'
                    '[objective]\nmetric = "loss"\n')
    good = create_run(load_spec(spec))
    broken = create_run(load_spec(spec))
    (broken / "store.db").write_bytes(os.urandom(8192))
    runs = [good.name, broken.name, good.name[:3], str(good)]

    @_settings(n)
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        argv = data.draw(cli_argvs(runs))
        outcome = check_cli(argv)
        counts[outcome.kind] += 1
        if outcome.problem:
            counts["problems"] += 1
            problems.append(f"{argv!r}: {outcome.problem}")

    one()
    for p in problems[:10]:
        print("  problem:", p)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specs", type=int, default=10000)
    parser.add_argument("--cli", type=int, default=10000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tuitune-bench-bad-input-"))
    os.environ["TUITUNE_HOME"] = str(work / "home")
    try:
        for name, fn, n in (("specs", bench_specs, args.specs), ("cli", bench_cli, args.cli)):
            if not n:
                continue
            (work / name).mkdir()
            start = time.perf_counter()
            counts = fn(n, work / name)
            took = time.perf_counter() - start
            tried = counts["refused"] + counts["accepted"]
            print(f"{name}: {tried} inputs in {took:.0f} s: {counts['refused']} refused, "
                  f"{counts['accepted']} accepted, {counts['problems']} tracebacks or "
                  "broken refusals")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

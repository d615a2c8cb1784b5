"""`tuitune` command line: argument parsing, then calls into the engine and store.

Exit status: 0 success, 1 a command was refused by the running experiment or
failed, 2 bad input (spec, arguments, values): nothing was started or changed.
Every failure is one line on stderr; an unexpected one also leaves its traceback
in a log file that the line names (see `_unexpected`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from tuitune.client import summary
from tuitune.core.ascii_text import AsciiStream, needs_ascii
from tuitune.core.textsafe import escape_controls
from tuitune.engine.command_kind import add_trial_id, non_negative_int, positive_int, trial_id_arg
from tuitune.engine.commands import COMMAND_KINDS

EXAMPLES = """\
examples:
  tuitune run sample_specs/quickstart.toml          start a run and open the TUI
  tuitune run sample_specs/quickstart.toml --headless
                                                    no TUI: follow its events; Ctrl-C
                                                    stops following, not the run
  tuitune follow quickstart                         follow a run's events again
  tuitune ls                                        list runs on this machine
  tuitune attach quickstart                         reopen the TUI on a run (name prefix)
  tuitune kill quickstart 3                         kill trial 3
  tuitune clone quickstart 3 --set lr=0.01 --from-checkpoint
  tuitune tweak quickstart 3 lr=0.003               change a mutable parameter live
  tuitune new quickstart lr=0.1 units=64            start a trial by hand
  tuitune handoff quickstart bayes --more 20        let Bayesian search run 20 more trials
  tuitune export quickstart --format csv > points.csv
  tuitune insight quickstart                        what matters, what to try next
  tuitune space quickstart lr=0.01..0.3 --log       narrow a live run's search space
  tuitune space quickstart --free units             search a fixed parameter again
  tuitune budget quickstart --more 10 --max-concurrent 4
"""


class OneLineParser(argparse.ArgumentParser):
    """Argument errors in one line (plus where to look), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {escape_controls(message)} "
                     f"(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="tuitune", description="Babysit deep-learning experiments from the terminal.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, help="where runs live (default $TUITUNE_HOME/runs "
                   "or ~/.tuitune/runs)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True,
                           help="what to do; `tuitune COMMAND --help` describes each")

    def add(name: str, help_: str, example: str, run_arg: bool = True
            ) -> argparse.ArgumentParser:
        # Every command shows one example under its help (tests/engine/test_cli_help.py).
        sp = sub.add_parser(name, help=help_, description=help_,
                            epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        if run_arg:
            sp.add_argument("run", help="run name, unique prefix, or run folder")
        return sp

    def as_json(sp: argparse.ArgumentParser, what: str = "as JSON") -> None:
        sp.add_argument("--json", action="store_true",
                        help=f"{what}, for scripts (keys in docs/cli.md); values exact")

    sp = add("run", "Start an experiment from a spec and open the TUI on it.",
             "tuitune run sample_specs/quickstart.toml --headless", run_arg=False)
    sp.add_argument("spec", type=Path, help="experiment spec (TOML)")
    sp.add_argument("--headless", action="store_true",
                    help="no TUI: follow the (detached) supervisor, printing one line per "
                         "event and the leaderboard at the end; exit status 0 when the run "
                         "finishes, 3 when it was stopped, 1 when its supervisor died. "
                         "Ctrl-C or a hangup stops only the following")
    sp.add_argument("--no-mouse", action="store_true", help="TUI without mouse reporting "
                    "(cheaper over slow SSH links)")
    sp.add_argument("--ascii", action="store_true", help="draw with ASCII only (bars, "
                    "sparklines, charts); the default where the locale is not UTF-8")
    sp.add_argument("--reference", metavar="RUN[:ID]", help="draw that run's best trial "
                    "(or trial ID of it), dotted, on the charts (to compare against)")
    sp.add_argument("--warm-start", nargs="+", metavar="RUN",
                    help="earlier runs whose finished trials seed the searcher (imported, "
                         "not rerun, not counted in the budget; `status --imported` lists them)")
    sp.add_argument("--ray", metavar="ADDRESS", help="run trials on a Ray cluster (e.g. "
                    "HEAD:6379, or 'auto'); needs `pip install \"tuitune[ray]\"`")
    sp = add("attach", "Open the TUI on a run (starts its supervisor if none is running; "
             "on a finished run, the first action starts one).", "tuitune attach quickstart")
    sp.add_argument("--no-mouse", action="store_true", help="TUI without mouse reporting")
    sp.add_argument("--ascii", action="store_true", help="draw with ASCII only (bars, "
                    "sparklines, charts); the default where the locale is not UTF-8")
    sp.add_argument("--reference", metavar="RUN[:ID]", help="draw that run's best trial "
                    "(or trial ID of it), dotted, on the charts (to compare against)")
    sp = add("resume", "Start a supervisor for a run whose supervisor died (crash, reboot): "
             "live trials are adopted, dead ones marked lost.", "tuitune resume quickstart")
    sp.add_argument("--headless", action="store_true",
                    help="then follow it, as `tuitune run --headless` does")
    sp = add("follow", "Print a run's events as they happen, then the leaderboard when it "
             "ends; exit status as `tuitune run --headless`.", "tuitune follow quickstart -n 50")
    sp.add_argument("-n", "--lines", type=non_negative_int, default=10,
                    help="earlier events to show first (default 10)")
    sp = add("ls", "List runs on this machine, oldest first: start time, state (live, "
             "finished, detached, unreadable), trials done/total, best objective.",
             "tuitune ls --json", run_arg=False)
    as_json(sp, "one JSON object per run, in a list")
    sp = add("status", "Show a run's trials, their state and objective (fits the terminal; "
             "parameters wrap under each row).", "tuitune status quickstart --wide")
    sp.add_argument("--wide", action="store_true",
                    help="every column in the row, however wide")
    sp.add_argument("--imported", action="store_true",
                    help="the trials imported from earlier runs (--warm-start), and those "
                         "refused with the reason")
    as_json(sp)
    sp = add("best", "Show the leaderboard of a run.", "tuitune best quickstart --by end")
    sp.add_argument("--by", choices=summary.RANKINGS, default="best",
                    help="rank by each trial's best value (default), or by its end: the "
                         f"mean of its last {summary.END_POINTS} values, less noisy than one "
                         "lucky report")
    as_json(sp, "every ranked trial as JSON")
    # The command kinds (engine/commands.py): each declares its subcommand.
    for kind in COMMAND_KINDS:
        kind.cli.arguments(add(kind.cli.name, kind.cli.help, kind.cli.example))
    sp = add("export", "Export every reported point (values exact).",
             "tuitune export quickstart --format csv -o points.csv")
    sp.add_argument("--format", choices=("csv", "json"), default="csv",
                    help="csv: one row per point; json: trials, points and events (default csv)")
    sp.add_argument("--output", "-o", type=Path, help="file to write (default stdout)")
    sp = add("logs", "Show a trial's log (control characters shown escaped, e.g. \\x1b).",
             "tuitune logs quickstart 3 -f")
    add_trial_id(sp)
    sp.add_argument("-n", "--lines", type=positive_int, default=40,
                    help="last lines to show (default 40)")
    sp.add_argument("-f", "--follow", action="store_true",
                    help="then print new lines as they are written, until the trial ends "
                         "(Ctrl-C stops following)")
    sp.add_argument("--raw", action="store_true", help="write the log as it is, "
                    "escape sequences included (they act on your terminal)")
    sp = add("events", "Show the run's event log (who did what, when).",
             "tuitune events quickstart --trial 3 -f")
    sp.add_argument("--trial", type=trial_id_arg, metavar="ID", help="only this trial's events")
    sp.add_argument("-f", "--follow", action="store_true",
                    help="then print events as they happen, until the run ends (exit status "
                         "as `tuitune follow`; Ctrl-C stops following)")
    as_json(sp, "one JSON object per line (JSON Lines)")
    sp = add("insight", "Which parameters matter (PED-ANOVA) and what to try next, with the "
             "evidence (see docs/insight.md).", "tuitune insight quickstart --json")
    sp.add_argument("--json", action="store_true", help="as JSON")
    sp = add("compare", "The best trials of two runs side by side: parameters and objective.",
             "tuitune compare quickstart-20261202-0610 quickstart-20261202-0702 -n 3",
             run_arg=False)
    sp.add_argument("runs", nargs=2, metavar="RUN", help="run name, unique prefix, or folder")
    sp.add_argument("-n", type=positive_int, default=1, metavar="N",
                    help="the N best trials of each run (default 1)")
    as_json(sp, "the two leaderboards")
    sp = add("gpu", "GPU and host monitor (no experiment needed).", "tuitune gpu --once",
             run_arg=False)
    sp.add_argument("--once", action="store_true", help="print one snapshot and exit")
    as_json(sp, "one snapshot as JSON (implies --once)")
    sp.add_argument("--end", type=positive_int, metavar="PID",
                    help="end (SIGTERM) one of your GPU processes that no live trial of any "
                         "run here owns, e.g. one a killed trial left behind")
    sp.add_argument("--no-mouse", action="store_true", help="monitor without mouse reporting")
    sp.add_argument("--ascii", action="store_true", help="draw with ASCII only (bars, "
                    "sparklines, charts); the default where the locale is not UTF-8")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from tuitune.client.cli_commands import HANDLERS, report_error

    handler: Callable[[argparse.Namespace], int] = HANDLERS[args.command]
    _ascii_terminal(raw=getattr(args, "raw", False))
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `tuitune export RUN | head`
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0
    except Exception as exc:
        code = report_error(exc)
        return _unexpected(exc) if code is None else code


def _ascii_terminal(raw: bool = False) -> None:
    """A terminal without a UTF-8 locale gets what is printed in ASCII (`…` as `~`, `→`
    as `>`), as the TUI draws it (issue 14.6): it would show their bytes as garbage.
    Pipes and files get the text as it is; so does `logs --raw` (as it is, by ask)."""
    if not raw and sys.stdout.isatty() and needs_ascii():
        sys.stdout = AsciiStream(sys.stdout)  # type: ignore[assignment]


def _unexpected(exc: Exception) -> int:
    """The last boundary: a bug shows as one line, its traceback goes to a private log."""
    where = "nowhere (could not write it)"
    try:
        fd, path = tempfile.mkstemp(prefix="tuitune-error-", suffix=".log")  # mode 0600
        with os.fdopen(fd, "w") as fh:
            fh.write("tuitune " + " ".join(map(repr, sys.argv[1:])) + "\n")
            traceback.print_exception(exc, file=fh)
        where = path
    except OSError:
        pass
    message = escape_controls(f"{type(exc).__name__}: {exc}")
    print(f"tuitune: internal error: {message} (a bug; the traceback is in {where})",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

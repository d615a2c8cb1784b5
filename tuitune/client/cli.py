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

from tuitune.core.textsafe import escape_controls

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


#: Ids, counts and pids are stored in SQLite, whose integers have 64 bits.
_MAX_INT = 2**63 - 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= _MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer (below 2^63), "
                                         f"got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 or more), got {text!r}")
    return value


def _trial_id(text: str) -> int:
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a trial id (a positive integer), got {text!r}"
                                         ) from None


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

    def trial_id(sp: argparse.ArgumentParser, what: str = "the trial") -> None:
        sp.add_argument("id", type=_trial_id, metavar="ID", help=f"{what} (its id, as "
                        "`tuitune status` lists it)")

    def as_json(sp: argparse.ArgumentParser, what: str = "as JSON") -> None:
        sp.add_argument("--json", action="store_true",
                        help=f"{what}, for scripts (keys in docs/cli.md); values exact")

    def trial_budget(sp: argparse.ArgumentParser, total_rule: str) -> None:
        budget = sp.add_mutually_exclusive_group()
        budget.add_argument("--more", type=_non_negative_int, metavar="N",
                            help="N more trials from now (counting every trial started so far)")
        budget.add_argument("--max-trials", type=_positive_int, metavar="TOTAL",
                            help=f"a total for the whole run; {total_rule} the trials it has had")
        sp.add_argument("--max-concurrent", type=_positive_int, metavar="N",
                        help="at most N trials at once (default: as it is)")

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
    sp.add_argument("--warm-start", nargs="+", metavar="RUN",
                    help="earlier runs whose finished trials seed the searcher (imported, "
                         "not rerun, not counted in the budget; `status --imported` lists them)")
    sp.add_argument("--ray", metavar="ADDRESS", help="run trials on a Ray cluster (e.g. "
                    "HEAD:6379, or 'auto'); needs `pip install \"tuitune[ray]\"`")
    sp = add("attach", "Open the TUI on a run (starts its supervisor if none is running; "
             "on a finished run, the first action starts one).", "tuitune attach quickstart")
    sp.add_argument("--no-mouse", action="store_true", help="TUI without mouse reporting")
    sp = add("resume", "Start a supervisor for a run whose supervisor died (crash, reboot): "
             "live trials are adopted, dead ones marked lost.", "tuitune resume quickstart")
    sp.add_argument("--headless", action="store_true",
                    help="then follow it, as `tuitune run --headless` does")
    sp = add("follow", "Print a run's events as they happen, then the leaderboard when it "
             "ends; exit status as `tuitune run --headless`.", "tuitune follow quickstart -n 50")
    sp.add_argument("-n", "--lines", type=_non_negative_int, default=10,
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
    sp = add("best", "Show the leaderboard of a run.", "tuitune best quickstart --json")
    as_json(sp, "every ranked trial as JSON")
    sp = add("kill", "Kill trials (SIGTERM to the process group, SIGKILL after a grace period).",
             "tuitune kill quickstart 3 4")
    sp.add_argument("ids", type=_trial_id, nargs="+", metavar="ID",
                    help="trials to kill (all are checked before any is killed)")
    sp = add("pause", "Pause a running trial (SIGSTOP to its process group).",
             "tuitune pause quickstart 3")
    trial_id(sp, "the trial to pause")
    sp = add("unpause", "Resume a paused trial (SIGCONT).", "tuitune unpause quickstart 3")
    trial_id(sp, "the paused trial")
    sp = add("clone", "Start a new trial with a trial's parameters, optionally changed.",
             "tuitune clone quickstart 3 --set lr=0.01 --from-checkpoint")
    trial_id(sp, "the trial to copy")
    sp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a parameter (repeatable)")
    sp.add_argument("--from-checkpoint", action="store_true",
                    help="start from the source trial's latest checkpoint, not from scratch")
    sp = add("tweak", "Change mutable parameters of a running trial (applied at its next step).",
             "tuitune tweak quickstart 3 lr=0.003")
    trial_id(sp, "the running trial")
    sp.add_argument("assignments", nargs="+", metavar="NAME=VALUE",
                    help="a mutable parameter's new value")
    sp = add("new", "Start a trial by hand; unnamed parameters take their defaults.",
             "tuitune new quickstart lr=0.1 units=64")
    sp.add_argument("assignments", nargs="*", metavar="NAME=VALUE",
                    help="a parameter's value (the others take their defaults)")
    sp = add("note", "Attach a note to a trial.", "tuitune note quickstart 3 'diverged at 2k'")
    trial_id(sp)
    sp.add_argument("text", help="the note (replaces the trial's earlier note)")
    for name, what in (("star", "Star a trial (pinned in the TUI chart)."),
                       ("protect", "Protect a trial from stopping rules.")):
        sp = add(name, what, f"tuitune {name} quickstart 3")
        trial_id(sp)
        sp.add_argument("--off", action="store_true", help="undo")
    sp = add("handoff", "Hand the run to automatic search (or back to manual).",
             "tuitune handoff quickstart bayes --more 20")
    sp.add_argument("strategy", help="manual, random, grid, coordinate or bayes")
    trial_budget(sp, "must be above")
    sp.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="a strategy option (repeatable)")
    sp = add("requeue", "Restart a finished (e.g. lost) trial as a new trial from its last "
             "checkpoint.", "tuitune requeue quickstart --lost")
    sp.add_argument("ids", type=_trial_id, nargs="*", metavar="ID",
                    help="finished trials to restart")
    sp.add_argument("--lost", action="store_true", help="every lost trial")
    add("stop", "Stop the experiment: kill its trials and end its supervisor (one is "
        "started to do it if the run's supervisor died; a reused pid is never signalled).",
        "tuitune stop quickstart")
    sp = add("export", "Export every reported point (values exact).",
             "tuitune export quickstart --format csv -o points.csv")
    sp.add_argument("--format", choices=("csv", "json"), default="csv",
                    help="csv: one row per point; json: trials, points and events (default csv)")
    sp.add_argument("--output", "-o", type=Path, help="file to write (default stdout)")
    sp = add("logs", "Show a trial's log (control characters shown escaped, e.g. \\x1b).",
             "tuitune logs quickstart 3 -f")
    trial_id(sp)
    sp.add_argument("-n", "--lines", type=_positive_int, default=40,
                    help="last lines to show (default 40)")
    sp.add_argument("-f", "--follow", action="store_true",
                    help="then print new lines as they are written, until the trial ends "
                         "(Ctrl-C stops following)")
    sp.add_argument("--raw", action="store_true", help="write the log as it is, "
                    "escape sequences included (they act on your terminal)")
    sp = add("events", "Show the run's event log (who did what, when).",
             "tuitune events quickstart --trial 3 -f")
    sp.add_argument("--trial", type=_trial_id, metavar="ID", help="only this trial's events")
    sp.add_argument("-f", "--follow", action="store_true",
                    help="then print events as they happen, until the run ends (exit status "
                         "as `tuitune follow`; Ctrl-C stops following)")
    as_json(sp, "one JSON object per line (JSON Lines)")
    sp = add("insight", "Which parameters matter (PED-ANOVA) and what to try next, with the "
             "evidence (see docs/insight.md).", "tuitune insight quickstart --json")
    sp.add_argument("--json", action="store_true", help="as JSON")
    sp = add("space", "Change a live run's search space: a numbered revision; running trials "
             "are not touched.", "tuitune space quickstart lr=0.01..0.3 --log")
    sp.add_argument("ranges", nargs="*", metavar="NAME=LOW..HIGH",
                    help="a new range (or NAME=a,b,c: a categorical's choices)")
    sp.add_argument("--log", action="store_true", help="the given ranges are log scaled")
    sp.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                    help="fix a parameter at a value (repeatable)")
    sp.add_argument("--free", action="append", default=[], metavar="NAME",
                    help="search a fixed parameter again, over the range it last had "
                         "(repeatable)")
    sp.add_argument("--choices", action="append", default=[], metavar="NAME=a,b",
                    help="a categorical's choices: NAME=a,b sets them, NAME+=c adds c, "
                         "NAME-=c drops c (repeatable)")
    sp.add_argument("--undo", action="store_true", help="go back to the previous revision")
    sp = add("budget", "Change a live run's budget: more or fewer trials, concurrency, time "
             "caps. A budget below what has already run is refused.",
             "tuitune budget quickstart --more 10 --max-concurrent 4 --experiment-timeout 2h")
    trial_budget(sp, "not below")
    sp.add_argument("--trial-timeout", metavar="DURATION",
                    help="each trial's time cap (90s, 30m, 2h; off: none); running trials "
                         "too, so not below the time one has already run")
    sp.add_argument("--experiment-timeout", metavar="DURATION",
                    help="the whole run's time cap, from its start (off: none); not below "
                         "the time it has run")
    sp = add("gpu", "GPU and host monitor (no experiment needed).", "tuitune gpu --once",
             run_arg=False)
    sp.add_argument("--once", action="store_true", help="print one snapshot and exit")
    as_json(sp, "one snapshot as JSON (implies --once)")
    sp.add_argument("--end", type=_positive_int, metavar="PID",
                    help="end (SIGTERM) one of your GPU processes that no live trial of any "
                         "run here owns, e.g. one a killed trial left behind")
    sp.add_argument("--no-mouse", action="store_true", help="monitor without mouse reporting")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from tuitune.client.cli_commands import HANDLERS, report_error

    handler: Callable[[argparse.Namespace], int] = HANDLERS[args.command]
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

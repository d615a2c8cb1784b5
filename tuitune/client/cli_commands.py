"""What each `tuitune` subcommand does: thin calls into the engine and the store."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuitune.client import summary
from tuitune.client.run_client import Reply, RunClient
from tuitune.core.history import FINISHED_STATES, LIVE_STATES
from tuitune.core.space import SpaceError
from tuitune.core.spec import SpecError, load_spec, notify_command_problem, unused_params_warning
from tuitune.core.textsafe import escape_controls, log_line
from tuitune.engine.command_kind import CommandKind
from tuitune.engine.commands import COMMAND_KINDS, CommandError
from tuitune.engine.logs import log_tail
from tuitune.engine.ownership import NotYours
from tuitune.engine.runs import (
    RunNotFound,
    create_run,
    ensure_supervisor,
    list_runs,
    resolve_run,
    runs_root,
    spawn_supervisor,
    supervisor_info,
    trial_dir,
    wait_for_supervisor,
)
from tuitune.store import (
    DB_NAME,
    EventRecord,
    RunStore,
    StoreError,
    StoreUnreadable,
    StoreVersionError,
)

if TYPE_CHECKING:
    from tuitune.engine.follow import Outcome


def report_error(exc: BaseException) -> int | None:
    """Print a one-line error for expected failures; the exit status, or None."""
    if isinstance(exc, (SpecError, CommandError, SpaceError, RunNotFound, StoreVersionError,
                        FileNotFoundError)):
        return _say(str(exc), 2)
    if isinstance(exc, (StoreError, StoreUnreadable, NotYours)):
        return _say(str(exc), 1)
    if isinstance(exc, PermissionError):  # e.g. a file in the run that is not ours
        return _say(f"permission denied: {exc.filename or exc}", 1)
    if isinstance(exc, OSError) and exc.strerror:  # a full disk, a vanished folder
        return _say(f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror, 1)
    return None


def _show(text: str, flush: bool = False) -> None:
    """Print a report that quotes others (notes, a failed trial's last output lines):
    its control sequences shown as text, never obeyed by the terminal."""
    print(escape_controls(text, keep="\n\t"), flush=flush)


def _say(message: str, code: int) -> int:
    # Names and values in messages come from users and files: keep them one line.
    print(f"tuitune: error: {escape_controls(message)}", file=sys.stderr)
    return code


def _root(args: argparse.Namespace) -> Path:
    return args.root or runs_root()


def _client(args: argparse.Namespace) -> RunClient:
    return RunClient(resolve_run(args.run, _root(args)))


def _print_reply(reply: Reply) -> int:
    stream = sys.stdout if reply.ok else sys.stderr
    print(reply.message if reply.ok else f"tuitune: {reply.explanation}", file=stream)
    return 0 if reply.ok or reply.status == "pending" else 1


# -- starting, following and attaching ------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if args.ray:
        spec = spec.with_executor("ray", address=args.ray)
    problem = notify_command_problem(spec)
    if problem:
        raise SpecError(str(spec.path), "", problem.split(": ", 1)[1])
    reference = _reference(args)
    warm = _warm_start(spec, list(spec.search.warm_start) + list(args.warm_start or []),
                       _root(args))  # before anything is created: a bad source changes nothing
    warning = unused_params_warning(spec)
    if warning:  # also an event of the run, for the TUI and `tuitune events`
        print(f"tuitune: {warning}", file=sys.stderr, flush=True)
    run_dir = create_run(spec, _root(args), warm_start=warm)
    if warm is not None:
        from tuitune.engine.warm_start import summary as warm_summary

        print(warm_summary(warm), flush=True)
    after = _last_event(run_dir)  # the follower shows what happens from here on
    pid = spawn_supervisor(run_dir)
    if args.headless:
        return _follow(run_dir, after, f"run {run_dir.name} in {run_dir}; supervisor pid {pid} "
                       "(detached: it goes on if this terminal goes away)", spawned=pid)
    if not _started(run_dir, pid):
        return 1
    return _open_tui(run_dir, mouse=not args.no_mouse, ascii=args.ascii or None,
                     reference=reference)


def _warm_start(spec: Any, names: list[str], root: Path) -> dict[str, Any] | None:
    """The trials imported from the named runs, or None without any."""
    if not names:
        return None
    from tuitune.engine.warm_start import WarmStartError, gather

    dirs: list[Path] = []
    for name in names:
        run_dir = resolve_run(name, root)
        if run_dir not in dirs:
            dirs.append(run_dir)
    try:
        return gather(spec, dirs)
    except WarmStartError as exc:
        raise CommandError(str(exc)) from None


def _started(run_dir: Path, pid: int) -> bool:
    if wait_for_supervisor(run_dir, pid):
        return True
    print(f"tuitune: error: the supervisor did not start; see {run_dir}/supervisor.log",
          file=sys.stderr)
    return False


def _last_event(run_dir: Path, keep: int = 0) -> int:
    from tuitune.engine.follow import last_event_id

    store = RunStore(run_dir, readonly=True)
    try:
        return last_event_id(store, keep)
    finally:
        store.close()


def _follow(run_dir: Path, after_id: int, intro: str | None = None,
            spawned: int | None = None) -> int:
    """Print the run's events until it ends, then the leaderboard; exit with its outcome
    (engine/follow.py). Ctrl-C, a hangup or a closed pipe stop only the following, also
    while the `spawned` supervisor is still starting."""
    from tuitune.engine.follow import follow, manual_hint

    previous = signal.signal(signal.SIGHUP, _hung_up)
    try:
        if spawned is not None and not _started(run_dir, spawned):
            return 1
        if intro:
            print(intro, flush=True)
        hint = None
        try:
            store = RunStore(run_dir, readonly=True)
        except FileNotFoundError:
            pass  # the run folder was deleted already: follow says so
        else:
            try:
                hint = manual_hint(store, run_dir.name)
            finally:
                store.close()
        if hint:
            print(hint, flush=True)
        outcome = follow(run_dir, lambda line: _show(line, flush=True), after_id)
        _print_end(run_dir, outcome)
        return outcome.exit_status
    except (KeyboardInterrupt, _HungUp) as exc:
        _say_quietly(f"\nstopped following {run_dir.name}; the run goes on. Follow it again "
                     f"with `tuitune follow {run_dir.name}`, open the TUI with `tuitune attach "
                     f"{run_dir.name}`, end it with `tuitune stop {run_dir.name}`.")
        return 129 if isinstance(exc, _HungUp) else 130
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EIO):
            raise
        # EPIPE: `| tee log` and tee was killed; EIO: the terminal is gone (SIGHUP ignored).
        _silence_stdout()
        return 141 if exc.errno == errno.EPIPE else 129
    finally:
        signal.signal(signal.SIGHUP, previous)


def _print_end(run_dir: Path, outcome: Outcome) -> None:
    if not (run_dir / DB_NAME).exists():  # the run folder was deleted
        print(f"tuitune: run {run_dir.name} ended: {outcome.reason}", file=sys.stderr)
        return
    client = RunClient(run_dir)  # reads the spec the run was started with
    try:
        verdict = "finished" if outcome.finished else "ended"
        print(f"\nrun {run_dir.name} {verdict}: {outcome.reason}\n"
              + summary.leaderboard(client.store, client.spec, width=_width()), flush=True)
    finally:
        client.close()
    if not outcome.finished:
        print(f"tuitune: `tuitune resume {run_dir.name}` starts a new supervisor",
              file=sys.stderr)


class _HungUp(Exception):
    """The terminal went away (SIGHUP): stop following."""


def _hung_up(signum: int, frame: Any) -> None:
    raise _HungUp()


def _say_quietly(line: str) -> None:
    """A last line to a terminal that may be gone or a pipe nobody reads."""
    try:
        print(line, flush=True)
    except OSError:
        _silence_stdout()


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; with the reader gone that would print a
    # traceback, so stdout goes to /dev/null from here on.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def cmd_follow(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, _root(args))
    return _follow(run_dir, _last_event(run_dir, keep=args.lines))


def _reference(args: argparse.Namespace) -> Any:
    """`--reference RUN`: that run's best trial, read now (a bad one refused at once)."""
    if not getattr(args, "reference", None):
        return None
    from tuitune.client.reference import NoReference, best_of

    name, sep, trial = args.reference.rpartition(":")  # RUN:ID pins one trial of it
    if not (sep and trial.isdigit() and name):
        name, trial = args.reference, ""
    try:
        return best_of(resolve_run(name, _root(args)), int(trial) if trial else None)
    except NoReference as exc:
        raise CommandError(str(exc)) from None


def _open_tui(run_dir: Path, mouse: bool, ascii: bool | None = None,
              reference: Any = None) -> int:
    from tuitune.ui import run_tui

    run_tui(run_dir, mouse=mouse, ascii=ascii, reference=reference)
    print(f"detached from {run_dir.name}: trials keep running. Reattach with "
          f"`tuitune attach {run_dir.name}`; end it with `tuitune stop {run_dir.name}`.")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, _root(args))
    reference = _reference(args)
    # A finished run has nothing for a supervisor to do until the first action, which
    # starts one (engine/client.py); any other run without one gets one now.
    if not _finished(run_dir) and not ensure_supervisor(run_dir):
        print(f"tuitune: error: could not start a supervisor; see {run_dir}/supervisor.log",
              file=sys.stderr)
        return 1
    return _open_tui(run_dir, mouse=not args.no_mouse, ascii=args.ascii or None,
                     reference=reference)


def _finished(run_dir: Path) -> bool:
    store = RunStore(run_dir, readonly=True)
    try:
        return store.meta(["state"]).get("state") == "finished"
    finally:
        store.close()


def cmd_resume(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, _root(args))
    store = RunStore(run_dir)
    try:
        info = supervisor_info(store)
        if info.alive:
            print(f"run {run_dir.name} is already supervised (pid {info.pid})")
            return 0
        store.set_meta(state="resuming")
    finally:
        store.close()
    after = _last_event(run_dir)
    pid = spawn_supervisor(run_dir, resume=True)
    took = (f"supervisor pid {pid} took over {run_dir.name}; `tuitune attach {run_dir.name}` "
            "opens the TUI")
    if args.headless:
        return _follow(run_dir, after, took, spawned=pid)
    if not _started(run_dir, pid):
        return 1
    print(took)
    return 0


# -- reading ---------------------------------------------------------------------------------
def _width() -> int:
    """The terminal's width; 80 when stdout is not a terminal (and no $COLUMNS)."""
    return shutil.get_terminal_size((80, 24)).columns


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def cmd_ls(args: argparse.Namespace) -> int:
    runs = summary.sort_runs([summary.run_overview(d) for d in list_runs(_root(args))])
    if args.json:
        _print_json([r.to_json() for r in runs])
    elif not runs:
        print(f"no runs in {_root(args)}")
    else:
        print(summary.runs_table(runs, width=_width()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        info = supervisor_info(client.store)
        if args.json:
            _print_json(summary.status_json(client.store, client.spec,
                                            info.pid if info.alive else None))
            return 0
        if args.imported:
            from tuitune.engine.warm_start import META_KEY, imported_table

            _show(imported_table(client.store.meta([META_KEY]).get(META_KEY)))
            return 0
        sup = f"pid {info.pid}" if info.alive else "not running"
        _show(summary.status(client.store, client.spec, sup,
                             width=None if args.wide else _width()))
    finally:
        client.close()
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        try:
            if args.json:
                _print_json(summary.leaderboard_json(client.store, client.spec, by=args.by))
            else:
                _show(summary.leaderboard(client.store, client.spec, width=_width(), by=args.by))
        except ValueError as exc:  # --by end on a run with several objectives
            raise CommandError(str(exc)) from None
    finally:
        client.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        fn = summary.export_csv if args.format == "csv" else summary.export_json
        text = fn(client.store, client.spec)
    finally:
        client.close()
    if args.output:
        try:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, _root(args))
    path = trial_dir(run_dir, args.id) / "log.txt"
    if not path.exists():
        raise CommandError(f"trial {args.id} has no log (yet)")
    # A trial's output could set the clipboard (OSC 52), retitle or redraw the
    # terminal: shown as text unless asked for raw.
    shown = (lambda line: line) if args.raw else log_line
    if not args.follow:
        text = log_tail(path, args.lines)
        print(text if args.raw else "\n".join(shown(line) for line in text.split("\n")))
        return 0
    from tuitune.client.log_follow import follow_log

    store = RunStore(run_dir, readonly=True)
    try:
        return _quietly_following(lambda: follow_log(
            path, args.lines, lambda line: print(shown(line), flush=True),
            ended=lambda: _trial_over(store, args.id)))
    finally:
        store.close()


def _trial_over(store: RunStore, trial_id: int) -> bool:
    if not store.path.exists():  # the run folder was deleted
        return True
    t = store.trial(trial_id)
    return t is None or t.state in FINISHED_STATES


def _quietly_following(follow: Callable[[], Any]) -> int:
    """Ctrl-C or a closed pipe end a `-f` quietly (no traceback); the run goes on."""
    try:
        result = follow()
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EIO):
            raise
        _silence_stdout()
        return 141 if exc.errno == errno.EPIPE else 129
    return result if isinstance(result, int) else 0


def cmd_events(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, _root(args))

    def render(e: EventRecord) -> str | None:
        if args.trial is not None and e.trial_id != args.trial:
            return None
        if args.json:
            return json.dumps(summary.event_json(e))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.t))
        return escape_controls(f"{stamp}  {e.actor:22s} {e.message}", keep="\n\t")

    if args.follow:
        from tuitune.engine.follow import follow

        def follow_events() -> int:
            outcome = follow(run_dir, lambda line: print(line, flush=True), render=render)
            if not outcome.finished:
                print(f"tuitune: run {run_dir.name} ended: {outcome.reason}", file=sys.stderr)
            return outcome.exit_status

        return _quietly_following(follow_events)
    store = RunStore(run_dir, readonly=True)
    try:
        for e in store.events(trial_id=args.trial):
            print(render(e))
    finally:
        store.close()
    return 0


# -- steering: the command kinds (engine/commands.py) ----------------------------------------
def send_kind(kind: CommandKind[Any], args: argparse.Namespace) -> int:
    """`tuitune KIND RUN ...`: the kind's CLI form builds the commands; several (`kill 3
    4`) are all validated before any is sent, so a bad one changes nothing."""
    client = _client(args)
    try:
        payloads = kind.cli.payloads(args, client)
        if len(payloads) > 1:
            for payload in payloads:
                client.check(kind.name, payload)
        return max(_print_reply(client.send(kind.name, p)) for p in payloads)
    finally:
        client.close()


def cmd_gpu(args: argparse.Namespace) -> int:
    if args.end is not None:
        return _end_gpu_orphan(args.end, _root(args))
    if args.once or args.json:
        from tuitune.system.report import main as report_main

        return report_main(["--once"] + (["--json"] if args.json else []))
    from tuitune.ui import run_monitor

    run_monitor(mouse=not args.no_mouse, ascii=args.ascii or None)
    return 0


def _end_gpu_orphan(pid: int, root: Path) -> int:
    """`tuitune gpu --end PID`: what the GPU screen's K does, for the shell."""
    from tuitune.system import NvmlGpuSource, ProcessIdentity, SystemSampler
    from tuitune.system.gpu_procs import end_gpu_orphan

    roots: dict[int, ProcessIdentity] = {}
    names: dict[int, str] = {}
    for run_dir in list_runs(root):  # every live trial here owns its processes
        try:
            store = RunStore(resolve_run(str(run_dir)), readonly=True)
        except (StoreUnreadable, StoreVersionError, NotYours, OSError):
            continue  # not a run we can vouch for
        try:
            live = store.trials(LIVE_STATES)
        finally:
            store.close()
        for t in live:
            if t.pid and t.pid_start:
                key = len(roots)
                roots[key] = ProcessIdentity(t.pid, t.pid_start)
                names[key] = f"trial {t.id} of run {run_dir.name}"
    sampler = SystemSampler(NvmlGpuSource())
    try:
        snapshot = sampler.sample(roots)
    finally:
        sampler.close()
    if not snapshot.gpus:
        print(f"tuitune: {snapshot.gpu_status}; nothing was signalled", file=sys.stderr)
        return 1
    ended, said = end_gpu_orphan(pid, snapshot, names)
    print(said if ended else f"tuitune: {said}", file=sys.stdout if ended else sys.stderr)
    return 0 if ended else 1


def cmd_insight(args: argparse.Namespace) -> int:
    import json

    from tuitune.client.insight_feed import run_insight
    from tuitune.insight.report import text_report

    client = _client(args)
    try:
        insight, space, _ = run_insight(client.store, client.spec)
    finally:
        client.close()
    if args.json:
        print(json.dumps(insight.to_json(), indent=2, default=str))
    else:
        print(text_report(insight, space))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from tuitune.client.compare import compare_json, compare_text

    clients = [RunClient(resolve_run(name, _root(args))) for name in args.runs]
    try:
        runs = [(c.run_dir.name, c.store, c.spec) for c in clients]
        if args.json:
            _print_json(compare_json(runs, args.n))
        else:
            _show(compare_text(runs, args.n))
    finally:
        for c in clients:
            c.close()
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run, "follow": cmd_follow, "attach": cmd_attach, "resume": cmd_resume, "ls": cmd_ls,
    "status": cmd_status, "best": cmd_best, "export": cmd_export, "logs": cmd_logs,
    "events": cmd_events, "gpu": cmd_gpu, "insight": cmd_insight, "compare": cmd_compare,
    **{kind.cli.name: partial(send_kind, kind) for kind in COMMAND_KINDS},
}

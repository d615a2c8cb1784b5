"""tuitune never acts on a run another user could have written (issue 12.12).

Real ownership: folders are chowned to nobody (uid 65534) and chmodded, as root, and
a second part runs the CLI as nobody (setpriv) against root's runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli_process import run_forked
from tests.support.processes import cli
from tests.support.stray import processes_mentioning
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run
from tuitune.store import RunStore

from .bad_input import one_trial_spec

NOBODY = 65534
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="chown to another uid needs root")

#: A trial that leaves a mark: if it ever runs, the refusal failed.
SPEC = one_trial_spec(name="theirs", command='["{python}", "-c", '
                      '"import pathlib; pathlib.Path(\'CANARY\').touch()", "{lr}"]')


def _make_run(folder: Path, root: Path) -> tuple[Path, Path]:
    """A run with a queued trial whose command would create `canary`."""
    canary = folder / "canary"
    spec = folder / "theirs.toml"
    spec.write_text(SPEC.replace("CANARY", str(canary)))
    run_dir = create_run(load_spec(spec), root)
    store = RunStore(run_dir)
    try:
        store.create_trial({"lr": 0.01}, origin="manual", actor="test")
    finally:
        store.close()
    return run_dir, canary


def _chown_tree(path: Path, uid: int) -> None:
    for dirpath, _, files in os.walk(path):
        os.chown(dirpath, uid, uid)
        for f in files:
            os.chown(os.path.join(dirpath, f), uid, uid)


def _nothing_ran_or_runs(run_dir: Path, canary: Path) -> None:
    """No supervisor log, no canary, and (the CLI has exited) no process that carries
    the test home and so could still make one: a check, not a fixed wait."""
    assert not (run_dir / "supervisor.log").exists()
    home = str(run_dir.parent.parent)
    assert not processes_mentioning(home), [p.cmdline() for p in processes_mentioning(home)]
    assert not canary.exists()


def _refused_and_nothing_ran(run_dir: Path, canary: Path, command: str, words: str) -> None:
    out = cli(command, str(run_dir.name), timeout=60)
    assert out.returncode != 0, out.stdout
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("tuitune: error: "), \
        out.stderr
    assert words in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    # No supervisor was started for it (it would have written its log), no trial has
    # run its command, and nothing is left that still could.
    _nothing_ran_or_runs(run_dir, canary)


@needs_root
@pytest.mark.parametrize("command", ["resume", "attach", "status", "kill"])
def test_world_writable_runs_root_is_refused(tmp_path, tt_home, command):
    """The attack: a world-writable runs folder; a run in it planted by another user."""
    root = tt_home / "runs"
    run_dir, canary = _make_run(tmp_path, root)
    os.chmod(root, 0o777)
    _chown_tree(run_dir, NOBODY)
    argv = [command, "1"] if command == "kill" else [command]
    out = cli(*argv[:1], run_dir.name, *argv[1:], timeout=60)
    assert out.returncode != 0 and out.stderr.count("\n") == 1, out.stderr
    assert "writable by group or others" in out.stderr and str(root) in out.stderr
    _nothing_ran_or_runs(run_dir, canary)


@needs_root
def test_world_writable_runs_root_refuses_ls_and_new_runs(tmp_path, tt_home):
    root = tt_home / "runs"
    _make_run(tmp_path, root)
    os.chmod(root, 0o777)
    listing = cli("ls")
    assert listing.returncode != 0 and "writable by group or others" in listing.stderr
    started = cli("run", str(tmp_path / "theirs.toml"), "--headless")
    assert started.returncode != 0 and "writable by group or others" in started.stderr
    assert len(list(root.iterdir())) == 1  # no second run was created


@needs_root
@pytest.mark.parametrize("command", ["resume", "status", "attach"])
def test_run_folder_of_another_user_is_refused(tmp_path, tt_home, command):
    run_dir, canary = _make_run(tmp_path, tt_home / "runs")
    _chown_tree(run_dir, NOBODY)
    _refused_and_nothing_ran(run_dir, canary, command, "belongs to nobody (uid 65534)")


@needs_root
def test_store_of_another_user_is_refused(tmp_path, tt_home):
    run_dir, canary = _make_run(tmp_path, tt_home / "runs")
    os.chown(run_dir / "store.db", NOBODY, NOBODY)
    _refused_and_nothing_ran(run_dir, canary, "resume", "belongs to nobody")


@needs_root
def test_group_or_world_writable_run_folder_is_refused(tmp_path, tt_home):
    run_dir, canary = _make_run(tmp_path, tt_home / "runs")
    os.chmod(run_dir, 0o707)
    _refused_and_nothing_ran(run_dir, canary, "resume", "writable by group or others")


@needs_root
def test_ls_lists_other_runs_and_marks_the_foreign_one(tmp_path, tt_home):
    root = tt_home / "runs"
    theirs, _ = _make_run(tmp_path, root)
    mine, _ = _make_run(tmp_path, root)
    _chown_tree(theirs, NOBODY)
    listing = cli("ls")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert "unreadable" in lines[theirs.name] and "permission denied" in lines[theirs.name]
    assert lines[mine.name].split()[3:5] == ["detached", "0/1"]  # state, trials done/total


@needs_root
def test_run_under_a_world_writable_folder_is_refused(tmp_path, tt_home):
    """Given as a path: a folder above it (not sticky) lets others swap the run."""
    shared = tmp_path / "shared"
    run_dir, canary = _make_run(tmp_path, shared)
    os.chmod(shared.parent, 0o777)
    try:
        out = cli("resume", str(run_dir))
        assert out.returncode != 0 and "without the sticky bit" in out.stderr, out.stderr
        assert not (run_dir / "supervisor.log").exists()
    finally:
        os.chmod(shared.parent, 0o700)


# -- as a user who may not look into the run -------------------------------------------------
# The natural test runs the CLI as nobody (setpriv --reuid 65534), but this machine's Python
# lives under /root (mode 0700), which nobody cannot read. Root without the two capabilities
# that bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) meets the same
# EACCES from the kernel that any other user meets on someone else's 0700 run folder.
_NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
           "--inh-caps", "-dac_override,-dac_read_search"]


def _without_dac(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process forked from one started under setpriv: it has the same
    capabilities (none of the two) as a `setpriv ... python -m tuitune` would."""
    return run_forked(list(args), 60, prefix=tuple(_NO_DAC))


@needs_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing")
@pytest.mark.parametrize("command", ["status", "resume", "export", "logs", "kill", "attach"])
def test_someone_elses_run_is_one_line_permission_denied(tmp_path, tt_home, command):
    run_dir, canary = _make_run(tmp_path, tt_home / "runs")
    _chown_tree(run_dir, NOBODY)  # theirs, mode 0700: we may not look inside
    probe = subprocess.run([*_NO_DAC, "ls", str(run_dir)], capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("dropping CAP_DAC_OVERRIDE did not take effect here")
    extra = ["1"] if command in ("logs", "kill") else []
    for target in (run_dir.name, str(run_dir)):
        out = _without_dac(command, target, *extra)
        assert out.returncode != 0, out.stdout
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.startswith("tuitune: error: permission denied: "), out.stderr
    assert not canary.exists() and not (run_dir / "supervisor.log").exists()

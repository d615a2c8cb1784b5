"""The full-disk drill (shared/notes/fault-drills.md), shared by the test and the
benchmark: a run on a real tmpfs filled to the last byte, trials that count what they
report in a file outside it, and the counts compared with what the store holds."""

from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.specs import write_spec
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, spawn_supervisor
from tuitune.store import RunStore

#: Reports two metrics per step; writes its own count of reported points outside the
#: run's disk after every 20 steps and at the end.
COUNTING_TRIAL = """
import os, time
import tuitune.in_trial.trial as tt
p = tt.params()
steps, sleep = int(p["steps"]), float(p["sleep"])
count_file = os.path.join(p["count_dir"], os.environ["TUITUNE_TRIAL_ID"])
sent = 0
def note():
    with open(count_file + ".tmp", "w") as fh:
        fh.write(str(sent))
    os.replace(count_file + ".tmp", count_file)
for step in range(1, steps + 1):
    tt.report(step, loss=1.0 / step, acc=step / steps)
    sent += 2
    if step % 20 == 0:
        note()
    time.sleep(sleep)
note()
time.sleep(float(p["linger"]))  # all written meanwhile: then the exit has nothing to wait for
"""

#: What the spec adds to the engine tests' usual one (helpers.write_spec).
EXTRA_SPACE = """
[space.linger]
type = "fixed"
value = {linger}

[space.count_dir]
type = "fixed"
value = "{count_dir}"
"""


def mount_tmpfs(mnt: Path, size: str) -> str | None:
    """Mount a tmpfs of `size` at `mnt`; returns why not, or None."""
    mnt.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(mnt)], capture_output=True, text=True)
    return None if done.returncode == 0 else f"cannot mount a tmpfs (needs root): " \
        f"{done.stderr.strip()}"


def unmount(mnt: Path) -> None:
    """End the processes of runs kept there, then unmount."""
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("TUITUNE_HOME") == str(mnt):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = mnt / "filler"
    chunk = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, chunk[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler


@dataclass(frozen=True)
class Drill:
    run_dir: Path
    supervisor: int
    counts: Path
    trials: int

    def stored(self) -> dict[int, int]:
        """Points the store holds, per trial."""
        store = RunStore(self.run_dir)
        try:
            return {t.id: len(store.metrics(trial_id=t.id)) for t in store.trials()}
        finally:
            store.close()

    def reported(self) -> dict[int, int]:
        """Points each trial says it reported."""
        return {int(f.name): int(f.read_text()) for f in self.counts.iterdir()
                if not f.name.endswith(".tmp")}

    def reporting(self, at_least: int) -> bool:
        stored = self.stored()
        return len(stored) == self.trials and all(v >= at_least for v in stored.values())

    def supervisor_gone(self) -> bool:
        try:
            return psutil.Process(self.supervisor).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True


def start(folder: Path, trials: int, steps: int, sleep: float = 0.01,
          linger: float = 0.0) -> Drill:
    """Create a run in $TUITUNE_HOME and start its supervisor as `tuitune run` does."""
    counts = folder / "counts"
    counts.mkdir()
    spec_path = write_spec(folder, script=COUNTING_TRIAL, name="full", steps=steps,
                           sleep=sleep, strategy="random", concurrent=trials,
                           budget=f"max_trials = {trials}",
                           extra=EXTRA_SPACE.format(linger=linger, count_dir=counts))
    run_dir = create_run(load_spec(spec_path))
    return Drill(run_dir, spawn_supervisor(run_dir), counts, trials)

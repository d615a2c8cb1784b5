"""The escaping-daemon drill, shared by the test suite (a few repetitions) and
benchmarks/bench_escapes.py (fifty).

Each repetition starts one trial whose script, at a moment the drill picks, double-
forks a daemon that calls setsid() (leaving the trial's process group) and ignores
SIGTERM; the trial is then ended by `kill` or by `stop` 0 to 0.5 s after the daemon
was asked to be born. Half the trials ignore SIGTERM too, so the engine has to
escalate to SIGKILL. Survivors are found by walking /proc, independently of the
engine's own code.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.specs import write_spec
from tests.support.waiting import wait_for
from tuitune.client.run_client import RunClient
from tuitune.core.spec import load_spec
from tuitune.engine.runs import create_run, trial_dir
from tuitune.engine.supervisor import Supervisor

DAEMONIZER = """
import os, signal, sys, time
folder = os.environ["TUITUNE_TRIAL_DIR"]
if os.environ.get("IGNORE_TERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(folder, "ready"), "w").close()
go = os.path.join(folder, "go")
while not os.path.exists(go):
    time.sleep(0.002)
time.sleep(float(open(go).read()))
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(os.path.join(folder, f"daemon-{os.getpid()}"), "w"):
            pass
        time.sleep(600)
    os._exit(0)
time.sleep(600)
"""

LEAD_S = 0.5  # the trial is ended this long after the drill says "go"
# The trial runs this long (at random up to) before "go", so that the daemon is born
# at any phase of the supervisor's periodic record of trial trees (every 2 s).
SETTLE_S = 2.0


@dataclass
class Repetition:
    action: str  # "kill" or "stop"
    ignores_term: bool
    daemon_delay: float  # seconds after "go" the script forks (0 to LEAD_S)
    daemons: list[int]  # pids the daemons wrote, if born
    survivors: list[int]  # processes of the trial alive after it was recorded ended


def survivors(folder: Path) -> list[int]:
    """Live processes whose environment names this trial's folder (every process
    of a trial inherits it), found by walking /proc."""
    needle = f"TUITUNE_TRIAL_DIR={folder}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state != b"Z":
            found.append(int(name))
    return found


def repeat(workdir: Path, home: Path, repetitions: int, seed: int = 0,
           latest_birth: float = LEAD_S) -> list[Repetition]:
    """Each daemon is born 0 to `latest_birth` seconds before its trial is ended."""
    rng = random.Random(seed)
    spec = write_spec(workdir / "exp", script=DAEMONIZER,
                      extra='\n[env]\nIGNORE_TERM = "0"\n')
    out = []
    for i in range(repetitions):
        ignores = i % 2 == 1
        text = spec.read_text().replace('IGNORE_TERM = "0"', f'IGNORE_TERM = "{int(ignores)}"')
        spec.write_text(text)
        action = "stop" if i % 4 >= 2 else "kill"
        delay = rng.uniform(LEAD_S - latest_birth, LEAD_S)
        out.append(_one(load_spec(spec), home, action, ignores, delay, rng.uniform(0, SETTLE_S)))
    return out


def _tick_for(sup: Supervisor, seconds: float) -> None:
    """Let the supervisor's loop run, as a real one does, for `seconds`."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        sup.tick()
        time.sleep(0.02)


def _one(spec, home: Path, action: str, ignores: bool, delay: float, settle: float
         ) -> Repetition:
    run_dir = create_run(spec, home / "runs")
    sup = Supervisor(run_dir)
    sup.register()
    client = RunClient(run_dir)
    try:
        client.store.enqueue_command("new", {"params": client.spec.space.defaults()}, "user")
        folder = trial_dir(run_dir, 1)
        wait_for(lambda: (sup.tick(), (folder / "ready").exists())[1], 30, "the trial")
        _tick_for(sup, settle)
        go = folder / "go.tmp"
        go.write_text(repr(delay))
        go.replace(folder / "go")
        _tick_for(sup, LEAD_S)
        args = {"trial_id": 1} if action == "kill" else {}
        client.store.enqueue_command(action, args, "user")
        wait_for(lambda: (sup.tick(), client.store.trial(1).state == "killed")[1], 60,
                 f"the trial to be recorded killed after {action}")
        daemons = [int(p.name.split("-")[1]) for p in folder.glob("daemon-*")]
        return Repetition(action, ignores, delay, daemons, survivors(folder))
    finally:
        sup.close()
        client.close()

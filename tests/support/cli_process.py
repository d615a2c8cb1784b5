"""`tuitune ARGS` in a process of its own, without an interpreter start each time.

One server process per test session imports the CLI (and the search registry a spec
check loads) once; each call is a child forked from it that takes the caller's
environment, working folder and umask (and namespaces: one server per set of them),
has /dev/null as stdin and files as stdout and stderr, runs `tuitune.client.cli.main`
as `python -m tuitune` does, and exits with its status. To what it starts (a supervisor, a follower) and to the test it is a CLI
process like any other: its own pid, its own exit status, its children left behind
when it exits. What it skips is the interpreter's start and the imports (about 1 s a
call on a loaded 2-core machine); tests of those start `python -m tuitune` themselves
(tests/engine/test_engine_imports.py, `start_headless`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading

SERVER = r"""
import json, os, sys, traceback
import tuitune.client.cli as cli
import tuitune.client.cli_commands, tuitune.search, tuitune.stopping  # noqa: F401
requests, answers = sys.stdin, sys.stdout
for line in iter(requests.readline, ""):
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(req["cwd"])
            os.umask(req["umask"])
            os.environ.clear()
            os.environ.update(req["env"])
            for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                    (1, req["out"], os.O_WRONLY),
                                    (2, req["err"], os.O_WRONLY)):
                opened = os.open(path, flags)
                os.dup2(opened, fd)
                os.close(opened)
            sys.argv = [cli.__file__, *req["argv"]]
            try:
                code = cli.main(req["argv"])
            except SystemExit as exc:  # as the interpreter treats it
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    answers.write(f"{pid}\n")
    answers.flush()
    answers.write(f"{os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}\n")
    answers.flush()
"""

_lock = threading.Lock()
# By the argv before python and the caller's namespaces.
_servers: dict[tuple[tuple[str, ...], tuple[str, ...]], subprocess.Popen[str]] = {}


def _namespaces() -> tuple[str, ...]:
    """The calling thread's namespaces: a child takes its server's, and a test may have
    entered others since (the Ray cluster's private network, tests/ray_cluster)."""
    folder = "/proc/thread-self/ns"
    try:
        return tuple(f"{name}:{os.readlink(os.path.join(folder, name))}"
                     for name in sorted(os.listdir(folder)))
    except OSError:
        return ()


def _started(prefix: tuple[str, ...]) -> subprocess.Popen[str]:
    key = (prefix, _namespaces())
    server = _servers.get(key)
    if server is None or server.poll() is not None:
        # No TUITUNE_* variables: the server outlives each test, and the tt_home safety
        # net ends every process whose environment names the test's home.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUITUNE_")}
        server = _servers[key] = subprocess.Popen(
            [*prefix, sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    return server


def _answer(server: subprocess.Popen[str], timeout: float | None) -> str:
    assert server.stdout is not None
    if timeout is not None and not select.select([server.stdout], [], [], timeout)[0]:
        raise TimeoutError
    line = server.stdout.readline()
    if not line:
        raise RuntimeError("the CLI server died")
    return line


def run_forked(argv: list[str], timeout: float, prefix: tuple[str, ...] = ()
               ) -> subprocess.CompletedProcess[str]:
    """`tuitune ARGV` in a forked process; as `subprocess.run(..., capture_output=True,
    text=True, timeout=timeout)` would give it. `prefix` runs the server (and so every
    call it forks) under a wrapper such as `setpriv ...`."""
    with _lock, tempfile.TemporaryDirectory(prefix="tuitune-cli-") as tmp:
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        for path in (out, err):
            open(path, "w").close()
        umask = os.umask(0)
        os.umask(umask)
        server = _started(prefix)
        assert server.stdin is not None
        server.stdin.write(json.dumps({"argv": argv, "env": dict(os.environ), "out": out,
                                       "err": err, "cwd": os.getcwd(), "umask": umask})
                           + "\n")
        server.stdin.flush()
        pid = int(_answer(server, 30))
        try:
            code = int(_answer(server, timeout))
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            _answer(server, 30)
            raise subprocess.TimeoutExpired(["tuitune", *argv], timeout) from None
        with open(out) as o, open(err) as e:  # decoded as subprocess's text=True does
            return subprocess.CompletedProcess(["tuitune", *argv], code, o.read(), e.read())

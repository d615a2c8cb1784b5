"""A real two-node Ray cluster on this machine, for the Ray executor's tests and
benchmark, listening on nothing but loopback.

`ray start` binds its gRPC servers on every interface and resolves 127.0.0.1 to
the machine's address, so the cluster is started inside a private network
namespace that has only a loopback interface: nothing outside this machine (or
outside the namespace) can reach it. The calling thread enters that namespace
(root only: unshare(CLONE_NEWNET)); processes it starts afterwards (ray start,
the supervisor, trials) live in it too, and `close()` leaves it again.

    with LocalRayCluster(tmp) as cluster:      # head {"head": 1} + node2 {"node2": 1}
        cluster.address                         # "127.0.0.1:6379"
        cluster.kill_node2()                    # node death: SIGKILL its whole tree
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
PORT = 6379
# Fast node-death detection for the tests (defaults take tens of seconds).
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
               "RAY_health_check_initial_delay_ms": "0", "RAY_health_check_timeout_ms": "1000"}


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be started here (the reason says why); tests skip."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _loopback_up() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, req)[:18])[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


class PrivateNetwork:
    """The calling thread (and what it starts) moves to a namespace with only loopback."""

    def __init__(self) -> None:
        self._saved: int | None = None

    def enter(self) -> None:
        if not sys.platform.startswith("linux"):
            raise ClusterUnavailable("a private network namespace needs Linux")
        self._saved = os.open("/proc/self/ns/net", os.O_RDONLY)
        if _libc().unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            os.close(self._saved)
            self._saved = None
            raise ClusterUnavailable("cannot make a private network namespace for the test "
                                     f"cluster ({os.strerror(err)}; needs root)")
        _loopback_up()

    def leave(self) -> None:
        if self._saved is not None:
            _libc().setns(self._saved, CLONE_NEWNET)
            os.close(self._saved)
            self._saved = None


class LocalRayCluster:
    def __init__(self, root: Path | None = None, num_cpus: int = 2,
                 node2_cpus: int | None = None, timeout: float = 120) -> None:
        if shutil.which("ray") is None:
            raise ClusterUnavailable("the `ray` command is not installed")
        self.root = Path(tempfile.mkdtemp(prefix="ttray-", dir="/tmp"))  # short: socket paths
        self.address = f"127.0.0.1:{PORT}"
        self.num_cpus = num_cpus
        self.node2_cpus = node2_cpus or num_cpus
        self.timeout = timeout
        self.net = PrivateNetwork()
        self.head: subprocess.Popen[bytes] | None = None
        self.node2: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, **FAST_HEALTH, "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_AUTH_MODE": "disabled"}  # only loopback in a private namespace

    def __enter__(self) -> LocalRayCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ray_start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.root / log, "wb")
        try:
            return subprocess.Popen(["ray", "start", "--block", "--disable-usage-stats", *args],
                                    stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True, stdin=subprocess.DEVNULL)
        finally:
            out.close()

    def start(self) -> None:
        self.net.enter()
        try:
            self.head = self._ray_start(
                ["--head", f"--port={PORT}", f"--num-cpus={self.num_cpus}", "--num-gpus=0",
                 "--resources", json.dumps({"head": 1}), "--include-dashboard=false",
                 f"--temp-dir={self.root / 't'}"], "head.log")
            self._wait_port()
            self.node2 = self._ray_start(
                [f"--address={self.address}", f"--num-cpus={self.node2_cpus}", "--num-gpus=0",
                 "--resources", json.dumps({"node2": 1})], "node2.log")
            self.wait_nodes(2)
        except BaseException:
            self.close()
            raise

    def _wait_port(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.head is not None and self.head.poll() is not None:
                raise ClusterUnavailable(f"ray start --head failed: {self.log('head.log')}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    return
            time.sleep(0.2)
        raise ClusterUnavailable(f"the Ray head did not come up: {self.log('head.log')}")

    def wait_nodes(self, count: int) -> None:
        """Until `count` nodes are alive (asked in a child process, so this one never
        becomes a Ray driver by accident)."""
        code = ("import ray,sys,time\n"
                f"ray.init(address='{self.address}', log_to_driver=False,"
                " logging_level='ERROR')\n"
                f"d=time.time()+{self.timeout}\n"
                "while time.time()<d:\n"
                f"    if sum(n['Alive'] for n in ray.nodes())>={count}: sys.exit(0)\n"
                "    time.sleep(0.2)\n"
                "sys.exit(1)\n")
        done = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True,
                              timeout=self.timeout + 30)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{count} Ray nodes did not come up: "
                                     f"{done.stderr.decode()[-500:]} {self.log('node2.log')}")

    def nodes(self) -> list[dict]:
        """[{"NodeID", "Alive", "Resources"}] as Ray's GCS sees them."""
        return json.loads(self._ask("json.dumps([{k: n[k] for k in ('NodeID', 'Alive', "
                                    "'Resources')} for n in ray.nodes()])"))

    def idle_cpus(self) -> bool:
        """Whether every CPU of the cluster is free again (no actor holds one)."""
        return self._ask("ray.available_resources().get('CPU', 0) >= "
                         "ray.cluster_resources().get('CPU', 0)") == "True"

    def _ask(self, expression: str) -> str:
        """`expression` evaluated by a driver in a child process (so this one never
        becomes a Ray driver by accident); its printed value."""
        code = ("import json,ray\n"
                f"ray.init(address='{self.address}', log_to_driver=False,"
                " logging_level='ERROR')\n"
                f"print({expression})\n")
        done = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout.strip().splitlines()[-1]

    def node_id(self, resource: str) -> str:
        """The id of the live node that has the custom resource ("head" or "node2")."""
        return next(n["NodeID"] for n in self.nodes()
                    if n["Alive"] and resource in n["Resources"])

    def log(self, name: str) -> str:
        try:
            return (self.root / name).read_text()[-800:]
        except OSError:
            return ""

    def node2_processes(self) -> list[psutil.Process]:
        return _tree(self.node2)

    def kill_node2(self) -> list[int]:
        """Node death: SIGKILL node2's raylet, workers, actors and the trials they run."""
        procs = _tree(self.node2)
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=10)
        return [p.pid for p in procs]

    def close(self) -> None:
        for proc in (self.node2, self.head):
            procs = _tree(proc)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # ray start --block stops its node
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            for p in procs + _tree(proc):
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(procs, timeout=5)
        self.head = self.node2 = None
        self.net.leave()
        shutil.rmtree(self.root, ignore_errors=True)


def _tree(proc: subprocess.Popen[bytes] | None) -> list[psutil.Process]:
    if proc is None:
        return []
    try:
        root = psutil.Process(proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []

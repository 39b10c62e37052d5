"""Real swarm-tracker / swarm-peer processes on loopback, for end-to-end tests.

Every process a test starts is recorded and stopped by PID in tearDown, whatever happened.
"""
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.path.abspath(os.environ.get("SWARMLAB_BIN", os.path.join(os.path.dirname(__file__), "../../build/debug/realnet")))
TRACKER = os.path.join(BIN, "swarm-tracker")
PEER = os.path.join(BIN, "swarm-peer")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_events(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line being written right now
    return out


class Proc:
    def __init__(self, args, workdir, name, stdin=None, stdout=None):
        """`stdout`: a descriptor to write to instead of the process's .out file."""
        self.name = name
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.popen = subprocess.Popen(args, cwd=workdir, stdout=stdout if stdout is not None else self.out,
                                      stderr=self.err,
                                      stdin=stdin if stdin is not None else subprocess.DEVNULL)
        self.pid = self.popen.pid

    def stdout(self):
        self.out.flush()
        with open(self.out_path) as f:
            return f.read()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def send(self, line):
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def kill9(self):
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self):
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.out.close()
        self.err.close()


class PtyProc:
    """A program on a pseudo-terminal, as a person runs it: readline sees a terminal.

    What it prints accumulates in .buf; read_until() waits for a text or a pattern (in what
    came after `since`, a len(buf) taken earlier). History goes to the test's folder.
    """

    def __init__(self, args, workdir):
        import pty
        self.master, slave = pty.openpty()
        self.popen = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=workdir,
                                      env=dict(os.environ, SWARMLAB_HISTORY_DIR=workdir))
        os.close(slave)
        self.pid = self.popen.pid
        self.buf = b""

    def type(self, keys):
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    def read_until(self, text="", pattern=None, timeout=15, since=0):
        def seen():
            got = self.buf[since:]
            if pattern is not None:
                return re.search(pattern, got.decode(errors="replace"))
            return text.encode() in got
        deadline = time.monotonic() + timeout
        while not seen() and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.2)[0]:
                try:
                    self.buf += os.read(self.master, 4096)
                except OSError:
                    break
        return self.buf.decode(errors="replace")

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        if self.master is not None:
            os.close(self.master)
            self.master = None


class SwarmTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="swarmlab-e2e-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def random_file(self, name, size):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def start(self, args, name, stdin=None, stdout=None):
        p = Proc(args, self.dir, name, stdin, stdout)
        self.procs.append(p)
        return p

    def start_pty(self, args):
        p = PtyProc(args, self.dir)
        self.procs.append(p)
        return p

    def start_tracker(self, name="tracker", port=0, extra=(), terminal=False, wrap=()):
        """`wrap` is a command prefix that ends by exec-ing its arguments (same PID)."""
        args = [*wrap, TRACKER, "--listen", f"127.0.0.1:{port}", *extra]
        if not terminal:
            args.append("--no-terminal")
        t = self.start(args, name, stdin=subprocess.PIPE if terminal else None)
        m = wait_for(lambda: re.search(r"Tracker listening on 127\.0\.0\.1:(\d+)", t.stdout()), 15, "the tracker")
        t.port = int(m.group(1))
        return t

    def start_seeder(self, tracker_port, files, name, extra=(), listen_port=0):
        args = [PEER, "--tracker", f"127.0.0.1:{tracker_port}", "--listen", f"127.0.0.1:{listen_port}", "--no-terminal",
                "--id", name, *extra]
        for f in files:
            args += ["--publish", f]
        p = self.start(args, name)
        wait_for(lambda: p.stdout().count("Published ") >= len(files), 60, f"{name} to publish")
        return p

    def start_download(self, tracker_port, file_name, output, name, extra=(), wrap=()):
        """`wrap` is a command prefix that ends by exec-ing its arguments (same PID)."""
        events = self.path(name + ".events.jsonl")
        p = self.start([*wrap, PEER, "--tracker", f"127.0.0.1:{tracker_port}", "--listen", "127.0.0.1:0",
                        "--download", file_name, "--output", output, "--id", name, "--events", events, *extra], name)
        p.events = events
        return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

#!/usr/bin/env python3
"""Loopback benchmarks of the real programs (release build).

  1. 1 seeder -> 1 leecher, one file (default 1 GiB), verified: MB/s.
  2. 1 seeder -> 8 leechers, 256 MiB: time until the last leecher is done, and the share of
     bytes the leechers served each other.
  3. Peak RSS of the seeding peer in each run (VmHWM).

Every process is its own, on 127.0.0.1; all are stopped by PID at the end.
Usage: bench/loopback_throughput.py [--bin build/release/realnet] [--size-mib 1024] [--leechers 8]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MiB), b""):
            h.update(block)
    return h.hexdigest()


def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MiB)
            f.write(os.urandom(n))
            left -= n


class Run:
    def __init__(self, binary, workdir):
        self.bin, self.dir, self.procs = binary, workdir, []

    def start(self, args, name):
        out = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(args, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        p.log = out.name
        self.procs.append(p)
        return p

    def log(self, p):
        with open(p.log) as f:
            return f.read()

    def wait_log(self, p, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log(p))
            if m:
                return m
            if p.poll() is not None:
                break
            time.sleep(0.02)
        raise SystemExit(f"benchmark: {pattern!r} not seen in {p.log}:\n{self.log(p)}")

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def swarm(binary, workdir, src, leechers):
    run = Run(binary, workdir)
    try:
        t = run.start([f"{binary}/swarm-tracker", "--listen", "127.0.0.1:0", "--no-terminal"], "tracker")
        port = int(run.wait_log(t, r"listening on 127\.0\.0\.1:(\d+)").group(1))
        seed = run.start([f"{binary}/swarm-peer", "--tracker", f"127.0.0.1:{port}", "--listen", "127.0.0.1:0",
                          "--no-terminal", "--id", "seed", "--publish", src, "--log-level", "warn"], "seed")
        run.wait_log(seed, r"Published ", timeout=300)
        name = os.path.basename(src)
        start = time.monotonic()
        ds = []
        for i in range(leechers):
            out = os.path.join(workdir, f"out{i}.bin")
            ev = os.path.join(workdir, f"leech{i}.jsonl")
            ds.append((run.start([f"{binary}/swarm-peer", "--tracker", f"127.0.0.1:{port}", "--listen", "127.0.0.1:0",
                                  "--download", name, "--output", out, "--id", f"leech{i}", "--events", ev,
                                  "--seed", "--log-level", "warn"], f"leech{i}"), out, ev))
        # --seed keeps finished leechers serving the others until every one is done.
        for p, out, ev in ds:
            deadline = time.monotonic() + 600
            while not os.path.exists(out) and time.monotonic() < deadline:
                if p.poll() is not None:
                    raise SystemExit(f"benchmark: {p.log} exited:\n{run.log(p)}")
                time.sleep(0.005)
        wall = time.monotonic() - start
        seed_rss = vm_hwm_kib(seed.pid)
        durations, from_seed, from_peers = [], 0, 0
        for p, out, ev in ds:
            with open(ev) as f:
                for line in f:
                    e = json.loads(line)
                    if e["type"] == "download_completed":
                        durations.append(e["duration"])
                    elif e["type"] == "chunk_received":
                        if e["from"] == "seed":
                            from_seed += e["bytes"]
                        else:
                            from_peers += e["bytes"]
        want = sha256_of(src)
        for p, out, ev in ds:
            if sha256_of(out) != want:
                raise SystemExit(f"benchmark: {out} differs from the source")
        return wall, durations, from_seed, from_peers, seed_rss
    finally:
        run.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../build/release/realnet"))
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--swarm-size-mib", type=int, default=256)
    ap.add_argument("--leechers", type=int, default=8)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="swarmlab-bench-")
    try:
        src = os.path.join(work, "one.bin")
        make_file(src, args.size_mib * MiB)
        wall, durations, _, _, rss = swarm(binary, os.path.join(work), src, 1)
        size_mb = args.size_mib * MiB / 1e6
        print(f"1 seeder -> 1 leecher, {args.size_mib} MiB, verified:")
        print(f"  download (first request to verified, renamed file): {durations[0]:.2f} s = {size_mb / durations[0]:.0f} MB/s")
        print(f"  wall time from leecher start:                        {wall:.2f} s = {size_mb / wall:.0f} MB/s")
        print(f"  seeding peer peak RSS: {rss / 1024:.1f} MiB")
        os.remove(src)
        for f in os.listdir(work):
            if f.startswith("out"):
                os.remove(os.path.join(work, f))
        src = os.path.join(work, "crowd.bin")
        make_file(src, args.swarm_size_mib * MiB)
        wall, durations, from_seed, from_peers, rss = swarm(binary, work, src, args.leechers)
        total = from_seed + from_peers
        print(f"1 seeder -> {args.leechers} leechers, {args.swarm_size_mib} MiB each, verified:")
        print(f"  last leecher done after {wall:.2f} s (wall, from the first leecher's start); "
              f"slowest download {max(durations):.2f} s, fastest {min(durations):.2f} s")
        print(f"  aggregate: {args.leechers * args.swarm_size_mib * MiB / 1e6 / wall:.0f} MB/s")
        print(f"  bytes served by leechers to each other: {from_peers / total:.1%} (seed {from_seed / total:.1%})")
        print(f"  seeding peer peak RSS: {rss / 1024:.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

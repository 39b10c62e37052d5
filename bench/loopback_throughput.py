#!/usr/bin/env python3
"""Loopback benchmarks of the real programs (release build).

  1. 1 seeder -> 1 leecher, one file (default 1 GiB), verified: MB/s.
  2. 1 seeder -> 8 leechers, 256 MiB: time until the last leecher is done, and the share of
     bytes the leechers served each other.
  3. Peak RSS of the seeding peer in each run (VmHWM).

Two moments are reported for every download: "verified" (every chunk hashed and written to
the file, i.e. in the page cache) and "done" (fsync and rename: the file is on disk and the
program says so). Both are set against ceilings measured here and now:
  - SHA-256 of chunk-sized blocks, one core;
  - as many processes writing as many new bytes to files (page cache only);
  - the same followed by fsync (durable: bounds "done").
On these virtual machines, memory that has been free for a few seconds goes back to the host,
and the page cache's first touch of it is slow: writing new file data runs at about 0.7 GB/s
into such "cold" memory and at several GB/s into memory freed a moment ago ("warm", which is
what a machine without a balloon driver always has). Each download and ceiling is therefore
measured both ways: cold after a pause, warm with the previous run's files deleted as the
leechers (or writers) start.

Every process is its own, on 127.0.0.1; all are stopped by PID at the end.
Figures vary by 10-20 % from run to run on these machines, so each scenario runs --repeat
times (default 3) and every figure is the median, with the range beside it.
Usage: bench/loopback_throughput.py [--bin build/release/realnet] [--size-mib 1024] [--leechers 8] [--repeat 3]
       [--chunk-size 64KiB]  (16,384 chunks in 1 GiB: how scheduling scales with a file's chunk count)
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
from statistics import median

MiB = 1 << 20


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User plus system time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def write_ceiling(workdir, files, mib_each, fsync):
    """Seconds for `files` processes to each write `mib_each` MiB of new data (and fsync)."""
    def writer(path):
        block = os.urandom(4 * MiB)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for _ in range(mib_each // 4):
            os.write(fd, block)
        if fsync:
            os.fsync(fd)
        os.close(fd)
        os._exit(0)

    paths = [os.path.join(workdir, f"ceiling{i}.bin") for i in range(files)]
    start = time.monotonic()
    pids = []
    for path in paths:
        pid = os.fork()
        if pid == 0:
            writer(path)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    elapsed = time.monotonic() - start
    for path in paths:
        os.remove(path)
    return elapsed


def sha256_rate():
    block = os.urandom(512 * 1024)
    start = time.monotonic()
    for _ in range(512):  # 256 MiB
        hashlib.sha256(block).digest()
    return 256 * MiB / (time.monotonic() - start)


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


def swarm(binary, workdir, src, leechers, chunk_size, free_first=(), leecher_args=()):
    """`free_first`: files deleted just before the leechers start (for warm-memory runs)."""
    run = Run(binary, workdir)
    try:
        t = run.start([f"{binary}/swarm-tracker", "--listen", "127.0.0.1:0", "--no-terminal"], "tracker")
        port = int(run.wait_log(t, r"listening on 127\.0\.0\.1:(\d+)").group(1))
        seed = run.start([f"{binary}/swarm-peer", "--tracker", f"127.0.0.1:{port}", "--listen", "127.0.0.1:0",
                          "--no-terminal", "--id", "seed", "--publish", src, "--chunk-size", chunk_size,
                          "--log-level", "warn"], "seed")
        run.wait_log(seed, r"Published ", timeout=300)
        name = os.path.basename(src)
        seed_cpu = cpu_seconds(seed.pid)  # publishing hashed the whole file: not part of the run
        for path in free_first:
            os.remove(path)
        start = time.monotonic()
        ds, spawned = [], []
        for i in range(leechers):
            spawned.append(time.monotonic())
            out = os.path.join(workdir, f"out{i}.bin")
            ev = os.path.join(workdir, f"leech{i}.jsonl")
            ds.append((run.start([f"{binary}/swarm-peer", "--tracker", f"127.0.0.1:{port}", "--listen", "127.0.0.1:0",
                                  "--download", name, "--output", out, "--id", f"leech{i}", "--events", ev,
                                  "--seed", "--log-level", "warn", *leecher_args], f"leech{i}"), out, ev))
        # --seed keeps finished leechers serving the others until every one is done.
        for p, out, ev in ds:
            deadline = time.monotonic() + 600
            while not os.path.exists(out) and time.monotonic() < deadline:
                if p.poll() is not None:
                    raise SystemExit(f"benchmark: {p.log} exited:\n{run.log(p)}")
                time.sleep(0.005)
        wall = time.monotonic() - start
        seed_rss = vm_hwm_kib(seed.pid)
        # Leechers keep seeding (--seed), so their CPU time is still there to read.
        cpu = cpu_seconds(seed.pid) - seed_cpu + cpu_seconds(t.pid) + sum(cpu_seconds(p.pid) for p, _, _ in ds)
        # The events log is written by a thread of its own: the completion record may land
        # a moment after the renamed file appears.
        for p, out, ev in ds:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with open(ev) as f:
                    if '"download_completed"' in f.read():
                        break
                time.sleep(0.01)
            else:
                raise SystemExit(f"benchmark: no download_completed in {ev}")
        durations, verified, verified_wall, from_seed, from_peers = [], [], [], 0, 0
        for (p, out, ev), t0 in zip(ds, spawned):
            last_chunk, done = 0.0, None
            with open(ev) as f:
                for line in f:
                    e = json.loads(line)
                    if e["type"] == "download_completed":
                        done = e
                    elif e["type"] == "chunk_received":
                        last_chunk = max(last_chunk, e["t"])
                        if e["from"] == "seed":
                            from_seed += e["bytes"]
                        else:
                            from_peers += e["bytes"]
            durations.append(done["duration"])
            # Event times count from the process's start; the download began duration
            # seconds before it completed.
            verified.append(last_chunk - (done["t"] - done["duration"]))
            verified_wall.append(t0 + last_chunk - start)
        want = sha256_of(src)
        for p, out, ev in ds:
            if sha256_of(out) != want:
                raise SystemExit(f"benchmark: {out} differs from the source")
        return wall, max(verified_wall), durations, verified, from_seed, from_peers, seed_rss, cpu
    finally:
        run.stop_all()


def settle():
    """Flush, then wait until freed memory has gone back to the host: the next run is cold."""
    os.sync()
    time.sleep(6)


def remove_outputs(work):
    for f in os.listdir(work):
        if f.startswith("out"):
            os.remove(os.path.join(work, f))


def row(label, cold, warm):
    print(f"  {label:<44}{cold:<34}{warm}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../build/release/realnet"))
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--swarm-size-mib", type=int, default=256)
    ap.add_argument("--leechers", type=int, default=8)
    ap.add_argument("--chunk-size", default="512KiB",
                    help="chunk size of the published file; smaller gives a file of many chunks (default 512KiB)")
    ap.add_argument("--block-size", help="the leechers' --block-size (default: swarm-peer's)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each scenario; figures are medians with their range (default 3)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="swarmlab-bench-")
    try:
        sha_rate = sha256_rate()
        cores = os.cpu_count()
        print(f"SHA-256 of 512 KiB blocks, one core: {sha_rate / 1e6:.0f} MB/s; {cores} cores")
        scenarios = [("1 seeder -> 1 leecher", args.size_mib, 1),
                     (f"1 seeder -> {args.leechers} leechers", args.swarm_size_mib, args.leechers)]
        for title, mib, leechers in scenarios:
            src = os.path.join(work, "src.bin")
            make_file(src, mib * MiB)
            mb = leechers * mib * MiB / 1e6
            reps = []  # one dict of figures per repetition
            for _ in range(args.repeat):
                runs, write_s = {}, {}
                settle()
                extra = ["--block-size", args.block_size] if args.block_size else []
                runs["cold"] = swarm(binary, work, src, leechers, args.chunk_size, leecher_args=extra)
                # Deleting the cold run's files as the warm run's leechers start hands them
                # memory that was in use a moment ago.
                outputs = [os.path.join(work, f) for f in os.listdir(work) if f.startswith("out")]
                runs["warm"] = swarm(binary, work, src, leechers, args.chunk_size, free_first=outputs,
                                     leecher_args=extra)
                remove_outputs(work)
                for memory in ("cold", "warm"):
                    if memory == "cold":
                        settle()
                    write_s[memory] = write_ceiling(work, leechers, mib, fsync=False)
                settle()
                durable_s = write_ceiling(work, leechers, mib, fsync=True)
                figures = {"durable": durable_s}
                for memory, (wall, verified_wall, durations, verified, from_seed, from_peers, rss, cpu) in runs.items():
                    figures[memory] = dict(verified=verified_wall, done=wall, rss=rss / 1024, cpu=cpu,
                                           peers=from_peers / (from_seed + from_peers), write=write_s[memory])
                reps.append(figures)
            os.remove(src)

            def each(memory, key):
                return [r[memory][key] for r in reps]

            def secs(values):  # median, with the range over repetitions
                text = f"{median(values):.2f} s {mb / median(values):.0f} MB/s"
                return text + (f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else "")

            def plain(values, fmt, unit=""):
                text = fmt.format(median(values)) + unit
                return text + (f" ({fmt.format(min(values))}-{fmt.format(max(values))})" if len(values) > 1 else "")

            print(f"\n{title}, {mib} MiB{' each' if leechers > 1 else ''} in {args.chunk_size} chunks, every byte verified"
                  f" (times from the first leecher's start"
                  f"{'; median of %d runs, range in brackets' % args.repeat if args.repeat > 1 else ''})")
            row("", "cold memory", "warm memory")
            row("last leecher verified (hashed, written)", secs(each("cold", "verified")),
                secs(each("warm", "verified")))
            row("last leecher done (fsync, rename)", secs(each("cold", "done")), secs(each("warm", "done")))
            row("ceiling: writing as much new file data", secs(each("cold", "write")), secs(each("warm", "write")))
            row("  ratio verified / ceiling",
                plain([r["cold"]["write"] / r["cold"]["verified"] for r in reps], "{:.2f}"),
                plain([r["warm"]["write"] / r["warm"]["verified"] for r in reps], "{:.2f}"))
            row("ceiling: the same, then fsync (cold)", secs([r["durable"] for r in reps]), "")
            row("  ratio done / ceiling", plain([r["durable"] / r["cold"]["done"] for r in reps], "{:.2f}"),
                plain([r["durable"] / r["warm"]["done"] for r in reps], "{:.2f}"))
            if leechers == 1:
                row("target 1000 MB/s verified: reached",
                    plain([mb / v / 1000 for v in each("cold", "verified")], "{:.2f}", "x"),
                    plain([mb / v / 1000 for v in each("warm", "verified")], "{:.2f}", "x"))
            else:
                row("target last done <= 3 s: reached", plain([3 / v for v in each("cold", "done")], "{:.2f}", "x"),
                    plain([3 / v for v in each("warm", "done")], "{:.2f}", "x"))
                row("bytes leechers served each other", plain([100 * v for v in each("cold", "peers")], "{:.1f}", " %"),
                    plain([100 * v for v in each("warm", "peers")], "{:.1f}", " %"))
            # Whether the run is bound by the CPU, and how much of that CPU hashing alone needs.
            row("CPU time of all processes (user + system)", plain(each("cold", "cpu"), "{:.2f}", " s"),
                plain(each("warm", "cpu"), "{:.2f}", " s"))
            def busy(memory):
                return plain([100 * r[memory]["cpu"] / (cores * r[memory]["done"]) for r in reps], "{:.0f}", " %")

            row("  share of all cores until the last done", busy("cold"), busy("warm"))
            sha_s = mb * 1e6 / sha_rate
            row("  of which SHA-256, at the rate above", f"{sha_s:.2f} s", f"{sha_s:.2f} s")
            row("seeding peer peak RSS", plain(each("cold", "rss"), "{:.1f}", " MiB"),
                plain(each("warm", "rss"), "{:.1f}", " MiB"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

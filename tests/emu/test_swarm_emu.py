"""swarm-emu end to end: real programs in network namespaces on the ns-3 wire, as root.

    SWARMLAB_EMU=build/debug/emu/swarm-emu python3 tests/emu/test_swarm_emu.py

Exits 77 (ctest: skipped), saying why, where this machine cannot run it: not root, no
/dev/net/tun, no `ip`, or network namespaces refused. Every process a run starts is checked
gone by PID afterwards, and so is every namespace and TAP device it made.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMU = os.environ.get("SWARMLAB_EMU", os.path.join(ROOT, "build/release/emu/swarm-emu"))
SMALLEST = os.path.join(ROOT, "scenarios/fidelity/flash-crowd-small.json")


def why_not_here():
    """Why this machine cannot run emulated swarms, or None."""
    if os.geteuid() != 0:
        return "not root (network namespaces and TAP devices need it)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if shutil.which("ip") is None:
        return "no `ip` program (iproute2)"
    probe = f"swarmlab-emu-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return "network namespaces refused: " + made.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def namespaces_of(runner_pid):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.startswith(f"swarmlab-emu-{runner_pid}-")]


def taps_of(runner_pid):
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f" swl{runner_pid}t" in line]


def running(pid):
    """Whether `pid` is a live process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class EmulatedRuns(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="swarmlab-emu-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args):
        self.log = open(os.path.join(self.dir, "swarm-emu.log"), "w")
        p = subprocess.Popen([EMU, *args], stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop, p)
        return p

    def stop(self, p):
        """Ends a runner still going as a user would (Ctrl-C), else kills it and cleans up."""
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(30)
                subprocess.run([EMU, "cleanup"], capture_output=True, timeout=60)
        self.log.close()

    def output(self):
        with open(os.path.join(self.dir, "swarm-emu.log")) as f:
            return f.read()

    def assert_nothing_left(self, runner_pid, child_pids):
        for pid in child_pids:
            self.assertFalse(running(pid), f"process {pid} outlived its run")
        self.assertEqual(namespaces_of(runner_pid), [])
        self.assertEqual(taps_of(runner_pid), [])

    def test_smallest_fidelity_scenario(self):
        out = os.path.join(self.dir, "run")
        # A folder that held an earlier run: its event logs must not be taken for this run's.
        os.makedirs(os.path.join(out, "nodes"))
        with open(os.path.join(out, "scenario.json"), "w") as f:
            f.write("{}")
        with open(os.path.join(out, "nodes/fast-0.jsonl"), "w") as f:
            stale = {"t": 0.5, "node": "fast-0", "type": "download_completed", "file": "dataset.bin",
                     "duration": 0.5, "stale": True}
            f.write((json.dumps(stale) + "\n") * 2000)
        # It ends in about 15 s; a run that hangs is cut at 90 s (and fails: 6 leechers
        # must complete).
        p = self.start("run", SMALLEST, "--out", out, "--keep-data", "--set", "stop.time=90s")
        self.assertEqual(p.wait(150), 0, self.output())
        for name in ("scenario.json", "events.jsonl", "swarm.csv", "summary.json", "run.json"):
            self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        with open(os.path.join(out, "run.json")) as f:
            run = json.load(f)
        self.assertEqual(summary["world"], "emulated")
        self.assertEqual(summary["completed"], summary["leechers"], self.output())
        self.assertGreater(summary["leechers"], 0)
        # Every leecher's file is the seed's, byte for byte: checked here, not taken on trust.
        source = sha256_of(os.path.join(out, "data/source/dataset.bin"))
        leechers = [p["id"] for p in summary["peers"] if p["role"] == "leecher"]
        for peer in leechers:
            self.assertEqual(sha256_of(os.path.join(out, "data", peer, "dataset.bin")), source, peer)
        self.assertEqual(run["files"], {"checked": len(leechers), "identical": len(leechers), "different": []})
        # Linux's TCP counters, read in every namespace before it went: the file's segments at
        # least (a 4 MiB file is over 2,800 of them), none of the hosts missed.
        tcp = run["tcp"]
        self.assertGreater(tcp["segments_sent"], 2800, tcp)
        self.assertLessEqual(tcp["retransmitted_segments"], tcp["segments_sent"])
        self.assertNotIn("hosts_unread", tcp)
        # The events came from the programs themselves, on one timeline.
        with open(os.path.join(out, "events.jsonl")) as f:
            events = [json.loads(line) for line in f]
        nodes = {e["node"] for e in events}
        self.assertTrue({"tracker", "emu", *leechers} <= nodes, nodes)
        # Cause before effect across processes, on their shared clock (--epoch): the runner
        # starts a leecher, then the tracker sees it join, then it receives its first chunk.
        for peer in leechers:
            started = next(e["t"] for e in events if e["node"] == "emu" and e["type"] == "peer_started"
                           and e["peer"] == peer)
            joined = next(e["t"] for e in events if e["node"] == "tracker" and e["type"] == "peer_joined"
                          and e["peer"] == peer)
            first = next(e["t"] for e in events if e["node"] == peer and e["type"] == "chunk_received")
            self.assertLess(started, joined, peer)
            self.assertLess(joined, first, peer)
        self.assertEqual(sum(1 for e in events if e.get("stale")), 0, "an earlier run's events were read")
        done = [e for e in events if e["type"] == "download_completed"]
        self.assertEqual(len(done), len(leechers))
        self.assertTrue(all(0 < e["t"] <= summary["end_time_s"] for e in done))
        # swarm.csv: one row per second, and the swarm's end in its last.
        with open(os.path.join(out, "swarm.csv")) as f:
            rows = f.read().splitlines()
        self.assertGreater(len(rows), 3)
        self.assertEqual(rows[-1].split(",")[rows[0].split(",").index("completed")], str(len(leechers)))
        pids = [proc["pid"] for proc in run["processes"]]
        self.assertEqual(len(pids), len(summary["peers"]) + 1)
        self.assert_nothing_left(p.pid, pids)

    def started_pids(self):
        """PIDs of the swarm programs the runner has started so far (from /proc)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == self.runner.pid and comm in ("swarm-peer", "swarm-tracker"):
                pids.append(int(entry))
        return pids

    def wait_for_programs(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.started_pids()
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        self.fail(f"{count} programs did not start: {self.output()}")

    def test_ctrl_c_stops_every_program_and_keeps_the_folder(self):
        out = os.path.join(self.dir, "run")
        self.runner = self.start("run", SMALLEST, "--out", out)
        pids = self.wait_for_programs(3)
        self.runner.send_signal(signal.SIGINT)
        self.assertEqual(self.runner.wait(30), 130, self.output())
        self.assertIn("interrupted", self.output())
        with open(os.path.join(out, "run.json")) as f:
            self.assertTrue(json.load(f)["interrupted"])
        self.assert_nothing_left(self.runner.pid, pids)

    def test_a_killed_runner_takes_its_programs_along_and_cleanup_removes_the_rest(self):
        out = os.path.join(self.dir, "run")
        self.runner = self.start("run", SMALLEST, "--out", out)
        pids = self.wait_for_programs(3)
        self.runner.kill()
        self.runner.wait(30)
        # The programs die with the runner (they would hold its namespaces otherwise)...
        deadline = time.monotonic() + 10
        while any(running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse([pid for pid in pids if running(pid)])
        # ... the namespaces stay until a later run or `cleanup` finds their runner gone.
        self.assertNotEqual(namespaces_of(self.runner.pid), [])
        cleaned = subprocess.run([EMU, "cleanup"], capture_output=True, text=True, timeout=60)
        self.assertEqual(cleaned.returncode, 0, cleaned.stderr)
        self.assertIn(f"removed swarmlab-emu-{self.runner.pid}-0", cleaned.stdout)
        self.assert_nothing_left(self.runner.pid, pids)

    def test_what_real_programs_cannot_do_is_refused_before_anything_starts(self):
        bad = os.path.join(self.dir, "corrupt.json")
        with open(bad, "w") as f:
            json.dump({"name": "c", "files": [{"name": "f.bin", "size": "1MiB"}],
                       "groups": [{"name": "seed", "role": "seeder", "count": 1},
                                  {"name": "liar", "role": "seeder", "count": 1, "corrupt": True},
                                  {"name": "leech", "count": 1}]}, f)
        r = subprocess.run([EMU, "run", bad, "--out", os.path.join(self.dir, "x")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("groups[1].corrupt", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x")))
        # Values the simulation takes and swarm-peer refuses are refused before any peer would
        # exit 2 and leave the run idle until its stop time.
        for field, value, says in (("strategy.block_size", "\"1KiB\"", "strategy.block_size"),
                                   ("groups[0].retry_after", "\"10min\"", "groups[0].retry_after")):
            r = subprocess.run([EMU, "run", SMALLEST, "--set", f"{field}={value}",
                                "--out", os.path.join(self.dir, "x")],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(says, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "x")))
        # Programs that are not where --programs says: named, nothing made.
        r = subprocess.run([EMU, "run", SMALLEST, "--programs", os.path.join(self.dir, "nowhere"),
                            "--out", os.path.join(self.dir, "x")], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot find swarm-tracker in " + os.path.join(self.dir, "nowhere"), r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x")))
        # A folder that is not a run folder is not cleaned up by a program running as root.
        precious = os.path.join(self.dir, "project")
        os.makedirs(os.path.join(precious, "data"))
        with open(os.path.join(precious, "data", "thesis.tex"), "w") as f:
            f.write("years of work")
        r = subprocess.run([EMU, "run", SMALLEST, "--out", precious], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("holds files but no run folder", r.stderr)
        with open(os.path.join(precious, "data", "thesis.tex")) as f:
            self.assertEqual(f.read(), "years of work")
        self.assertEqual(os.listdir(precious), ["data"])
        # Without root: a clear message, nothing made. (Copies in a folder anyone may enter:
        # the checkout may be in one that only root can.)
        shared = os.path.join(self.dir, "shared")
        os.makedirs(shared)
        os.chmod(self.dir, 0o755)
        os.chmod(shared, 0o777)
        shutil.copy(EMU, shared)
        shutil.copy(SMALLEST, shared)
        nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 os.path.join(shared, "swarm-emu"), "run",
                                 os.path.join(shared, os.path.basename(SMALLEST)),
                                 "--out", os.path.join(shared, "y")],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(nobody.returncode, 1)
        self.assertIn("swarm-emu: needs root", nobody.stderr)
        self.assertFalse(os.path.exists(os.path.join(shared, "y")))


if __name__ == "__main__":
    reason = why_not_here()
    if reason:
        print(f"skipped: {reason}")
        sys.exit(77)
    unittest.main(verbosity=2)

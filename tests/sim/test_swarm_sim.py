"""swarm-sim end to end: small scenarios on ns-3 that run in seconds.

Each test writes a scenario to a temporary folder, runs the real swarm-sim binary (found
through SWARMLAB_SIM) and judges the run folder it wrote.
"""
import csv
import json
import os
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM = os.environ.get("SWARMLAB_SIM", os.path.join(ROOT, "build/release/sim/swarm-sim"))
REPLAY = os.environ.get("SWARMLAB_REPLAY",
                        os.path.join(ROOT, "build/release/bench/ns3-star-replay"))

SMALL_FLASH = {
    "name": "flash-20",
    "seed": 3,
    "packet_size": "9000B",
    "files": [{"name": "f.bin", "size": "4MiB", "chunk_size": "256KiB"}],
    "groups": [
        {"name": "seed", "count": 1, "role": "seeder", "up": "20Mbps", "down": "20Mbps",
         "delay": "10ms"},
        {"name": "leech", "count": 20, "up": "8Mbps", "down": "32Mbps",
         "delay": {"dist": "uniform", "min": "5ms", "max": "30ms"}},
    ],
    "stop": {"time": "10min"},
}


def events_of(run_dir):
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        return [json.loads(line) for line in f]


class SwarmSimTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="swarm-sim-test-")
        self.addCleanup(self.tmp.cleanup)

    def scenario(self, body, name="scenario.json"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(body, f)
        return path

    def run_sim(self, body, *args, out="run", expect_ok=True, env=None):
        path = self.scenario(body)
        out_dir = os.path.join(self.tmp.name, out)
        proc = subprocess.run([SIM, "run", path, "--out", out_dir, *args],
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, **(env or {})})
        if expect_ok:
            self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        return out_dir, proc

    def summary(self, run_dir):
        with open(os.path.join(run_dir, "summary.json")) as f:
            return json.load(f)

    def test_flash_crowd_of_20_completes_every_file(self):
        run, proc = self.run_sim(SMALL_FLASH)
        s = self.summary(run)
        self.assertEqual(s["completed"], 20)
        self.assertEqual(s["incomplete"], 0)
        leechers = [p for p in s["peers"] if p["role"] == "leecher"]
        self.assertEqual(len(leechers), 20)
        for p in leechers:
            self.assertEqual(p["state"], "completed", p)
            # Every byte of the file arrived verified, exactly once per chunk.
            self.assertEqual(p["bytes_received"], 4 * 1024 * 1024, p)
        # Peers served each other: the origin did not send everything.
        self.assertLess(s["bytes_served"]["origin_share"], 0.5)
        self.assertIn("20 of 20 leechers completed", proc.stdout)
        for name in ("scenario.json", "events.jsonl", "swarm.csv", "summary.json", "run.json"):
            self.assertTrue(os.path.exists(os.path.join(run, name)), name)
        with open(os.path.join(run, "swarm.csv")) as f:
            rows = f.read().splitlines()
        self.assertTrue(rows[0].startswith("time_s,online,seeds,leechers"))
        self.assertEqual(rows[-1].split(",")[4], "20")  # completed, in the last snapshot
        # groups.csv: the same snapshots, one row per group, its uplinks' use beside capacity.
        with open(os.path.join(run, "groups.csv")) as f:
            groups = list(csv.DictReader(f))
        self.assertEqual({g["group"] for g in groups}, {"seed", "leech"})
        self.assertEqual(len(groups), 2 * (len(rows) - 1))
        # Bytes count when a packet has left, so only whole-second intervals are held to the
        # capacity (the last, at all_done, may be a few milliseconds long).
        last = {}
        for g in groups:
            t = float(g["time_s"])
            if t - last.get(g["group"], t) >= 0.999:
                self.assertLessEqual(float(g["wire_up_bps"]),
                                     float(g["up_capacity_bps"]) * 1.01, g)
            last[g["group"]] = t
        self.assertTrue(any(float(g["wire_up_bps"]) > 0 for g in groups if g["group"] == "leech"))
        # What waits on the uplinks: a seed that 20 leechers ask at once has a queue, and as
        # the only peer of its group its mean is its maximum.
        seed = [g for g in groups if g["group"] == "seed"]
        self.assertTrue(any(float(g["queued_s_max"]) > 0 for g in seed))
        for g in seed:
            self.assertAlmostEqual(float(g["queued_s_mean"]), float(g["queued_s_max"]), msg=g)
        # What the downloads wait on: the seed downloads nothing; while only the seed holds
        # chunks, the leechers' missing chunks wait on its full pipelines.
        for g in seed:
            self.assertEqual((g["idle_sources"], g["chunks_on_busy_owners"]), ("0", "0"), g)
        leech = [g for g in groups if g["group"] == "leech"]
        self.assertTrue(any(int(g["chunks_on_busy_owners"]) > 0 for g in leech))
        self.assertEqual((leech[-1]["idle_sources"], leech[-1]["chunks_on_busy_owners"]),
                         ("0", "0"))  # all done
        with open(os.path.join(run, "scenario.json")) as f:
            resolved = json.load(f)
        self.assertEqual(resolved["strategy"]["chunk"], "rarest-first")  # defaults filled in

        # The run folder is what analysis/plot.py reads: every figure and the report appear.
        plots = os.path.join(self.tmp.name, "plots")
        plot = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "analysis", "plot.py"), run,
                               "--out", plots], capture_output=True, text=True, timeout=300)
        self.assertEqual(plot.returncode, 0, plot.stderr)
        for name in ("download_cdf.png", "completions.png", "swarm_evolution.png",
                     "replication.png", "upload_share.png", "timeline.png", "report.html"):
            self.assertGreater(os.path.getsize(os.path.join(plots, name)), 1000, name)
        self.assertIn("20/20", plot.stdout)
        bad = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "analysis", "plot.py"),
                              os.path.join(self.tmp.name, "nope"), "--out", plots],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("no such run folder", bad.stderr)

    def test_kumar_ross_ratio_is_never_below_one(self):
        for seed in (1, 2):
            body = dict(SMALL_FLASH, seed=seed)
            run, _ = self.run_sim(body, out=f"kr{seed}")
            kr = self.summary(run)["kumar_ross"]
            self.assertTrue(kr["assumptions_hold"])
            self.assertGreater(kr["t_min_s"], 0)
            # A simulator that beats the minimum distribution time is broken.
            self.assertGreaterEqual(kr["ratio"], 1.0, kr)
            # The ratio splits into bytes and time: the uplinks carried the verified chunks and
            # more (headers, acknowledgements, duplicates), over a fraction of their capacity.
            # Here every peer stays online and the bound is the uplinks' term, so T / T_min =
            # (wire bytes per verified byte) / utilisation.
            up = self.summary(run)["uplinks"]
            self.assertGreater(up["wire_per_verified_byte"], 1.0, up)
            self.assertGreater(up["utilisation"], 0.2, up)
            self.assertLessEqual(up["utilisation"], 1.0, up)
            self.assertAlmostEqual(kr["ratio"], up["wire_per_verified_byte"] / up["utilisation"],
                                   delta=0.02 * kr["ratio"])
            # The first copy cannot be out before the file has gone once through the origin's
            # uplink, nor after the last leecher finished; the origin's uplink carried part of
            # its capacity meanwhile.
            first = self.summary(run)["first_copy"]
            # Counted again from the events: the moment the last chunk of the file first
            # reached a leecher.
            seen = {}
            with open(os.path.join(run, "events.jsonl")) as f:
                for line in f:
                    e = json.loads(line)
                    if e["type"] == "chunk_received":
                        seen.setdefault(e["index"], e["t"])
            self.assertEqual(len(seen), 16)
            self.assertAlmostEqual(first["out_s"], max(seen.values()), places=6)
            self.assertGreaterEqual(first["out_s"], first["origin_alone_s"], first)
            self.assertGreater(first["origin_utilisation"], 0.2, first)
            self.assertLessEqual(first["origin_utilisation"], 1.0, first)

    def test_a_chunk_slower_than_the_request_timeout_is_not_asked_twice(self):
        # 512 KiB at 0.5 Mbps takes over 8 s, twice the request timeout: the bytes arriving
        # while the chunk is on its way keep the source alive, so nothing is re-asked.
        slow = {
            "name": "slow-chunks",
            "seed": 1,
            "files": [{"name": "f.bin", "size": "2MiB", "chunk_size": "512KiB"}],
            "groups": [
                {"name": "seed", "count": 1, "role": "seeder", "up": "500kbps",
                 "down": "500kbps", "delay": "10ms"},
                {"name": "leech", "count": 1, "up": "8Mbps", "down": "8Mbps", "delay": "10ms"},
            ],
            "stop": {"time": "5min"},
        }
        run, _ = self.run_sim(slow)
        s = self.summary(run)
        self.assertEqual(s["completed"], 1)
        kinds = [e["type"] for e in events_of(run)]
        self.assertNotIn("requests_timed_out", kinds)
        self.assertEqual(s["bytes_served"]["origin_seeds"], 2 * 1024 * 1024)

    def test_same_seed_same_run_other_seed_other_run(self):
        a, _ = self.run_sim(SMALL_FLASH, out="a")
        b, _ = self.run_sim(SMALL_FLASH, out="b")
        c, _ = self.run_sim(SMALL_FLASH, "--seed", "99", out="c")
        # ns-3's own event queue instead of sim/event_heap_scheduler: the same run, event
        # for event.
        d, _ = self.run_sim(SMALL_FLASH, out="d", env={"SWARMLAB_NS3_SCHEDULER": "map"})
        for name in ("summary.json", "events.jsonl", "swarm.csv"):
            for other in (b, d):
                with open(os.path.join(a, name), "rb") as fa, \
                        open(os.path.join(other, name), "rb") as fb:
                    self.assertEqual(fa.read(), fb.read(),
                                     f"{name} differs between {a} and {other}")
        with open(os.path.join(a, "events.jsonl"), "rb") as fa, \
                open(os.path.join(c, "events.jsonl"), "rb") as fc:
            self.assertNotEqual(fa.read(), fc.read())

    def test_crashed_only_seed_leaves_downloads_incomplete(self):
        body = dict(SMALL_FLASH, name="seed-crash")
        body["groups"] = [
            {"name": "seed", "count": 1, "role": "seeder", "up": "4Mbps", "down": "4Mbps",
             "delay": "10ms", "crash": {"fraction": 1.0, "from": "3s", "to": "3s"}},
            {"name": "leech", "count": 4, "up": "4Mbps", "down": "32Mbps", "delay": "10ms",
             "retry_after": "0s"},
        ]
        body["stop"] = {"time": "5min"}
        run, _ = self.run_sim(body)
        events = events_of(run)
        crashed = [e for e in events if e["type"] == "peer_crashed"]
        self.assertEqual(len(crashed), 1)
        failed = [e for e in events if e["type"] == "download_failed"]
        self.assertEqual(len(failed), 4, "every leecher should give up")
        for e in failed:
            self.assertEqual(e["code"], "DownloadIncomplete")
            self.assertGreater(e["missing_chunks"], 0)
            self.assertGreater(e["t"], 3.0)
        s = self.summary(run)
        self.assertEqual(s["completed"], 0)
        self.assertEqual(s["download_failures"], 4)

    def test_tracker_crash_and_restart_recovers(self):
        body = dict(SMALL_FLASH, name="tracker-crash")
        body["files"] = [{"name": "f.bin", "size": "8MiB", "chunk_size": "256KiB"}]
        body["tracker"] = {"events": [{"at": "2s", "action": "crash"},
                                      {"at": "6s", "action": "restart"}]}
        # Past the last reconnect a peer's backoff allows (1 + 2 + 4 + 8 s, +20 % jitter):
        # the swarm may finish before a peer whose third try just missed the restart is back.
        body["stop"] = {"time": "30s", "when_all_done": False}
        run, _ = self.run_sim(body)
        events = events_of(run)
        restart = next(e["t"] for e in events if e["type"] == "tracker_restarted")
        rejoined = {e["peer"] for e in events if e["type"] == "peer_joined" and e["t"] > restart}
        self.assertEqual(len(rejoined), 21, "every peer registers again with the new tracker")
        republished = [e for e in events if e["type"] == "file_published" and e["t"] > restart]
        self.assertEqual(len(republished), 1, "the file is known again after the restart")
        self.assertEqual(self.summary(run)["completed"], 20)

    def test_corrupt_peer_is_caught(self):
        body = dict(SMALL_FLASH, name="corrupt")
        body["groups"] = SMALL_FLASH["groups"] + [
            {"name": "liar", "count": 1, "role": "seeder", "up": "50Mbps", "down": "50Mbps",
             "delay": "1ms", "corrupt": True}]
        run, _ = self.run_sim(body)
        s = self.summary(run)
        self.assertEqual(s["completed"], 20)
        self.assertGreater(s["verification_failures"], 0)
        liar = next(p for p in s["peers"] if p["id"] == "liar-0")
        self.assertEqual(liar["bytes_served"], 0, "no bad chunk may count as delivered")

    def test_bad_scenario_exits_2_naming_the_field(self):
        body = dict(SMALL_FLASH)
        body["groups"] = [dict(SMALL_FLASH["groups"][0]),
                          dict(SMALL_FLASH["groups"][1], up="fast")]
        _, proc = self.run_sim(body, expect_ok=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("groups[1].up", proc.stderr)
        self.assertIn("fast", proc.stderr)
        missing = subprocess.run([SIM, "run", os.path.join(self.tmp.name, "nope.json")],
                                 capture_output=True, text=True)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("nope.json: No such file or directory", missing.stderr)

    def test_commands_are_named_usage_errors_exit_2_and_validate_prints_units(self):
        frob = subprocess.run([SIM, "frob"], capture_output=True, text=True)
        self.assertEqual(frob.returncode, 2)
        self.assertIn('unknown command "frob"', frob.stderr)
        bogus = subprocess.run([SIM, "run", "--bogus"], capture_output=True, text=True)
        self.assertEqual(bogus.returncode, 2, bogus.stderr)
        version = subprocess.run([SIM, "--version"], capture_output=True, text=True)
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^swarm-sim \d+\.\d+\.\d+")
        # The resolved scenario reads as a person writes it, and reads back as itself.
        first = subprocess.run([SIM, "validate", self.scenario(SMALL_FLASH)],
                               capture_output=True, text=True)
        self.assertEqual(first.returncode, 0, first.stderr)
        resolved = json.loads(first.stdout)
        self.assertRegex(resolved["files"][0]["size"], r"^\d+(KiB|MiB|GiB|B)$")
        self.assertNotRegex(resolved["groups"][0]["up"], r"^\d{7,}bps$")
        again = subprocess.run([SIM, "validate", self.scenario(resolved)],
                               capture_output=True, text=True)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(again.stdout), resolved)

    def test_sweep_runs_every_combination_and_writes_an_index(self):
        body = dict(SMALL_FLASH, name="sweep")
        body["groups"] = [SMALL_FLASH["groups"][0], dict(SMALL_FLASH["groups"][1], count=5)]
        path = self.scenario(body)
        out = os.path.join(self.tmp.name, "sweep")
        sweep = [SIM, "sweep", path, "--vary", "strategy.chunk=rarest-first,random", "--seeds", "1..2",
                 "--jobs", "2", "--out", out, "--set", "strategy.upload_slots=3"]
        proc = subprocess.run(sweep, capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # One row per variant, mean ± spread across the seeds.
        self.assertRegex(proc.stdout, r"strategy\.chunk=rarest-first\s+2/2\s+10/10\s+[\d.]+ ± [\d.]+")
        self.assertRegex(proc.stdout, r"strategy\.chunk=random\s+2/2\s+10/10\s+[\d.]+ ± [\d.]+")
        with open(os.path.join(out, "index.csv")) as f:
            rows = f.read().splitlines()[1:]
        self.assertEqual(len(rows), 4)
        for row in rows:  # milliseconds and ratios at four decimals, not 17 digits
            self.assertRegex(row, r',5,5,\d+\.\d{3},\d+\.\d{3},\d+\.\d{3},\d\.\d{4},\d+\.\d{4},ok$')
        # Run again: the finished runs are kept, not run again; a different --set reruns.
        again = subprocess.run(sweep, capture_output=True, text=True, timeout=600)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("(4 already done there, kept)", again.stderr)
        self.assertNotIn("1/4 done", again.stderr)
        changed = subprocess.run(sweep[:-1] + ["strategy.upload_slots=2"], capture_output=True, text=True,
                                 timeout=600)
        self.assertEqual(changed.returncode, 0, changed.stderr)
        self.assertNotIn("already done", changed.stderr)
        with open(os.path.join(out, "index.json")) as f:
            index = json.load(f)
        self.assertEqual(len(index), 4)
        self.assertEqual({tuple(e["params"]) for e in index},
                         {("strategy.chunk=rarest-first",), ("strategy.chunk=random",)})
        for e in index:
            self.assertEqual(e["exit_status"], 0)
            self.assertEqual(e["completed"], 5)
            with open(os.path.join(out, e["dir"], "scenario.json")) as f:
                strategy = json.load(f)["strategy"]
            self.assertEqual("strategy.chunk=" + strategy["chunk"], e["params"][0])
            self.assertEqual(strategy["upload_slots"], 2)  # --set reaches every run

    def test_sweep_refuses_bad_arguments_before_running_anything(self):
        path = self.scenario(SMALL_FLASH)
        out = os.path.join(self.tmp.name, "bad-sweep")
        cases = [
            (["--seeds", "5..1"], "--seeds expects a range"),
            (["--seeds", "one,two"], "--seeds expects a range"),
            (["--vary", "strategy.chunk"], "--vary expects field=v1,v2"),
            (["--vary", "strategy.chunk=rarest-first,worst"], "strategy.chunk"),
        ]
        for args, message in cases:
            proc = subprocess.run([SIM, "sweep", path, "--out", out, *args],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn(message, proc.stderr, args)
            self.assertFalse(os.path.exists(os.path.join(out, "index.json")), args)

    def trace_of(self, run):
        with open(os.path.join(run, "traffic.txt")) as f:
            return [line.split() for line in f]

    def replay(self, run):
        proc = subprocess.run([REPLAY, os.path.join(run, "traffic.txt")], capture_output=True,
                              text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_traffic_trace_plays_back_on_bare_ns3(self):
        plain, _ = self.run_sim(SMALL_FLASH, "--quiet", out="plain")
        self.assertFalse(os.path.exists(os.path.join(plain, "traffic.txt")))  # off by default
        run, _ = self.run_sim(SMALL_FLASH, "--quiet", "--set", "record_traffic=true", out="traced")
        with open(os.path.join(run, "scenario.json")) as f:
            self.assertTrue(json.load(f)["record_traffic"])
        with open(os.path.join(run, "run.json")) as f:
            stats = json.load(f)
        # Recording changes nothing in the run.
        with open(os.path.join(plain, "run.json")) as f:
            plain_stats = json.load(f)
        for key in ("ns3_events", "packets_sent", "payload_bytes_sent"):
            self.assertEqual(stats[key], plain_stats[key], key)
        self.assertEqual(events_of(run), events_of(plain))

        lines = self.trace_of(run)
        self.assertEqual(lines[0], ["swarmlab-traffic", "1"])
        kinds = [line[0] for line in lines]
        self.assertEqual(kinds.count("tcp"), 1)
        self.assertEqual(kinds.count("link"), 22)  # the tracker and 21 peers
        self.assertEqual(kinds.count("L"), 22)
        self.assertEqual(lines[-1][0], "E")
        self.assertAlmostEqual(int(lines[-1][1]) / 1e9, stats["simulated_time_s"], places=6)
        written = sum(int(line[4]) for line in lines if line[0] == "W")
        accepts = kinds.count("A")
        self.assertGreater(accepts, 20)
        self.assertLessEqual(accepts, kinds.count("C"))
        # Frames: every payload byte the peers sent, and their prefixes and headers.
        self.assertGreater(written, stats["payload_bytes_sent"])
        times = [int(line[1]) for line in lines if len(line[0]) == 1]
        self.assertEqual(times, sorted(times))

        replay = self.replay(run)
        # The same connections carried the same bytes on the same star ...
        self.assertEqual(replay["accepted"], accepts)
        self.assertEqual(replay["unmatched_accepts"], 0)
        # Counted as handed to TCP: at the end, as in the run, a few frames are still waiting
        # for a connection or for room.
        self.assertLessEqual(replay["bytes_written"], written)
        self.assertGreater(replay["bytes_written"], 0.999 * written)
        self.assertGreater(replay["bytes_received"], 0.99 * written)
        self.assertAlmostEqual(replay["end_s"], stats["simulated_time_s"], places=6)
        # ... and so about the same packets: only the order of same-nanosecond events differs.
        self.assertLess(abs(replay["packets_sent"] / stats["packets_sent"] - 1), 0.1, replay)
        self.assertGreater(replay["wall_s"], 0)

    def test_traffic_trace_of_crashes_and_a_tracker_restart_plays_back(self):
        body = dict(SMALL_FLASH, name="churn-20", record_traffic=True,
                    stop={"time": "10min", "when_all_done": True})
        body["tracker"] = {"events": [{"at": "1s", "action": "crash"},
                                      {"at": "2s", "action": "restart"}]}
        body["groups"] = [dict(SMALL_FLASH["groups"][0]),
                          dict(SMALL_FLASH["groups"][1],
                               crash={"fraction": 0.25, "from": "0.5s", "to": "3s"},
                               departure={"kind": "after_completion", "seed_time": "1s"})]
        run, _ = self.run_sim(body, "--quiet", out="churn")
        with open(os.path.join(run, "run.json")) as f:
            stats = json.load(f)
        lines = self.trace_of(run)
        kinds = [line[0] for line in lines]
        # The tracker's crash closes its listener and its connections; it listens again.
        self.assertGreaterEqual(kinds.count("U"), 1)
        self.assertGreater(kinds.count("L"), 22)
        self.assertGreater(kinds.count("R"), 0)
        written = sum(int(line[4]) for line in lines if line[0] == "W")
        replay = self.replay(run)
        self.assertEqual(replay["accepted"], kinds.count("A"))
        # A reset loses what TCP had not taken, in the run and here alike.
        self.assertLessEqual(replay["bytes_written"], written)
        self.assertGreater(replay["bytes_written"], 0.95 * written)
        self.assertGreater(replay["bytes_received"], 0.95 * replay["bytes_written"])
        self.assertLess(abs(replay["packets_sent"] / stats["packets_sent"] - 1), 0.1, replay)

    def test_a_traffic_trace_that_cannot_be_written_fails_the_run(self):
        # A folder where the trace should go: it cannot even be opened.
        out = os.path.join(self.tmp.name, "blocked")
        os.makedirs(os.path.join(out, "traffic.txt"))
        _, proc = self.run_sim(SMALL_FLASH, "--quiet", "--set", "record_traffic=true",
                               out="blocked", expect_ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot write the traffic trace " + os.path.join(out, "traffic.txt"),
                      proc.stderr)
        # A full disk: the run is reported failed, and leaves no summary that would pass for
        # a finished run.
        out = os.path.join(self.tmp.name, "full")
        os.makedirs(out)
        os.symlink("/dev/full", os.path.join(out, "traffic.txt"))
        _, proc = self.run_sim(SMALL_FLASH, "--quiet", "--set", "record_traffic=true",
                               out="full", expect_ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("writing the traffic trace", proc.stderr)
        self.assertIn("failed (disk full?)", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))

    def test_replay_refuses_what_is_not_a_traffic_trace(self):
        def replay(*args):
            return subprocess.run([REPLAY, *args], capture_output=True, text=True, timeout=60)
        proc = replay()
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage: ns3-star-replay TRAFFIC_FILE", proc.stderr)
        proc = replay(os.path.join(self.tmp.name, "nope.txt"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot open", proc.stderr)
        header = "swarmlab-traffic 1\ntcp 8920 20000000 10000000 400000000 2\n"
        link = "link 8000000 32000000 10000000 0\n"
        end = "E 100\n"
        cases = [
            ("", "empty"),
            ("events.jsonl\n", ":1: not a traffic trace line"),
            ("swarmlab-traffic 2\n", ":1: not a traffic trace line"),
            (header + link + "W 10 0 5\n" + end, ":4: not a traffic trace line: W 10 0 5"),
            (header + link + "W 10 0 5 7 9\n" + end, ":4: not a traffic trace line"),
            (header + link + "W -10 0 5 7\n" + end, ":4: not a traffic trace line"),
            (header + link + "L 10 0 70000\n" + end, ":4: not a traffic trace line"),
            (header + link + "C 10 0 1 49152 4294967296 6881\n" + end,
             ":4: not a traffic trace line"),
            (header + "link 0 32000000 10000000 0\n" + end, ":3: not a traffic trace line"),
            (header + "link 8000000 32000000 10000000 1.5\n" + end,
             ":3: not a traffic trace line"),
            (header + link + "L 20 0 6881\nL 10 0 6881\n" + end, ":5: time goes back"),
            (header + link + "Q 10 0\n" + end, ":4: not a traffic trace line"),
            (header + link + "L 200 0 6881\nE 100\n", ":5: the run cannot end before"),
            (header + link + end + "L 200 0 6881\n", ":5: nothing may follow the end line"),
            (header + link + "L 10 0 6881\n", "no end line"),
            (header + "L 10 0 6881\n" + end, "no tcp or link lines"),
            (header + link + "L 10 3 6881\n" + end, "host 3 has no link"),
            (header + link + "C 10 0 1 49152 16909060 6881\n" + end,
             "a connect to 1.2.3.4, which no host of the star has"),
        ]
        for text, message in cases:
            path = os.path.join(self.tmp.name, "bad.txt")
            with open(path, "w") as f:
                f.write(text)
            proc = replay(path)
            self.assertEqual(proc.returncode, 1, text)
            self.assertIn(message, proc.stderr, text)
            self.assertEqual(proc.stdout, "", text)
        # What it accepts: the smallest trace, one host that listens, runs and ends.
        path = os.path.join(self.tmp.name, "good.txt")
        with open(path, "w") as f:
            f.write(header + link + "L 10 0 6881\n" + end)
        proc = replay(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["end_s"], 1e-7)


if __name__ == "__main__":
    unittest.main()

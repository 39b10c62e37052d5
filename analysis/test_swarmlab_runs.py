"""Parsing of run folders: swarm-sim's, real peers' logs, and broken ones."""
import json
import os
import tempfile
import unittest

from swarmlab_runs import Run, RunError, stats


def write(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def lines(*events):
    return "".join(json.dumps(e) + "\n" for e in events)


class RunFolderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def test_real_peer_logs_give_times_and_upload_share(self):
        # Two peers' --events logs, as swarm-peer writes them.
        write(self.dir, "seed.jsonl", lines(
            {"t": 0.0, "node": "s", "type": "publish_done", "file": "f"}))
        write(self.dir, "leech.jsonl", lines(
            {"t": 1.0, "node": "a", "type": "chunk_received", "from": "s", "index": 0, "bytes": 100},
            {"t": 1.5, "node": "a", "type": "chunk_received", "from": "b", "index": 1, "bytes": 300},
            {"t": 1.7, "node": "a", "type": "chunk_received", "from": "b", "index": 2, "bytes": 400,
             "sources": {"b": 300, "s": 100}},
            {"t": 2.0, "node": "a", "type": "download_completed", "duration": 2.0},
            {"t": 3.0, "node": "b", "type": "download_failed", "code": "DownloadIncomplete"}))
        run = Run(self.dir)
        self.assertFalse(run.simulated)
        self.assertEqual(run.download_times(), {"a": 2.0})
        self.assertEqual(run.bytes_served(), {"s": 200, "b": 600})
        self.assertEqual(run.origin_seeds(), {"s"})
        self.assertAlmostEqual(run.origin_share(), 0.25)
        h = run.headline()
        self.assertEqual(h["failures"], 1)
        self.assertEqual(h["completed"], 1)
        self.assertIsNone(h["kr_ratio"])
        self.assertEqual([e["t"] for e in run.events], sorted(e["t"] for e in run.events))

    def test_simulated_run_uses_its_summary_and_snapshots(self):
        write(self.dir, "events.jsonl", lines({"t": 0, "node": "sim", "type": "peer_arrived"}))
        write(self.dir, "summary.json", json.dumps({
            "leechers": 2, "bytes_served": {"origin_share": 0.4},
            "kumar_ross": {"ratio": 1.5, "t_min_s": 10},
            "peers": [{"id": "x", "role": "leecher", "download_time": 4.0, "bytes_served": 1},
                      {"id": "y", "role": "leecher", "download_time": None, "bytes_served": 0},
                      {"id": "s", "role": "seeder", "download_time": None, "bytes_served": 5}]}))
        write(self.dir, "swarm.csv",
              "time_s,online,seeds,leechers,completed,departed,replication_min,replication_mean,"
              "replication_max,upload_bps\n0,3,1,2,0,0,1,1.0,1,0\n1,3,2,1,1,0,1,1.5,2,8e6\n")
        write(self.dir, "scenario.json", json.dumps(
            {"name": "demo", "seed": 4, "strategy": {"chunk": "random", "peer": "lowest-rtt"}}))
        run = Run(self.dir)
        self.assertTrue(run.simulated)
        self.assertEqual(run.download_times(), {"x": 4.0})
        self.assertEqual(run.origin_seeds(), {"s"})
        self.assertEqual(run.origin_share(), 0.4)
        self.assertEqual(run.snapshots[1]["upload_bps"], 8e6)
        self.assertEqual(run.label, "demo (random, lowest-rtt, seed 4)")
        self.assertEqual(run.headline()["kr_ratio"], 1.5)

    def test_broken_folders_say_what_is_wrong(self):
        with self.assertRaisesRegex(RunError, "no such run folder"):
            Run(os.path.join(self.dir, "missing"))
        with self.assertRaisesRegex(RunError, "no events"):
            Run(self.dir)
        write(self.dir, "events.jsonl", '{"t": 0, "node": "a", "type": "x"}\nnot json\n')
        with self.assertRaisesRegex(RunError, r"events.jsonl:2: not a JSON object"):
            Run(self.dir)
        write(self.dir, "events.jsonl", '{"t": "soon", "node": "a", "type": "x"}\n')
        with self.assertRaisesRegex(RunError, r"events.jsonl:1: t must be a number"):
            Run(self.dir)
        write(self.dir, "events.jsonl", '{"node": "a"}\n')
        with self.assertRaisesRegex(RunError, "needs t, node and type"):
            Run(self.dir)
        write(self.dir, "events.jsonl", lines({"t": 0, "node": "a", "type": "x"}))
        write(self.dir, "summary.json", "{broken")
        with self.assertRaisesRegex(RunError, "summary.json: malformed JSON"):
            Run(self.dir)
        os.remove(os.path.join(self.dir, "summary.json"))
        write(self.dir, "swarm.csv", "time_s,seeds\n0,1\n")
        with self.assertRaisesRegex(RunError, "swarm.csv: missing columns"):
            Run(self.dir)

    def test_stats_use_nearest_rank(self):
        s = stats([5, 1, 4, 2, 3])
        self.assertEqual((s["count"], s["mean"], s["median"], s["p95"], s["max"]), (5, 3, 3, 5, 5))
        self.assertEqual(stats([])["count"], 0)


if __name__ == "__main__":
    unittest.main()

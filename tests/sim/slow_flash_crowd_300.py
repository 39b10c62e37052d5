"""A 300-peer flash crowd with crashes, a partition and a tracker restart (ctest label slow).

Runs tests/sim/flash_crowd_300.json with the swarm-sim of the build under test (SWARMLAB_SIM;
the debug build has ASan and UBSan) and judges its run folder: no crash, every leecher that
did not crash completed with verified data, and every peer online after the tracker's
restart registered again.
"""
import json
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIM = os.environ.get("SWARMLAB_SIM", os.path.join(ROOT, "build/release/sim/swarm-sim"))


class FlashCrowd300(unittest.TestCase):
    def test_three_hundred_peers_with_crashes_a_partition_and_a_tracker_restart(self):
        with tempfile.TemporaryDirectory(prefix="swarm-sim-300-") as tmp:
            out = os.path.join(tmp, "run")
            proc = subprocess.run([SIM, "run", os.path.join(HERE, "flash_crowd_300.json"),
                                   "--quiet", "--out", out],
                                  capture_output=True, text=True, timeout=900)
            self.assertEqual(proc.returncode, 0, proc.stderr[-4000:] + proc.stdout[-2000:])
            with open(os.path.join(out, "summary.json")) as f:
                s = json.load(f)
            with open(os.path.join(out, "events.jsonl")) as f:
                events = [json.loads(line) for line in f]
        crashed = {e["peer"] for e in events if e["type"] == "peer_crashed"}
        self.assertGreater(len(crashed), 5, "the scenario crashes some of its flaky leechers")
        self.assertTrue(any(e["type"] == "link_changed" for e in events), "a partition")
        restart = next(e["t"] for e in events if e["type"] == "tracker_restarted")
        leechers = [p for p in s["peers"] if p["role"] == "leecher"]
        self.assertEqual(len(leechers), 298)
        for p in leechers:
            if p["id"] not in crashed:
                self.assertEqual(p["state"], "completed", p)
        self.assertEqual(s["completed"], 298 - len([p for p in leechers if p["id"] in crashed
                                                    and p["state"] != "completed"]))
        self.assertEqual(s["verification_failures"], 0)
        self.assertEqual(s["download_failures"], 0)
        rejoined = {e["peer"] for e in events if e["type"] == "peer_joined" and e["t"] > restart}
        online = {p["id"] for p in s["peers"]} - crashed
        self.assertEqual(online - rejoined, set(), "every live peer registers again")


if __name__ == "__main__":
    unittest.main()

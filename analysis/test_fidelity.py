"""fidelity.py on synthetic simulated and emulated run folders."""
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import fidelity
from test_plot import make_run


def as_emulated(folder):
    with open(os.path.join(folder, "summary.json")) as f:
        summary = json.load(f)
    summary["world"] = "emulated"
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump(summary, f)
    return folder


class KolmogorovSmirnov(unittest.TestCase):
    def test_distance(self):
        self.assertEqual(fidelity.ks_distance([1, 2, 3], [1, 2, 3]), 0.0)
        self.assertEqual(fidelity.ks_distance([1, 2], [5, 6]), 1.0)
        self.assertAlmostEqual(fidelity.ks_distance([1, 2, 3], [2, 3, 4]), 1 / 3)
        # Ties across the samples are stepped over together.
        self.assertAlmostEqual(fidelity.ks_distance([1, 1, 2, 2], [1, 2, 2, 2]), 0.25)
        self.assertIsNone(fidelity.ks_distance([], [1]))


class Report(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def run_main(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = fidelity.main(list(args))
        return code, out.getvalue(), err.getvalue()

    def test_close_runs_meet_the_targets(self):
        sim = make_run(os.path.join(self.dir, "sim"))
        emu = as_emulated(make_run(os.path.join(self.dir, "emu"), speed=1.02))
        out = os.path.join(self.dir, "out")
        code, text, _ = self.run_main(sim, emu, "--out", out, "--check")
        self.assertEqual(code, 0, text)
        with open(os.path.join(out, "fidelity.json")) as f:
            figures = json.load(f)
        self.assertAlmostEqual(figures["difference"]["median"], 0.02)
        self.assertEqual(figures["difference"]["completed"], 0)
        self.assertEqual(figures["missed"], [])
        self.assertTrue(os.path.getsize(os.path.join(out, "fidelity.png")) > 0)
        with open(os.path.join(out, "report.html")) as f:
            self.assertIn("Simulation against emulation", f.read())
        self.assertIn("median download (s)", text)

    def test_far_runs_fail_the_check_and_say_which_target(self):
        sim = make_run(os.path.join(self.dir, "sim"))
        emu = as_emulated(make_run(os.path.join(self.dir, "emu"), speed=1.5, leechers=10))
        code, text, _ = self.run_main(sim, emu, "--out", os.path.join(self.dir, "out"), "--check")
        self.assertEqual(code, 1)
        self.assertIn("missed median, p95, ks, completed", text)
        # Without --check the report is written and the status is 0.
        code, _, _ = self.run_main(sim, emu, "--out", os.path.join(self.dir, "out2"))
        self.assertEqual(code, 0)

    def test_several_runs_per_world_are_pooled(self):
        sims = [make_run(os.path.join(self.dir, f"sim{i}"), seed=i, speed=1 + 0.1 * i) for i in (1, 2)]
        emus = [as_emulated(make_run(os.path.join(self.dir, f"emu{i}"), seed=i, speed=1 + 0.1 * i))
                for i in (1, 2)]
        out = os.path.join(self.dir, "out")
        code, text, err = self.run_main("--sim", *sims, "--emu", *emus, "--out", out)
        self.assertEqual(code, 0, err)
        with open(os.path.join(out, "fidelity.json")) as f:
            figures = json.load(f)
        self.assertEqual(figures["simulated"]["completed"], 24)
        self.assertEqual(figures["difference"]["ks"], 0.0)
        # Seeds 1 and 2 differ by 10 % in every download time: the worlds' own spread.
        self.assertGreater(figures["ks_reference"]["ks"], 0.0)
        self.assertIn("KS reference: single simulated runs among themselves", text)
        # A pool of other seeds as the reference: the like-for-like one.
        refs = [make_run(os.path.join(self.dir, f"ref{i}"), seed=i, speed=1.3 + 0.1 * i) for i in (3, 4)]
        code, text, err = self.run_main("--sim", *sims, "--emu", *emus, "--sim-reference", *refs,
                                        "--out", out)
        self.assertEqual(code, 0, err)
        with open(os.path.join(out, "fidelity.json")) as f:
            figures = json.load(f)
        self.assertEqual(figures["ks_reference"]["runs"], refs)
        self.assertGreater(figures["ks_reference"]["ks"], 0.5)
        self.assertIn("KS reference: simulated pool against simulated runs of other seeds", text)
        self.assertNotIn("warning", err)  # runs of one scenario, seeds aside

    def test_what_tcp_did_is_compared_per_run(self):
        def with_run_json(folder, doc):
            with open(os.path.join(folder, "run.json"), "w") as f:
                json.dump(doc, f)
            return folder
        sims = [with_run_json(make_run(os.path.join(self.dir, f"sim{i}"), seed=i),
                              {"queue_drops": {"packets": 3000 + 200 * i}, "tcp_timeouts": 100 * i,
                               "tcp_fast_recoveries": 250, "tcp_loss_probes": 40 + 20 * i,
                               "tcp_hystart_exits": {"ack_train": 0, "delay": 20 + 4 * i}})
                for i in (1, 2)]
        emu = with_run_json(as_emulated(make_run(os.path.join(self.dir, "emu"))),
                            {"wire": {"queue_drops": {"packets": 1000}},
                             "tcp": {"timeouts": 15, "fast_recoveries": 150, "loss_probes": 90,
                                     "spurious_timeouts": 3, "hystart_delay_exits": 30,
                                     "hystart_train_exits": 2}})
        out = os.path.join(self.dir, "out")
        code, text, err = self.run_main("--sim", *sims, "--emu", emu, "--out", out)
        self.assertEqual(code, 0, err)
        with open(os.path.join(out, "fidelity.json")) as f:
            figures = json.load(f)
        self.assertEqual(figures["simulated"]["tcp_per_run"],
                         {"queue_drops": 3300, "timeouts": 150, "fast_recoveries": 250,
                          "loss_probes": 70, "spurious_timeouts": None,
                          "hystart_delay_exits": 26, "hystart_train_exits": 0})
        self.assertEqual(figures["emulated"]["tcp_per_run"]["loss_probes"], 90)
        self.assertEqual(figures["emulated"]["tcp_per_run"]["hystart_train_exits"], 2)
        self.assertRegex(text, r"TCP timeouts / run\s+150\s+15\s+-90.0 %")
        self.assertRegex(text, r"tail loss probes / run\s+70\s+90\s+\+28.6 %")
        self.assertRegex(text, r"slow starts ended by the RTT / run\s+26\s+30\s+\+15.4 %")
        # A run whose counters some hosts could not give is short: left out, and said so.
        with_run_json(emu, {"wire": {"queue_drops": {"packets": 1000}},
                            "tcp": {"timeouts": 1, "hosts_unread": 2}})
        code, text, err = self.run_main("--sim", *sims, "--emu", emu, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertIn("TCP counters of 2 hosts unread", err)
        self.assertRegex(text, r"queue drops / run\s+3300\s+-\s+-")
        # Run folders from before the counters: nothing to compare, nothing made up.
        with_run_json(emu, {"wall_time_s": 1.0})
        code, text, err = self.run_main("--sim", *sims, "--emu", emu, "--out", out)
        self.assertEqual(code, 0, err)
        self.assertRegex(text, r"TCP timeouts / run\s+150\s+-\s+-")

    def test_runs_of_the_wrong_world_are_refused(self):
        sim = make_run(os.path.join(self.dir, "sim"))
        other = make_run(os.path.join(self.dir, "other"))
        code, _, err = self.run_main(sim, other, "--out", os.path.join(self.dir, "out"))
        self.assertEqual(code, 2)
        self.assertIn("is not an emulated run", err)


class BenchSeeds(unittest.TestCase):
    """bench/fidelity.py's --seeds: ranges are taken, and what would mix with the simulation's
    reference runs (seeds 101 and up) or name no seed is refused before anything runs."""

    BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                         "fidelity.py")

    def bench(self, seeds):
        # A scenario that does not exist: should the check ever let seeds through, the bench
        # fails at once on it instead of starting runs.
        return subprocess.run([sys.executable, self.BENCH, "/nonexistent/scenario.json", "--seeds",
                               seeds, "--out", tempfile.gettempdir() + "/swarmlab-no-bench"],
                              capture_output=True, text=True, timeout=60)

    def test_ranges_and_lists(self):
        spec = importlib.util.spec_from_file_location("bench_fidelity", self.BENCH)
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        self.assertEqual(bench.parse_seeds("1-4,9"), [1, 2, 3, 4, 9])
        self.assertEqual(bench.parse_seeds("1,2,3"), [1, 2, 3])
        for bad in ("8-1", "0", "101"):
            with self.assertRaises(ValueError):
                bench.parse_seeds(bad)

    def test_refuses_bad_seeds_with_a_clear_error(self):
        for seeds in ("8-1", "1-120", "0", "x"):
            r = self.bench(seeds)
            self.assertEqual(r.returncode, 2, seeds)
            self.assertIn("--seeds", r.stderr)
            self.assertIn("from 1 to 100", r.stderr)


if __name__ == "__main__":
    unittest.main()

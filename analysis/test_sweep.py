"""sweep.py on synthetic sweep folders (index.json only, which is all it reads)."""
import contextlib
import io
import json
import math
import os
import tempfile
import unittest

import matplotlib.colors
import matplotlib.pyplot as plt

import sweep


def entry(params, seed, mean=10.0, p95=None, last=None, ratio=1.5, origin=0.25, status=0,
          completed=8, leechers=8):
    """One index.json entry as swarm-sim sweep writes it; a failed run has no metrics."""
    d = "_".join(p.replace("[", "_").replace("]", "_") for p in params) + f"_seed{seed}"
    e = {"dir": d.lstrip("_"), "seed": seed, "params": list(params), "exit_status": status}
    if status == 0:
        e.update({"completed": completed, "leechers": leechers, "origin_share": origin,
                  "kumar_ross_ratio": ratio,
                  "download_time_s": {"count": completed, "mean": mean,
                                      "p95": mean + 1 if p95 is None else p95,
                                      "max": mean + 2 if last is None else last}})
    return e


def write_sweep(folder, entries):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(entries, f)
    return folder


def run_main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = sweep.main(list(args))
    return code, out.getvalue(), err.getvalue()


def curves(ax):
    """The lines of a panel, one per legend entry (not the hollow markers of single runs)."""
    return [line for line in ax.get_lines() if line.get_linestyle() != "None"]


class SweepTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.out = os.path.join(self.dir, "out")
        self.addCleanup(plt.close, "all")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def two_fields(self, counts=("4", "8"), chunks=("rarest-first", "random"), seeds=(1, 2, 3)):
        """A sweep over groups[1].count and strategy.chunk, listed the way swarm-sim lists
        them (the first field changing fastest); mean download time = count + seed."""
        entries = [entry([f"groups[1].count={c}", f"strategy.chunk={k}"], s, mean=int(c) + s)
                   for k in chunks for c in counts for s in seeds]
        return sweep.variants(entries)

    # ---- statistics ----

    def test_student_t_quantiles_match_the_table(self):
        for df, t in [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262),
                      (29, 2.045), (120, 1.980)]:
            self.assertAlmostEqual(sweep.t_quantile(df), t, places=3, msg=f"df={df}")
        with self.assertRaises(ValueError):
            sweep.t_quantile(0)

    def test_confidence_half_width_of_known_values(self):
        est = sweep.estimate([1, 2, 3])
        self.assertEqual(est.n, 3)
        self.assertAlmostEqual(est.mean, 2.0)
        # t(0.975, 2) * s / sqrt(3) with s = 1.
        self.assertAlmostEqual(est.half_width, 4.302653 / math.sqrt(3), places=5)
        self.assertAlmostEqual(est.half_width, 2.484, places=3)
        self.assertAlmostEqual(sweep.estimate([5, 5, 5, 5]).half_width, 0.0)
        # One value has no interval; null values (a run that could not measure) are skipped.
        self.assertEqual(sweep.estimate([7.0, None]), sweep.Estimate(7.0, None, 1))
        self.assertEqual(sweep.estimate([None]), sweep.Estimate(None, None, 0))

    def test_the_table_shows_mean_and_half_width_per_variant(self):
        entries = [entry(["strategy.chunk=random"], s, mean=m) for s, m in [(1, 1), (2, 2), (3, 3)]]
        entries.append(entry(["strategy.chunk=rarest-first"], 1, mean=4.0))
        code, out, err = run_main(write_sweep(self.path("sw"), entries), "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("2.00 ± 2.48", out)
        row = next(line for line in out.splitlines() if line.startswith("chunk=rarest-first"))
        self.assertIn("4.00", row)
        self.assertNotIn("±", row)  # one seed: no interval
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as f:
            report = f.read()
        self.assertIn("2.00 ± 2.48", report)
        for name in ("mean_download_time", "p95_download_time", "last_download_time",
                     "kumar_ross_ratio", "origin_share"):
            self.assertTrue(os.path.exists(os.path.join(self.out, name + ".png")), name)
            self.assertIn(f'src="{name}.png"', report)

    # ---- axes and lines ----

    def test_numeric_values_are_in_numeric_order(self):
        found = sweep.variants([entry([f"groups[1].count={c}"], 1, mean=float(c))
                                for c in ("10", "9", "100", "2.5")])
        self.assertEqual(sweep.field_values(found, "groups[1].count"),
                         (["2.5", "9", "10", "100"], True))
        fig, (ax,) = sweep.draw_metric(found, sweep.METRICS[0])
        (line,) = curves(ax)
        self.assertEqual(list(line.get_xdata()), [2.5, 9, 10, 100])
        self.assertEqual(list(line.get_ydata()), [2.5, 9, 10, 100])
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()], ["2.5", "9", "10", "100"])

    def test_other_values_are_categories_in_sweep_order(self):
        found = sweep.variants([entry([f"strategy.chunk={k}"], 1)
                                for k in ("rarest-first", "random", "sequential")])
        self.assertEqual(sweep.field_values(found, "strategy.chunk"),
                         (["rarest-first", "random", "sequential"], False))
        _, (ax,) = sweep.draw_metric(found, sweep.METRICS[0])
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()],
                         ["rarest-first", "random", "sequential"])
        # One text value makes the whole field categorical.
        found = sweep.variants([entry([f"groups[0].up={v}"], 1) for v in ("8", "16Mbps")])
        self.assertEqual(sweep.field_values(found, "groups[0].up"), (["8", "16Mbps"], False))

    def test_one_line_per_value_of_the_other_field(self):
        found = self.two_fields(counts=("10", "4", "8"))
        fig, (by_count, by_chunk) = sweep.draw_metric(found, sweep.METRICS[0])
        self.assertEqual([line.get_label() for line in curves(by_count)],
                         ["strategy.chunk=rarest-first", "strategy.chunk=random"])
        self.assertEqual([line.get_label() for line in curves(by_chunk)],
                         ["groups[1].count=4", "groups[1].count=8", "groups[1].count=10"])
        # Mean over seeds 1..3 of count + seed: count + 2, in numeric order of count.
        self.assertEqual(list(curves(by_count)[0].get_ydata()), [6.0, 10.0, 12.0])
        self.assertEqual(list(curves(by_count)[1].get_xdata()), [4.0, 8.0, 10.0])
        legend = [t.get_text() for t in by_chunk.get_legend().get_texts()]
        self.assertEqual(legend, ["groups[1].count=4", "groups[1].count=8", "groups[1].count=10"])
        # Each line in its own colour.
        colours = {matplotlib.colors.to_hex(line.get_color()) for line in curves(by_chunk)}
        self.assertEqual(len(colours), 3)
        # The numeric panel draws a band per line; the categorical one error bars.
        self.assertEqual(len(by_count.collections), 2)
        self.assertTrue(by_chunk.containers)

    def test_the_band_is_the_confidence_interval(self):
        found = sweep.variants([entry(["groups[1].count=4"], s, mean=m)
                                for s, m in [(1, 1), (2, 2), (3, 3)]] +
                               [entry(["groups[1].count=8"], s, mean=5) for s in (1, 2)])
        _, (ax,) = sweep.draw_metric(found, sweep.METRICS[0])
        (band,) = ax.collections
        ys = band.get_paths()[0].vertices[:, 1]
        self.assertAlmostEqual(max(ys), 5.0)  # count=8: no spread
        self.assertAlmostEqual(min(ys), 2 - 2.484, places=3)

    def test_one_seed_has_no_band_and_the_figure_says_so(self):
        found = sweep.variants([entry([f"groups[1].count={c}"], 1) for c in ("4", "8")])
        fig, (ax,) = sweep.draw_metric(found, sweep.METRICS[0])
        self.assertIn("one run per variant: no confidence interval", fig._suptitle.get_text())
        self.assertFalse(ax.containers)  # no error bars
        for band in ax.collections:
            self.assertFalse(any(math.isfinite(y) for path in band.get_paths()
                                 for y in path.vertices[:, 1]))
        hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
        self.assertEqual(len(hollow[0].get_xdata()), 2)

    def test_table_rows_follow_the_axes_order(self):
        found = self.two_fields(counts=("10", "9"), seeds=(1,))
        names = [r["variant"] for r in sweep.table_rows(found)]
        self.assertEqual(names, ["groups[1].count=9 strategy.chunk=rarest-first",
                                 "groups[1].count=9 strategy.chunk=random",
                                 "groups[1].count=10 strategy.chunk=rarest-first",
                                 "groups[1].count=10 strategy.chunk=random"])

    def test_a_shared_first_section_is_dropped_from_labels(self):
        entries = [entry(["strategy.chunk=random", f"strategy.peer={p}"], 1)
                   for p in ("random", "lowest-rtt")]
        code, out, err = run_main(write_sweep(self.path("sw"), entries), "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("chunk=random peer=lowest-rtt", out)

    # ---- failed runs ----

    def test_failed_runs_are_named_and_left_out(self):
        entries = [entry(["strategy.chunk=random"], 1, mean=1.0),
                   entry(["strategy.chunk=random"], 2, mean=3.0),
                   entry(["strategy.chunk=random"], 3, status=1),
                   entry(["strategy.chunk=rarest-first"], 1, status=-9),
                   entry(["strategy.chunk=rarest-first"], 2, status=-9)]
        # Exited 0 but left no summary: swarm-sim counts it as failed too.
        no_metrics = entry(["strategy.chunk=random"], 4, status=0)
        for key in ("completed", "leechers", "origin_share", "kumar_ross_ratio",
                    "download_time_s"):
            no_metrics.pop(key)
        entries.append(no_metrics)
        folder = write_sweep(self.path("sw"), entries)
        code, out, err = run_main(folder, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("Left out, failed (4):", out)
        self.assertIn(os.path.join(folder, "strategy.chunk=random_seed3") + " (exit status 1)", out)
        self.assertIn("strategy.chunk=random_seed4 (no metrics)", out)
        self.assertIn("strategy.chunk=rarest-first_seed2 (exit status -9)", out)
        self.assertIn("No successful run, so no point in the figures: chunk=rarest-first", out)
        random = next(line for line in out.splitlines() if line.startswith("chunk=random"))
        self.assertIn("2 of 4", random)
        self.assertIn("2.00 ±", random)  # the mean of seeds 1 and 2 only
        empty = next(line for line in out.splitlines() if line.startswith("chunk=rarest-first"))
        self.assertIn("0 of 2", empty)
        self.assertIn("no successful run", empty)
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as f:
            report = f.read()
        self.assertIn("strategy.chunk=random_seed3 (exit status 1)", report)
        self.assertIn("no successful run", report)
        # The figure has the one variant that ran.
        _, (ax,) = sweep.draw_metric(sweep.variants(entries), sweep.METRICS[0])
        (line,) = curves(ax)
        self.assertEqual(list(line.get_ydata()), [2.0])

    def test_a_metric_no_run_reported_has_no_figure(self):
        # Not every leecher finished: swarm-sim writes a null Kumar–Ross ratio.
        entries = [entry([f"groups[1].count={c}"], s, ratio=None, completed=7)
                   for c in ("4", "8") for s in (1, 2)]
        code, out, err = run_main(write_sweep(self.path("sw"), entries), "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "kumar_ross_ratio.png")))
        self.assertTrue(os.path.exists(os.path.join(self.out, "mean_download_time.png")))
        self.assertIn("Kumar–Ross ratio: no figure, no run reported it.", out)
        self.assertIn("14/16", out)

    def test_a_sweep_over_seeds_only_has_a_table_and_no_figure(self):
        entries = [entry([], s) for s in (1, 2)]
        code, out, err = run_main(write_sweep(self.path("sw"), entries), "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("(scenario as written)", out)
        self.assertIn("No field was varied", out)
        self.assertFalse([f for f in os.listdir(self.out) if f.endswith(".png")])

    def test_the_default_out_folder_is_inside_the_sweep(self):
        folder = write_sweep(self.path("sw"), [entry(["strategy.chunk=random"], 1)])
        code, _, err = run_main(folder)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(folder, "analysis", "report.html")))

    # ---- errors ----

    def assert_error(self, folder, *words):
        code, out, err = run_main(folder, "--out", self.out)
        self.assertEqual(code, 2, out)
        self.assertNotIn("Traceback", err)
        for word in words:
            self.assertIn(word, err)

    def test_a_folder_without_index_json_is_an_error(self):
        os.makedirs(self.path("empty"))
        self.assert_error(self.path("empty"), "no index.json")
        self.assert_error(self.path("missing"), "no such folder")

    def test_a_malformed_index_is_an_error(self):
        folder = self.path("bad")
        os.makedirs(folder)
        with open(os.path.join(folder, "index.json"), "w") as f:
            f.write('[{"dir": "a", ')
        self.assert_error(folder, "malformed JSON", "index.json")
        write_sweep(folder, {"dir": "a"})
        self.assert_error(folder, "expected a list of runs")
        write_sweep(folder, [{"seed": 1}])
        self.assert_error(folder, "run 1", "expected an object with a dir")
        write_sweep(folder, [{"dir": "a", "params": "strategy.chunk=random"}])
        self.assert_error(folder, "params must be a list")
        write_sweep(folder, [])
        self.assert_error(folder, "lists no runs")

    def test_a_sweep_with_no_successful_run_is_an_error(self):
        folder = write_sweep(self.path("sw"), [entry(["strategy.chunk=random"], s, status=1)
                                               for s in (1, 2)])
        self.assert_error(folder, "no successful run", "strategy.chunk=random_seed1",
                          "strategy.chunk=random_seed2")


if __name__ == "__main__":
    unittest.main()

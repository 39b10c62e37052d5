"""plot.py on tiny synthetic run and sweep folders: which figures appear, and what they show."""
import contextlib
import io
import json
import os
import tempfile
import unittest
from unittest import mock

import matplotlib.colors
import matplotlib.pyplot as plt

import plot
from swarmlab_runs import Run


def write_json(folder, name, value):
    with open(os.path.join(folder, name), "w") as f:
        json.dump(value, f)


def make_run(folder, name="demo", chunk="rarest-first", seed=1, leechers=12, t_min=10.0,
             speed=1.0):
    """A minimal swarm-sim run folder: one seed, `leechers` leechers, a chunk each from the seed
    and from the previous leecher, everything swarm-sim writes (run.json is not read)."""
    os.makedirs(folder, exist_ok=True)
    ids = [f"leech-{i}" for i in range(leechers)]
    events = [{"t": 0.0, "node": "sim", "type": "peer_arrived", "peer": "seed-0", "role": "seeder"}]
    peers = [{"id": "seed-0", "role": "seeder", "download_time": None, "bytes_served": 0}]
    for i, peer in enumerate(ids):
        done = (12.0 + i) * speed
        events.append({"t": 1.0 + i * 0.5, "node": peer, "type": "chunk_received", "from": "seed-0",
                       "index": 0, "bytes": 1000})
        events.append({"t": 2.0 + i * 0.5, "node": peer, "type": "chunk_received",
                       "from": ids[i - 1], "index": 1, "bytes": 1000})
        events.append({"t": done, "node": peer, "type": "download_completed", "duration": done})
        peers.append({"id": peer, "role": "leecher", "download_time": done, "bytes_served": 1000})
    events.sort(key=lambda e: e["t"])
    with open(os.path.join(folder, "events.jsonl"), "w") as f:
        f.write("".join(json.dumps(e) + "\n" for e in events))
    write_json(folder, "summary.json", {
        "leechers": leechers, "bytes_served": {"origin_share": 0.5},
        "kumar_ross": {"ratio": 1.5, "t_min_s": t_min, "assumptions_hold": True},
        "uplinks": {"utilisation": 0.8}, "peers": peers})
    with open(os.path.join(folder, "swarm.csv"), "w") as f:
        f.write("time_s,online,seeds,leechers,completed,departed,replication_min,"
                "replication_mean,replication_max,upload_bps\n"
                f"0,{leechers + 1},1,{leechers},0,0,1,1,1,0\n"
                f"20,{leechers + 1},{leechers + 1},0,{leechers},0,2,2,2,8e6\n")
    with open(os.path.join(folder, "groups.csv"), "w") as f:
        f.write("time_s,group,online,wire_up_bps,up_capacity_bps,queued_s_mean,queued_s_max,"
                "unchoked_asking_none,idle_sources,chunks_on_busy_owners\n"
                "0,seed,1,0,2e7,0,0,0,0,0\n"
                f"0,leech,{leechers},0,{leechers * 8e6},0,0,0,0,40\n"
                "20,seed,1,1.9e7,2e7,1.5,3.0,0,0,0\n"
                f"20,leech,{leechers},{leechers * 4e6},{leechers * 8e6},0.2,0.5,7,9,3\n")
    write_json(folder, "scenario.json", {"name": name, "seed": seed,
                                         "strategy": {"chunk": chunk, "peer": "lowest-rtt"}})
    write_json(folder, "run.json", {"wall_time_s": 0.1})
    return folder


def make_sweep(folder, chunks=("rarest-first", "random"), seeds=(1, 2), failed=()):
    """A sweep folder as swarm-sim sweep writes it: one run folder per combination, index.json.
    failed: (chunk, seed) entries whose run exited 1 (their folder is left half-written)."""
    os.makedirs(folder, exist_ok=True)
    index = []
    for chunk in chunks:
        for seed in seeds:
            d = f"strategy.chunk={chunk}_seed{seed}"
            status = 1 if (chunk, seed) in failed else 0
            if status == 0:
                make_run(os.path.join(folder, d), name="sweep", chunk=chunk, seed=seed,
                         speed=1.0 + 0.1 * seed)
            index.append({"dir": d, "seed": seed, "params": [f"strategy.chunk={chunk}"],
                          "exit_status": status})
    write_json(folder, "index.json", index)
    return folder


def run_main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = plot.main(list(args))
    return code, out.getvalue(), err.getvalue()


def legend_handles(legend):
    # matplotlib renamed legendHandles to legend_handles in 3.7.
    return getattr(legend, "legend_handles", None) or legend.legendHandles


class PlotTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.out = os.path.join(self.dir, "out")
        self.addCleanup(plt.close, "all")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def report(self):
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as f:
            return f.read()

    # ---- per-run figures ----

    def test_every_run_gets_its_per_run_figures(self):
        a = make_run(self.path("a"), chunk="rarest-first")
        b = make_run(self.path("b"), chunk="random", seed=2)
        code, out, err = run_main(a, b, "--out", self.out)
        self.assertEqual(code, 0, err)
        for base in ("swarm_evolution", "replication", "group_uplinks", "upload_share",
                     "timeline"):
            # The first run keeps today's name; the second gets -2.
            self.assertTrue(os.path.exists(os.path.join(self.out, base + ".png")), base)
            self.assertTrue(os.path.exists(os.path.join(self.out, base + "-2.png")), base)
            self.assertFalse(os.path.exists(os.path.join(self.out, base + "-3.png")), base)
            self.assertIn(f'src="{base}-2.png"', self.report())
        self.assertIn("<h3>demo (random, lowest-rtt, seed 2)</h3>", self.report())
        self.assertIn("swarm_evolution-2.png", out)
        self.assertIn("12/12", out)  # the summary table is still printed
        self.assertNotIn("left out", out)

    def test_group_uplinks_show_each_groups_use_and_what_waited_on_it(self):
        run = Run(make_run(self.path("a")))
        fig, axes = plot.draw_group_uplinks(run)
        top, bottom, downloads = axes[0][0], axes[1][0], axes[2][0]
        # Percent of each group's capacity: the seed full at t = 20, the leechers half.
        self.assertEqual([line.get_label() for line in top.get_lines()], ["seed", "leech"])
        self.assertEqual(list(top.get_lines()[0].get_ydata()), [0.0, 95.0])
        self.assertEqual(list(top.get_lines()[1].get_ydata()), [0.0, 50.0])
        queued = {line.get_label(): list(line.get_ydata()) for line in bottom.get_lines()}
        self.assertEqual(queued["seed"], [0.0, 3.0])
        takers, chunks = [ax for ax in fig.axes if ax not in (top, bottom, downloads)]
        self.assertEqual([list(line.get_ydata()) for line in takers.get_lines()],
                         [[0.0, 0.0], [0.0, 7.0]])
        # What the group's downloads waited on: idle sources, and chunks on busy owners.
        self.assertEqual([list(line.get_ydata()) for line in downloads.get_lines()],
                         [[0.0, 0.0], [0.0, 9.0]])
        self.assertEqual([list(line.get_ydata()) for line in chunks.get_lines()],
                         [[0.0, 0.0], [40.0, 3.0]])
        plt.close(fig)

    def test_runs_without_groups_or_its_queue_columns_still_plot(self):
        bare = make_run(self.path("bare"))
        os.remove(os.path.join(bare, "groups.csv"))  # an emulated run writes none
        self.assertIsNone(plot.draw_group_uplinks(Run(bare)))
        old = make_run(self.path("old"))
        with open(os.path.join(old, "groups.csv"), "w") as f:
            f.write("time_s,group,online,wire_up_bps,up_capacity_bps\n0,seed,1,1e6,2e6\n")
        fig, axes = plot.draw_group_uplinks(Run(old))
        self.assertEqual(len(axes), 1)  # use only: no queue panel
        plt.close(fig)
        queues_only = make_run(self.path("queues"))
        with open(os.path.join(queues_only, "groups.csv"), "w") as f:
            f.write("time_s,group,online,wire_up_bps,up_capacity_bps,queued_s_mean,"
                    "queued_s_max,unchoked_asking_none\n0,seed,1,1e6,2e6,0.5,0.5,0\n")
        fig, axes = plot.draw_group_uplinks(Run(queues_only))
        self.assertEqual(len(axes), 2)  # before the downloads' columns: no third panel
        plt.close(fig)
        code, _, err = run_main(bare, old, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "group_uplinks.png")))
        self.assertTrue(os.path.exists(os.path.join(self.out, "group_uplinks-2.png")))

    def test_per_run_figures_are_bounded_and_say_how_many_are_left_out(self):
        runs = [make_run(self.path(f"r{i}"), seed=i) for i in range(3)]
        with mock.patch.object(plot, "PER_RUN_MAX", 2):
            code, out, err = run_main(*runs, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.out, "swarm_evolution-2.png")))
        self.assertFalse(os.path.exists(os.path.join(self.out, "swarm_evolution-3.png")))
        self.assertIn("Per-run figures for 2 of 3 runs; 1 left out: demo (rarest-first, "
                      "lowest-rtt, seed 2)", out)
        self.assertIn("1 left out", self.report())

    def test_past_the_bound_every_variant_shows_before_a_second_seed(self):
        sources = [plot.Source(f"r{v}{s}", f"v{v} seed {s}", f"v{v}") for v in range(3)
                   for s in range(3)]
        # Variants 0, 1, 2 first seeds, then their second seeds while the limit lasts.
        self.assertEqual(plot.per_run_selection(sources, limit=5), [0, 1, 3, 4, 6])
        self.assertEqual(plot.per_run_selection(sources[:2], limit=5), [0, 1])
        self.assertEqual(plot.per_run_name("timeline.png", 0), "timeline.png")
        self.assertEqual(plot.per_run_name("timeline.png", 6), "timeline-7.png")

    # ---- sweeps ----

    def test_a_sweep_folder_expands_into_its_successful_runs_labelled_by_params(self):
        sweep = make_sweep(self.path("sw"), failed=[("random", 1)])
        sources, skipped = plot.expand_arguments([sweep])
        self.assertEqual([s.label for s in sources],
                         ["chunk=rarest-first seed 1", "chunk=rarest-first seed 2",
                          "chunk=random seed 2"])
        self.assertEqual([s.path for s in sources][0],
                         os.path.join(sweep, "strategy.chunk=rarest-first_seed1"))
        self.assertEqual(skipped, [os.path.join(sweep, "strategy.chunk=random_seed1")
                                   + " (exit status 1)"])
        code, out, err = run_main(sweep, "--out", self.out)
        self.assertEqual(code, 0, err)
        self.assertIn("chunk=random seed 2", out)
        self.assertIn("strategy.chunk=random_seed1 (exit status 1)", out)
        self.assertIn("strategy.chunk=random_seed1 (exit status 1)", self.report())
        self.assertTrue(os.path.exists(os.path.join(self.out, "timeline-3.png")))

    def test_variants_of_a_sweep_share_a_colour_and_seeds_differ_in_line_style(self):
        sweep = make_sweep(self.path("sw"))
        plain = make_run(self.path("plain"))
        sources, _ = plot.expand_arguments([sweep, plain])
        self.assertEqual(len(sources), 5)
        self.assertEqual(sources[4].label, None)  # the run's own label, from its scenario
        runs, sources = plot.load_sources(sources)
        self.assertEqual(runs[4].label, "demo (rarest-first, lowest-rtt, seed 1)")
        styles = plot.run_styles(sources)
        colours = [s["color"] for s in styles]
        self.assertEqual(colours[0], colours[1])
        self.assertEqual(colours[2], colours[3])
        self.assertEqual(len({colours[0], colours[2], colours[4]}), 3)
        self.assertNotEqual(styles[0]["linestyle"], styles[1]["linestyle"])
        self.assertEqual(styles[0]["linestyle"], styles[2]["linestyle"])
        # The CDF and the completions draw each run in its style.
        for draw in (plot.draw_cdf, plot.draw_completions):
            _, ax = draw(runs, sources)
            curves = [line for line in ax.get_lines() if not line.get_label().startswith("T_min")]
            self.assertEqual([matplotlib.colors.to_hex(line.get_color()) for line in curves],
                             colours, draw.__name__)
            self.assertEqual([line.get_linestyle() for line in curves],
                             [s["linestyle"] for s in styles], draw.__name__)
        code, _, err = run_main(sweep, plain, "--out", self.out)
        self.assertEqual(code, 0, err)

    def test_many_runs_get_one_legend_entry_per_variant(self):
        sources = [plot.Source(f"r{v}{s}", f"v{v} seed {s}", f"v{v}") for v in range(5)
                   for s in range(3)]
        groups = plot.legend_groups(sources)
        self.assertEqual([name for name, _ in groups], ["v0", "v1", "v2", "v3", "v4"])
        self.assertEqual(groups[1][1], [3, 4, 5])
        self.assertEqual(len(plot.legend_groups(sources[:4])), 4)

    def test_param_labels_drop_a_shared_first_section_only(self):
        self.assertEqual(plot.param_labels([["strategy.chunk=a", "strategy.peer=b"]]),
                         {"strategy.chunk": "chunk", "strategy.peer": "peer"})
        # No common section: dropping them would leave "chunk" beside a "count" of some group.
        self.assertEqual(plot.param_labels([["strategy.chunk=a", "groups[1].count=5"]]), {})
        self.assertEqual(plot.param_labels([["groups[0].count=5", "groups[1].count=5"]]), {})
        self.assertEqual(plot.param_labels([["seed=3"]]), {})

    def test_a_sweep_whose_runs_all_failed_is_an_error(self):
        sweep = make_sweep(self.path("sw"), chunks=("random",), seeds=(1,), failed=[("random", 1)])
        code, _, err = run_main(sweep, "--out", self.out)
        self.assertEqual(code, 2)
        self.assertIn("every sweep run failed", err)
        self.assertIn("strategy.chunk=random_seed1", err)

    def test_a_label_prefixes_a_sweeps_runs(self):
        sweep = make_sweep(self.path("sw"), chunks=("random",), seeds=(3,))
        sources, _ = plot.expand_arguments([sweep], ["new"])
        self.assertEqual(sources[0].label, "new chunk=random seed 3")

    # ---- completions ----

    def test_completions_draw_each_distinct_bound_once_in_its_runs_colour(self):
        a = Run(make_run(self.path("a"), name="small", t_min=10.0))
        b = Run(make_run(self.path("b"), name="small", seed=2, t_min=10.0))
        c = Run(make_run(self.path("c"), name="big", t_min=20.0))
        runs = [a, b, c]
        sources = plot.plain_sources(runs)
        styles = plot.run_styles(sources)
        _, ax = plot.draw_completions(runs, sources)
        bounds = [line for line in ax.get_lines() if line.get_label().startswith("T_min")]
        self.assertEqual([line.get_xdata()[0] for line in bounds], [10.0, 20.0])
        self.assertEqual([line.get_label() for line in bounds],
                         ["T_min 10.0 s (small, shared by 2 runs)", "T_min 20.0 s (big)"])
        # One run's bound in its colour; a bound of runs of two colours in black.
        self.assertEqual(matplotlib.colors.to_hex(bounds[1].get_color()), styles[2]["color"])
        self.assertEqual(matplotlib.colors.to_hex(bounds[0].get_color()), "#000000")
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        self.assertIn("T_min 20.0 s (big)", legend)

    def test_a_sweeps_bounds_are_named_by_the_parameters_their_runs_share(self):
        sources = [plot.Source("a", "count=5 chunk=x seed 1", "count=5 chunk=x", ("count=5", "chunk=x")),
                   plot.Source("b", "count=5 chunk=y seed 1", "count=5 chunk=y", ("count=5", "chunk=y")),
                   plot.Source("c", "count=9 chunk=x seed 1", "count=9 chunk=x", ("count=9", "chunk=x"))]
        runs = [Run(make_run(self.path(s.path), name="same", t_min=t), s.label)
                for s, t in zip(sources, (5.0, 5.0, 9.0))]
        self.assertEqual([label for _, _, label in plot.bound_lines(runs, sources)],
                         ["T_min 5.0 s (count=5, shared by 2 runs)", "T_min 9.0 s (count=9 chunk=x)"])

    def test_one_bound_for_every_run_says_all(self):
        runs = [Run(make_run(self.path(n), name="small", seed=i)) for i, n in enumerate("ab")]
        (t_min, colour, label), = plot.bound_lines(runs)
        self.assertEqual(label, "T_min 10.0 s (small, shared by all 2 runs)")

    # ---- upload share and timeline ----

    def test_upload_share_legend_has_the_colours_of_its_bars(self):
        run = Run(make_run(self.path("a")))
        fig, ax = plot.draw_upload_share(run)
        bars = {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches}
        self.assertEqual(len(bars), 2)
        handles = legend_handles(ax.get_legend())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        by_label = dict(zip(labels, (matplotlib.colors.to_hex(h.get_facecolor()) for h in handles)))
        self.assertEqual(set(by_label.values()), bars)
        seed_bar = ax.patches[0]  # the origin seed sorts first
        self.assertEqual(by_label["original seeds (50.0% of bytes)"],
                         matplotlib.colors.to_hex(seed_bar.get_facecolor()))

    def test_timeline_rows_sort_naturally_and_are_readable(self):
        run = Run(make_run(self.path("a"), leechers=12))
        fig, ax = plot.draw_timeline(run)
        rows = [t.get_text() for t in ax.get_yticklabels()]
        self.assertEqual(rows, [f"leech-{i}" for i in range(12)])
        self.assertTrue(all(t.get_fontsize() >= 8 for t in ax.get_yticklabels()))
        small = Run(make_run(self.path("b"), leechers=3))
        self.assertGreater(fig.get_figheight(), plot.draw_timeline(small)[0].get_figheight())
        self.assertGreaterEqual(fig.get_figheight(), 12 * 0.25)

    def test_natural_key(self):
        names = ["leech-10", "leech-2", "seed-0", "leech-1", "leech-02x"]
        self.assertEqual(sorted(names, key=plot.natural_key),
                         ["leech-1", "leech-2", "leech-02x", "leech-10", "seed-0"])


if __name__ == "__main__":
    unittest.main()

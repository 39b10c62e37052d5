#!/usr/bin/python3
"""Plots and a report from run folders (swarm-sim's, or real peers' --events logs).

    analysis/plot.py RUN_DIR [RUN_DIR ...] --out DIR [--label NAME ...]

Writes PNGs and report.html into DIR and prints the summary table. Several runs are
overlaid where that compares them (download-time CDF, completions); per-run pictures
(swarm evolution, replication, upload share, timeline) are drawn for the first run.
"""
import argparse
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swarmlab_runs import RunError, load_runs, stats  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TIMELINE_MAX_PEERS = 40


def _finish(fig, ax, path, legend=True):
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def plot_cdf(runs, out):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run in runs:
        times = sorted(run.download_times().values())
        if not times:
            continue
        ys = [(i + 1) / len(times) for i in range(len(times))]
        ax.step(times, ys, where="post", label=f"{run.label} (mean {stats(times)['mean']:.1f} s)")
    ax.set_xlim(left=0)
    ax.set_title("Download time CDF")
    ax.set_xlabel("download time (s, arrival to completion)")
    ax.set_ylabel("fraction of leechers done")
    ax.set_ylim(0, 1.02)
    return _finish(fig, ax, os.path.join(out, "download_cdf.png"))


def plot_completions(runs, out):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for run in runs:
        done = run.completion_times()
        if not done:
            continue
        ax.step(done, range(1, len(done) + 1), where="post", label=run.label)
    bounds = {r.kumar_ross()["t_min_s"] for r in runs
              if r.kumar_ross() and r.kumar_ross().get("t_min_s")}
    for t_min in sorted(bounds):
        ax.axvline(t_min, color="black", linestyle="--", linewidth=1,
                   label=f"Kumar–Ross minimum T_min = {t_min:.1f} s")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Completed downloads against the minimum distribution time", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("leechers completed")
    return _finish(fig, ax, os.path.join(out, "completions.png"))


def plot_evolution(run, out):
    if not run.snapshots:
        return None
    t = [r["time_s"] for r in run.snapshots]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(t, [r["seeds"] for r in run.snapshots], label="seeds online")
    ax.plot(t, [r["leechers"] for r in run.snapshots], label="leechers online")
    ax.plot(t, [r["completed"] for r in run.snapshots], label="completed (cumulative)")
    ax.set_title(f"Swarm evolution\n{run.label}", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("peers")
    ax2 = ax.twinx()
    ax2.plot(t, [r["upload_bps"] / 1e6 for r in run.snapshots], color="grey", alpha=0.5,
             linewidth=0.8, label="aggregate upload (verified chunks)")
    if "wire_up_bps" in run.snapshots[0]:
        # What the uplinks carried beside what they could: the gap is idle capacity.
        ax2.plot(t, [r["wire_up_bps"] / 1e6 for r in run.snapshots], color="black",
                 linewidth=0.8, label="uplinks carried (wire)")
        ax2.plot(t, [r["up_capacity_bps"] / 1e6 for r in run.snapshots], color="black",
                 linestyle=":", linewidth=0.8, label="uplink capacity online")
    ax2.set_ylabel("aggregate upload (Mbit/s)", color="grey")
    ax2.legend(loc="center right", fontsize=7)
    return _finish(fig, ax, os.path.join(out, "swarm_evolution.png"))


def plot_replication(run, out):
    if not run.snapshots:
        return None
    t = [r["time_s"] for r in run.snapshots]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    lo = [r["replication_min"] for r in run.snapshots]
    hi = [r["replication_max"] for r in run.snapshots]
    ax.fill_between(t, lo, hi, alpha=0.2, label="min–max copies")
    ax.plot(t, [r["replication_mean"] for r in run.snapshots], label="mean copies")
    ax.plot(t, lo, linewidth=0.8, label="rarest chunk")
    ax.set_title(f"Chunk replication among online peers\n{run.label}", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("copies of a chunk")
    return _finish(fig, ax, os.path.join(out, "replication.png"))


def plot_upload_share(run, out):
    served = run.bytes_served()
    if not served:
        return None
    origin = run.origin_seeds()
    peers = sorted(served, key=lambda p: (p not in origin, -served[p]))
    fig, ax = plt.subplots(figsize=(max(7, len(peers) * 0.12), 4.2))
    colours = ["tab:red" if p in origin else "tab:blue" for p in peers]
    ax.bar(range(len(peers)), [served[p] / 2**20 for p in peers], color=colours)
    ax.set_xticks(range(len(peers)))
    ax.set_xticklabels(peers if len(peers) <= 40 else [""] * len(peers), rotation=90, fontsize=6)
    ax.bar([], [], color="tab:red", label=f"original seeds ({run.origin_share():.1%} of bytes)")
    ax.bar([], [], color="tab:blue", label="peers")
    ax.set_title(f"Upload share: bytes served per peer\n{run.label}", fontsize=10)
    ax.set_xlabel("peer")
    ax.set_ylabel("served (MiB)")
    return _finish(fig, ax, os.path.join(out, "upload_share.png"))


def plot_timeline(run, out):
    deliveries = run.chunk_deliveries()
    receivers = sorted({d[1] for d in deliveries})
    if not deliveries or len(receivers) > TIMELINE_MAX_PEERS:
        return None
    senders = sorted({d[2] for d in deliveries})
    cmap = plt.get_cmap("tab20")
    colour = {s: cmap(i % 20) for i, s in enumerate(senders)}
    row = {r: i for i, r in enumerate(receivers)}
    fig, ax = plt.subplots(figsize=(8, max(3, len(receivers) * 0.25)))
    for t, receiver, sender, _ in deliveries:
        ax.plot([t], [row[receiver]], marker="|", markersize=7, color=colour[sender])
    for s in senders[:20]:
        ax.plot([], [], marker="s", linestyle="", color=colour[s], label=s)
    ax.set_yticks(range(len(receivers)))
    ax.set_yticklabels(receivers, fontsize=6)
    ax.set_title(f"Per-peer timeline: each mark a verified chunk, coloured by sender\n{run.label}", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("receiving peer")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6, title="sender")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "timeline.png"), dpi=110)
    plt.close(fig)
    return "timeline.png"


def summary_rows(runs):
    rows = []
    for run in runs:
        h = run.headline()
        leechers = (run.summary or {}).get("leechers", h["completed"])
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        rows.append({"run": run.label, "completed": f"{h['completed']}/{leechers}",
                     "mean (s)": fmt(h["mean_s"], ".2f"), "p95 (s)": fmt(h["p95_s"], ".2f"),
                     "max (s)": fmt(h["max_s"], ".2f"), "origin share": fmt(h["origin_share"], ".1%"),
                     "T / T_min": fmt(h["kr_ratio"], ".3f"),
                     "uplink use": fmt(((run.summary or {}).get("uplinks") or {}).get("utilisation"),
                                       ".1%"),
                     "failures": str(h["failures"])})
    return rows


def text_table(rows):
    if not rows:
        return ""
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(width[c]) for c in cols)
    out = [line, "  ".join("-" * width[c] for c in cols)]
    out += ["  ".join(r[c].ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(out)


def write_report(runs, images, rows, out):
    cells = lambda r, tag: "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in r)  # noqa: E731
    table = ("<table><tr>" + cells(rows[0].keys(), "th") + "</tr>" +
             "".join("<tr>" + cells(r.values(), "td") + "</tr>" for r in rows) + "</table>")
    notes = []
    for run in runs:
        kr = run.kumar_ross()
        if kr and not kr.get("assumptions_hold", True):
            notes.append(f"{html.escape(run.label)}: the Kumar–Ross bound assumes a fixed swarm; "
                         f"here {html.escape(kr.get('assumptions_broken_by', ''))}.")
    figures = "".join(f'<figure><img src="{html.escape(i)}" alt="{html.escape(i)}"></figure>'
                      for i in images if i)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>swarmlab report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f3f3f3}}td:first-child{{text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>swarmlab report</h1>
<p>Runs: {", ".join(html.escape(r.path) for r in runs)}</p>
<h2>Summary</h2>{table}
<p>{"<br>".join(notes)}</p>
<h2>Figures</h2>{figures}
</body></html>
"""
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders")
    parser.add_argument("--out", required=True, help="folder for the PNGs and report.html")
    parser.add_argument("--label", action="append", default=[],
                        help="legend label for each run, in order (default: from its scenario)")
    args = parser.parse_args(argv)
    try:
        runs = load_runs(args.runs, args.label)
    except RunError as err:
        print(f"plot.py: {err}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    first = runs[0]
    images = [plot_cdf(runs, args.out), plot_completions(runs, args.out),
              plot_evolution(first, args.out), plot_replication(first, args.out),
              plot_upload_share(first, args.out), plot_timeline(first, args.out)]
    rows = summary_rows(runs)
    report = write_report(runs, images, rows, args.out)
    print(text_table(rows))
    print(f"\nPlots: {', '.join(i for i in images if i)}")
    print(f"Report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

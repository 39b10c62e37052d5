#!/usr/bin/python3
"""Plots and a report from run folders (swarm-sim's, or real peers' --events logs).

    analysis/plot.py RUN_DIR [RUN_DIR ...] --out DIR [--label NAME ...]

Writes PNGs and report.html into DIR and prints the summary table.

A RUN_DIR may also be a sweep folder (swarm-sim sweep's, with index.json): it stands for its
run folders, those whose exit status was 0 (the others are named and left out). Each sweep run
is labelled by its varied parameters and seed ("chunk=random seed 2"; a first section such as
"strategy." is dropped when every varied field shares it). A --label given for a sweep folder
prefixes its runs' labels; with several sweep folders, their folder names do.

Several runs are overlaid where that compares them (download-time CDF, completions). Runs of
one sweep variant (same parameters, different seeds) share a colour and differ in line style;
past 12 runs (PER_RUN_MAX) the legend has one entry per variant. Each distinct Kumar–Ross minimum
distribution time is drawn once, in the colour of the run(s) it bounds (black when it bounds
runs of several colours), and its label names them.

Per-run pictures (swarm evolution, replication, upload share, timeline) are drawn for every run,
up to 12 runs: the first run's keep their plain names (swarm_evolution.png), run N's get a
suffix (swarm_evolution-N.png, N its position in the summary table); report.html shows each
run's under its label. Past 12 runs, every variant's first seed is chosen before any second
one, and so on; the printed output and report.html say how many runs were left out.
"""
import argparse
import collections
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swarmlab_runs import Run, RunError, stats  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TIMELINE_MAX_PEERS = 40
# More per-run figures than this make a report nobody scrolls through (a sweep has dozens).
PER_RUN_MAX = 12
# Seeds of one variant share its colour; these tell them apart.
SEED_LINESTYLES = ["-", "--", ":", "-."]

# One run to plot: its folder, its label, the variant it belongs to (the label shared by the
# sweep runs that differ only in seed; None for a run folder given on its own) and, for a
# sweep run, its varied parameters as labelled ("chunk=random").
Source = collections.namedtuple("Source", "path label variant params", defaults=((),))


# ---- arguments: run folders and sweep folders ----

def natural_key(text):
    """Sort key that orders the numbers inside names by value: leech-2 before leech-10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text))]


def param_labels(params_lists):
    """Short forms of the varied fields: drop their first section ("strategy.") when all share it.

    Keeps the full field names when they do not share one ("strategy.chunk" beside
    "groups[1].count"): dropping it there would leave names whose origin is unclear.
    """
    keys = {p.split("=", 1)[0] for params in params_lists for p in params}
    firsts = {k.split(".", 1)[0] if "." in k else None for k in keys}
    if len(firsts) != 1 or None in firsts:
        return {}
    return {k: k.split(".", 1)[1] for k in keys}


def _read_index(folder):
    path = os.path.join(folder, "index.json")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except json.JSONDecodeError as err:
        raise RunError(f"{path}: malformed JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(index, list) or not all(isinstance(e, dict) and "dir" in e for e in index):
        raise RunError(f"{path}: expected a list of entries, each with a dir")
    return index


def sweep_sources(folder, prefix=None):
    """The run folders of a sweep, labelled by their parameters; and the failed ones, named."""
    index = _read_index(folder)
    short = param_labels([e.get("params") or [] for e in index])
    sources, skipped = [], []
    for e in index:
        if e.get("exit_status") != 0:
            skipped.append(f"{os.path.join(folder, e['dir'])} (exit status {e.get('exit_status')})")
            continue
        params = []
        for p in e.get("params") or []:
            key, _, value = p.partition("=")
            params.append(f"{short.get(key, key)}={value}")
        variant = " ".join(([prefix] if prefix else []) + params)
        label = f"{variant} seed {e.get('seed', '?')}".strip()
        # A sweep over seeds alone is one variant; its folder's name names it in a legend.
        sources.append(Source(os.path.join(folder, e["dir"]), label,
                              variant or os.path.basename(os.path.normpath(folder)), tuple(params)))
    return sources, skipped


def is_sweep(path):
    return os.path.isfile(os.path.join(path, "index.json"))


def expand_arguments(paths, labels=None):
    """Sources for the folders given, sweeps expanded into their runs; and the runs left out.

    labels are per argument, in order: a run folder's label, or a sweep's prefix.
    """
    labels = labels or []
    sweeps = sum(1 for p in paths if is_sweep(p))
    sources, skipped = [], []
    for i, path in enumerate(paths):
        label = labels[i] if i < len(labels) else None
        if not is_sweep(path):
            sources.append(Source(path, label, None))
            continue
        # Two sweeps both have a "chunk=random seed 1": their folder names tell them apart.
        prefix = label or (os.path.basename(os.path.normpath(path)) if sweeps > 1 else None)
        more, failed = sweep_sources(path, prefix)
        if not more and not failed:
            raise RunError(f"{path}: the sweep's index.json lists no runs")
        sources += more
        skipped += failed
    if not sources:
        raise RunError("no run to plot: every sweep run failed (" + "; ".join(skipped) + ")")
    return sources, skipped


def load_sources(sources):
    """The runs, with the labels their sources carry (a run's own label when they have none)."""
    runs = [Run(s.path, s.label) for s in sources]
    return runs, [s._replace(label=r.label) for s, r in zip(sources, runs)]


def plain_sources(runs):
    return [Source(r.path, r.label, None) for r in runs]


# ---- how runs look when overlaid ----

def _variant_key(source, index):
    # A run folder given on its own is a variant of one.
    return source.variant if source.variant is not None else ("run", index)


def run_styles(sources):
    """Colour and line style of each run: one colour per variant, one line style per seed."""
    keys = [_variant_key(s, i) for i, s in enumerate(sources)]
    order = list(dict.fromkeys(keys))
    cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
    seen = collections.Counter()
    styles = []
    for key in keys:
        styles.append({"color": matplotlib.colors.to_hex(cmap(order.index(key) % cmap.N)),
                       "linestyle": SEED_LINESTYLES[seen[key] % len(SEED_LINESTYLES)]})
        seen[key] += 1
    return styles


def legend_groups(sources):
    """(name, run indices) per legend entry: one per run, or past PER_RUN_MAX one per variant.

    A legend of dozens of runs hides the plot; the seeds of a variant share its colour anyway.
    """
    if len(sources) <= PER_RUN_MAX:
        return [(s.label, [i]) for i, s in enumerate(sources)]
    groups = {}
    for i, s in enumerate(sources):
        groups.setdefault(_variant_key(s, i), []).append(i)
    return [(sources[idx[0]].variant or sources[idx[0]].label, idx) for idx in groups.values()]


def _runs_phrase(names, count, total):
    shown = names if len(names) <= 3 else names[:3] + [f"{len(names) - 3} more"]
    text = ", ".join(shown)
    if count == 1:
        return text
    return f"{text}, shared by {'all ' if count == total else ''}{count} runs"


def _shared_params(sources):
    """The parameters every one of these sweep runs has, in order; () if any is not a sweep run."""
    if any(s.variant is None for s in sources):
        return ()
    return tuple(p for p in sources[0].params if all(p in s.params for s in sources))


def bound_lines(runs, sources=None):
    """(t_min, colour, label) per distinct Kumar–Ross bound, the runs it bounds named in the label."""
    sources = sources or plain_sources(runs)
    styles = run_styles(sources)
    by_bound = {}
    for i, run in enumerate(runs):
        kr = run.kumar_ross() or {}
        if kr.get("t_min_s"):
            # Rounded so that the same bound computed twice is one line, not two.
            by_bound.setdefault(round(kr["t_min_s"], 6), []).append(i)

    def names(idx, how):
        return sorted(dict.fromkeys(how(i) for i in idx), key=natural_key)

    scenario = lambda i: (runs[i].scenario or {}).get("name") or runs[i].label  # noqa: E731
    variant = lambda i: sources[i].variant or runs[i].label  # noqa: E731
    lines = []
    for t_min, idx in sorted(by_bound.items()):
        # The scenario's name says it when no other bound comes from the same scenario; else
        # the parameters its sweep runs share (the bound follows the swarm, not the seed).
        others = {scenario(j) for t, jdx in by_bound.items() if t != t_min for j in jdx}
        who = names(idx, scenario)
        if others & set(who):
            shared = _shared_params([sources[i] for i in idx])
            who = [" ".join(shared)] if shared else names(idx, variant)
        colours = {styles[i]["color"] for i in idx}
        colour = colours.pop() if len(colours) == 1 else "black"
        lines.append((t_min, colour,
                      f"T_min {t_min:.1f} s ({_runs_phrase(who, len(idx), len(runs))})"))
    return lines


# ---- figures ----

def _decorate(ax, legend=True):
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if not legend or not handles:
        return
    if len(labels) <= 5 and max(len(t) for t in labels) <= 60:
        ax.legend(loc="best", fontsize=8)
    else:
        # Many or long entries would cover the curves, or be wider than the plot: below it,
        # under the axis label. Out of the layout so that it does not squash the plot; the
        # picture grows to hold it (savefig's bbox_inches="tight").
        box = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8)
        box.set_in_layout(False)


def _save(fig, path):
    fig.tight_layout()
    # "tight", with the legends named, keeps one placed outside the layout in the picture.
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    fig.savefig(path, dpi=110, bbox_inches="tight", bbox_extra_artists=legends)
    plt.close(fig)
    return os.path.basename(path)


def draw_cdf(runs, sources=None):
    sources = sources or plain_sources(runs)
    styles = run_styles(sources)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, idx in legend_groups(sources):
        pooled, lines = [], []
        for i in idx:
            times = sorted(runs[i].download_times().values())
            if not times:
                continue
            pooled += times
            ys = [(k + 1) / len(times) for k in range(len(times))]
            lines += ax.step(times, ys, where="post", **styles[i])
        if lines:
            # One entry per group, on its first line; the mean is over all its seeds' downloads.
            seeds = f"{len(idx)} seeds, " if len(idx) > 1 else ""
            lines[0].set_label(f"{name} ({seeds}mean {stats(pooled)['mean']:.1f} s)")
    ax.set_xlim(left=0)
    ax.set_title("Download time CDF")
    ax.set_xlabel("download time (s, arrival to completion)")
    ax.set_ylabel("fraction of leechers done")
    ax.set_ylim(0, 1.02)
    _decorate(ax)
    return fig, ax


def plot_cdf(runs, out, sources=None):
    fig, _ = draw_cdf(runs, sources)
    return _save(fig, os.path.join(out, "download_cdf.png"))


def draw_completions(runs, sources=None):
    sources = sources or plain_sources(runs)
    styles = run_styles(sources)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, idx in legend_groups(sources):
        lines = []
        for i in idx:
            done = runs[i].completion_times()
            if done:
                lines += ax.step(done, range(1, len(done) + 1), where="post", **styles[i])
        if lines:
            lines[0].set_label(name if len(idx) == 1 else f"{name} ({len(idx)} seeds)")
    for t_min, colour, label in bound_lines(runs, sources):
        ax.axvline(t_min, color=colour, linestyle=(0, (5, 3)), linewidth=1, label=label)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Completed downloads against the minimum distribution time", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("leechers completed")
    _decorate(ax)
    return fig, ax


def plot_completions(runs, out, sources=None):
    fig, _ = draw_completions(runs, sources)
    return _save(fig, os.path.join(out, "completions.png"))


def plot_evolution(run, out, name="swarm_evolution.png"):
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
    _decorate(ax)
    return _save(fig, os.path.join(out, name))


def plot_replication(run, out, name="replication.png"):
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
    _decorate(ax)
    return _save(fig, os.path.join(out, name))


def draw_group_uplinks(run):
    """Each group's uplinks: how full (top), and what waited on them (middle): seconds of
    requests queued on the group's busiest uplink (left axis), and unchoked downloaders that
    asked the group for nothing at that instant (dotted, right axis). An idle class beside a
    long queue elsewhere is work asked of other owners. Then the group's downloads (bottom):
    sources that would take a request but hold nothing not already asked elsewhere (left
    axis), and chunks nobody was asked for whose owners all choke or are full (dashed, right
    axis)."""
    rows = run.groups
    if not rows:
        return None
    names = list(dict.fromkeys(r["group"] for r in rows))
    queues = "queued_s_max" in rows[0]
    waits = queues and "idle_sources" in rows[0]
    panels = 1 + queues + waits
    fig, axes = plt.subplots(panels, 1, figsize=(7, 1.2 + 2.4 * panels), sharex=True,
                             squeeze=False)
    top = axes[0][0]
    if queues:
        queued = axes[1][0]
        takers = queued.twinx()
    if waits:
        idle = axes[2][0]
        chunks = idle.twinx()
    for i, name in enumerate(names):
        mine = [r for r in rows if r["group"] == name and r["up_capacity_bps"] > 0]
        t = [r["time_s"] for r in mine]
        colour = f"C{i % 10}"
        top.plot(t, [100 * r["wire_up_bps"] / r["up_capacity_bps"] for r in mine], color=colour,
                 label=name)
        if queues:
            queued.plot(t, [r["queued_s_max"] for r in mine], color=colour, label=name)
            takers.plot(t, [r["unchoked_asking_none"] for r in mine], color=colour,
                        linestyle=":")
        if waits:
            idle.plot(t, [r["idle_sources"] for r in mine], color=colour, label=name)
            chunks.plot(t, [r["chunks_on_busy_owners"] for r in mine], color=colour,
                        linestyle="--")
    top.set_title(f"Uplinks by group\n{run.label}", fontsize=10)
    top.set_ylabel("uplink used (% of capacity)")
    _decorate(top)
    if queues:
        queued.set_ylabel("busiest uplink's queue (s)")
        takers.set_ylabel("unchoked, asking nothing (dotted)")
        _decorate(queued, legend=False)
    if waits:
        idle.set_ylabel("its downloads' sources\nwith nothing new")
        chunks.set_ylabel("chunks on busy owners (dashed)")
        _decorate(idle, legend=False)
    axes[-1][0].set_xlabel("time (s)")
    return fig, axes


def plot_group_uplinks(run, out, name="group_uplinks.png"):
    drawn = draw_group_uplinks(run)
    return _save(drawn[0], os.path.join(out, name)) if drawn else None


def draw_upload_share(run):
    served = run.bytes_served()
    if not served:
        return None
    origin = run.origin_seeds()
    peers = sorted(served, key=lambda p: (p not in origin, -served[p], natural_key(p)))
    fig, ax = plt.subplots(figsize=(max(7, len(peers) * 0.12), 4.2))
    # One bar call per kind, each labelled: the legend then shows the bars' own colours.
    kinds = [("tab:red", f"original seeds ({run.origin_share():.1%} of bytes)", True),
             ("tab:blue", "peers", False)]
    for colour, label, is_origin in kinds:
        xs = [i for i, p in enumerate(peers) if (p in origin) == is_origin]
        if xs:
            ax.bar(xs, [served[peers[i]] / 2**20 for i in xs], color=colour, label=label)
    ax.set_xticks(range(len(peers)))
    ax.set_xticklabels(peers if len(peers) <= 40 else [""] * len(peers), rotation=90, fontsize=6)
    ax.set_title(f"Upload share: bytes served per peer\n{run.label}", fontsize=10)
    ax.set_xlabel("peer")
    ax.set_ylabel("served (MiB)")
    _decorate(ax)
    return fig, ax


def plot_upload_share(run, out, name="upload_share.png"):
    drawn = draw_upload_share(run)
    return _save(drawn[0], os.path.join(out, name)) if drawn else None


def draw_timeline(run):
    deliveries = run.chunk_deliveries()
    receivers = sorted({d[1] for d in deliveries}, key=natural_key)
    if not deliveries or len(receivers) > TIMELINE_MAX_PEERS:
        return None
    senders = sorted({d[2] for d in deliveries}, key=natural_key)
    cmap = plt.get_cmap("tab20")
    row = {r: i for i, r in enumerate(receivers)}
    # Tall enough for 8-point labels, one row each; the first row at the top.
    fig, ax = plt.subplots(figsize=(8, max(3.0, 1.6 + 0.3 * len(receivers))))
    for i, s in enumerate(senders):
        mine = [d for d in deliveries if d[2] == s]
        # The first 20 senders are named; beyond them colours repeat and a legend would mislead.
        ax.plot([d[0] for d in mine], [row[d[1]] for d in mine], marker="|", markersize=7,
                linestyle="", color=cmap(i % 20), label=s if i < 20 else None)
    ax.set_yticks(range(len(receivers)))
    ax.set_yticklabels(receivers, fontsize=8)
    ax.set_ylim(len(receivers) - 0.5, -0.5)
    ax.set_title(f"Per-peer timeline: each mark a verified chunk, coloured by sender\n{run.label}",
                 fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("receiving peer")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, title="sender",
              markerscale=1.5)
    return fig, ax


def plot_timeline(run, out, name="timeline.png"):
    drawn = draw_timeline(run)
    return _save(drawn[0], os.path.join(out, name)) if drawn else None


PER_RUN_PLOTS = [(plot_evolution, "swarm_evolution.png"), (plot_replication, "replication.png"),
                 (plot_group_uplinks, "group_uplinks.png"), (plot_upload_share, "upload_share.png"),
                 (plot_timeline, "timeline.png")]


def per_run_name(base, index):
    """File name of a per-run figure: the first run's plain, run N's with -N before .png."""
    if index == 0:
        return base
    stem, ext = os.path.splitext(base)
    return f"{stem}-{index + 1}{ext}"


def per_run_selection(sources, limit=None):
    """Indices of the runs that get per-run figures, in run order.

    Past the limit, every variant's first seed comes before any variant's second, so that a
    sweep's figures show each setting rather than all the seeds of the first one.
    """
    limit = PER_RUN_MAX if limit is None else limit
    if len(sources) <= limit:
        return list(range(len(sources)))
    variants = {}
    for i, s in enumerate(sources):
        variants.setdefault(_variant_key(s, i), []).append(i)
    chosen = []
    for depth in range(max(len(v) for v in variants.values())):
        chosen += [v[depth] for v in variants.values() if depth < len(v)]
    return sorted(chosen[:limit])


def plot_per_run(runs, sources, out):
    """[(run index, [file names])] for the selected runs, and the indices left out."""
    chosen = per_run_selection(sources)
    drawn = [(i, [f for f in (plot(runs[i], out, per_run_name(base, i))
                               for plot, base in PER_RUN_PLOTS) if f])
             for i in chosen]
    return drawn, [i for i in range(len(runs)) if i not in chosen]


# ---- table and report ----

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
                     "first copy / F/u_s": fmt(((run.summary or {}).get("first_copy") or {}).get("ratio"),
                                              ".2f"),
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


def _some(names, limit=12):
    # The table lists every run; a sentence naming forty of them is not read.
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def left_out_notes(runs, left_out, skipped):
    """Plain-text sentences on what the figures do not show, for the terminal and the report."""
    notes = []
    if left_out:
        notes.append(f"Per-run figures for {len(runs) - len(left_out)} of {len(runs)} runs; "
                     f"{len(left_out)} left out: {_some([runs[i].label for i in left_out])}.")
    if skipped:
        notes.append(f"Not plotted, failed in their sweep ({len(skipped)}): {_some(skipped)}.")
    return notes


def _figure(image, caption):
    return (f'<figure><img src="{html.escape(image)}" alt="{html.escape(caption)}">'
            f"</figure>")


def write_page(out, title, body, width_px=1000):
    """report.html in `out`: `body` (HTML) under a heading, in the style every report shares."""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:{width_px}px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f3f3f3}}td:first-child{{text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""
    path = os.path.join(out, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def write_report(runs, overlaid, per_run, rows, out, notes=()):
    """report.html: the table, the overlaid figures, then each run's under its label."""
    cells = lambda r, tag: "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in r)  # noqa: E731
    table = ("<table><tr>" + cells(rows[0].keys(), "th") + "</tr>" +
             "".join("<tr>" + cells(r.values(), "td") + "</tr>" for r in rows) + "</table>")
    kr_notes = []
    for run in runs:
        kr = run.kumar_ross()
        if kr and not kr.get("assumptions_hold", True):
            kr_notes.append(f"{html.escape(run.label)}: the Kumar–Ross bound assumes a fixed swarm; "
                            f"here {html.escape(kr.get('assumptions_broken_by', ''))}.")
    figures = "".join(_figure(i, i) for i in overlaid if i)
    for index, images in per_run:
        if images:
            label = runs[index].label
            figures += f"<h3>{html.escape(label)}</h3>" + "".join(
                _figure(i, f"{i}: {label}") for i in images)
    notes_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    body = (f'<p>Runs: {", ".join(html.escape(r.path) for r in runs)}</p>\n'
            f'<h2>Summary</h2>{table}\n<p>{"<br>".join(kr_notes)}</p>\n'
            f'<h2>Figures</h2>{notes_html}{figures}')
    return write_page(out, "swarmlab report", body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="run folders, or sweep folders (with index.json)")
    parser.add_argument("--out", required=True, help="folder for the PNGs and report.html")
    parser.add_argument("--label", action="append", default=[],
                        help="legend label for each RUN_DIR, in order (default: from its "
                             "scenario); for a sweep folder, a prefix for its runs' labels")
    args = parser.parse_args(argv)
    try:
        sources, skipped = expand_arguments(args.runs, args.label)
        runs, sources = load_sources(sources)
    except RunError as err:
        print(f"plot.py: {err}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    overlaid = [plot_cdf(runs, args.out, sources), plot_completions(runs, args.out, sources)]
    per_run, left_out = plot_per_run(runs, sources, args.out)
    rows = summary_rows(runs)
    notes = left_out_notes(runs, left_out, skipped)
    report = write_report(runs, overlaid, per_run, rows, args.out, notes)
    print(text_table(rows))
    images = [i for i in overlaid if i] + [i for _, files in per_run for i in files]
    print(f"\nPlots: {', '.join(images)}")
    for note in notes:
        print(note)
    print(f"Report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""What a sweep's varied fields do to its metrics: one figure per metric, and a table.

    analysis/sweep.py SWEEP_DIR [--out DIR]

SWEEP_DIR is a folder written by `swarm-sim sweep` (its index.json is all that is read); DIR,
by default SWEEP_DIR/analysis, gets one PNG per metric (mean, p95 and last download time,
Kumar–Ross ratio, origin share) and report.html. The table is printed too.

Each figure has one panel per varied field, the field's values along x: numbers on a numeric
axis in numeric order ("10" after "9"), anything else as categories in the order the sweep
lists them. A point is the mean across seeds; around it, the 95 % confidence interval of that
mean (Student t, n-1 degrees of freedom): a band on a numeric axis, error bars on a categorical
one. A variant with one successful run has no interval: its point is hollow, and the figure's
title says so. With several fields varied, a panel draws one line per combination of the other
fields' values (the legend names them); a metric's panels share its axis.

Runs that failed (exit status other than 0, or no metrics) are named and left out; a variant
none of whose runs succeeded is a row saying so. A folder without index.json, a malformed one,
or a sweep with no successful run is an error (exit status 2).
"""
import argparse
import collections
import html
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot import param_labels, text_table, write_page  # noqa: E402
from swarmlab_runs import RunError  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CONFIDENCE = 0.95
# A legend of more lines than this goes beside its panel, and the panels under one another.
LEGEND_INSIDE_MAX = 3

# One metric of an index.json entry: the PNG's name, its title, the axis label, the table's
# column, how to read it from an entry (None when the run did not report it), and its format.
Metric = collections.namedtuple("Metric", "name title axis column read fmt")


def _download_time(key):
    def read(entry):
        times = entry.get("download_time_s")
        # A run in which no leecher finished has {"count": 0}: no mean, no p95.
        return times.get(key) if isinstance(times, dict) else None
    return read


def _origin_percent(entry):
    share = entry.get("origin_share")
    return 100.0 * share if isinstance(share, (int, float)) else None


METRICS = [
    Metric("mean_download_time", "Mean download time", "mean download time (s)", "mean (s)",
           _download_time("mean"), ".2f"),
    Metric("p95_download_time", "95th-percentile download time", "p95 download time (s)",
           "p95 (s)", _download_time("p95"), ".2f"),
    Metric("last_download_time", "Last download time", "slowest leecher's download time (s)",
           "last (s)", _download_time("max"), ".2f"),
    Metric("kumar_ross_ratio", "Kumar–Ross ratio", "T / T_min (1 = the bound)", "T / T_min",
           lambda e: e.get("kumar_ross_ratio"), ".3f"),
    Metric("origin_share", "Origin share", "bytes served by the original seeds (%)",
           "origin %", _origin_percent, ".1f"),
]

# A variant: its varied fields as (field, value) pairs, its successful runs' index entries,
# and its failed runs, named.
Variant = collections.namedtuple("Variant", "params runs failed")

# Mean of one metric over a variant's runs, the half-width of its confidence interval (None
# with fewer than two values) and how many runs reported it.
Estimate = collections.namedtuple("Estimate", "mean half_width n")


# ---- statistics ----

def _t_central(t, df):
    """P(-t < T < t) for Student's T with integer df (Abramowitz & Stegun 26.7.3, 26.7.4).

    Closed form, so that the interval needs no scipy (the setup installs matplotlib only).
    """
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    term = total = 1.0
    if df % 2:
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        tail = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
        return 2 / math.pi * (theta + tail)
    for k in range(1, df // 2):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


def t_quantile(df, confidence=CONFIDENCE):
    """t such that P(|T| < t) = confidence: t(0.975, 2) = 4.303 for a 95 % interval of 3 runs."""
    if df < 1:
        raise ValueError("Student t needs at least one degree of freedom")
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < confidence:
        hi *= 2
    # The central probability grows with t: bisection converges to full precision.
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_central(mid, df) < confidence else (lo, mid)
    return (lo + hi) / 2


def estimate(values):
    """Mean and 95 % confidence half-width (t(0.975, n-1) * s / sqrt(n)) of the values given."""
    # null where a run could not measure it (no Kumar–Ross ratio when a leecher never finished).
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not values:
        return Estimate(None, None, 0)
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Estimate(mean, None, 1)
    n = len(values)
    return Estimate(mean, t_quantile(n - 1) * statistics.stdev(values) / math.sqrt(n), n)


# ---- reading the sweep ----

def read_index(folder):
    """The entries of a sweep's index.json, checked enough that what follows can trust them."""
    path = os.path.join(folder, "index.json")
    if not os.path.isdir(folder):
        raise RunError(f"{folder}: " + ("not a folder (give the sweep's folder, which holds "
                                         "index.json)" if os.path.exists(folder) else
                                         "no such folder"))
    if not os.path.isfile(path):
        raise RunError(f"{folder}: no index.json (expected a folder written by swarm-sim sweep)")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except json.JSONDecodeError as err:
        raise RunError(f"{path}: malformed JSON ({err.msg} at line {err.lineno})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunError(f"{path}: cannot be read ({err})") from None
    if not isinstance(index, list):
        raise RunError(f"{path}: expected a list of runs")
    for number, e in enumerate(index, 1):
        where = f"{path}: run {number}"
        if not isinstance(e, dict) or not isinstance(e.get("dir"), str):
            raise RunError(f"{where}: expected an object with a dir")
        params = e.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) and "=" in p
                                                   for p in params):
            raise RunError(f"{where} ({e['dir']}): params must be a list of \"field=value\"")
    if not index:
        raise RunError(f"{path}: the sweep lists no runs")
    return index


def failure(entry):
    """Why a run is left out, or None if it succeeded."""
    status = entry.get("exit_status")
    if status != 0:
        return f"exit status {status}"
    # swarm-sim counts a run that exited 0 but left no summary.json as failed too.
    if "completed" not in entry:
        return "no metrics"
    return None


def variants(index, folder=""):
    """The sweep's variants (runs that differ only in seed), in the order the index lists them."""
    found = {}
    for e in index:
        params = tuple(tuple(p.split("=", 1)) for p in e.get("params", []))
        v = found.setdefault(params, Variant(params, [], []))
        why = failure(e)
        if why:
            v.failed.append(f"{os.path.join(folder, e['dir'])} ({why})")
        else:
            v.runs.append(e)
    return list(found.values())


def fields(variant_list):
    """The varied fields, in the order the sweep lists them."""
    return list(dict.fromkeys(key for v in variant_list for key, _ in v.params))


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def field_values(variant_list, field):
    """The field's values in axis order, and whether they are numbers.

    Numbers are sorted by value (as text "10" would come before "9"); other values keep the
    order they were given to --vary, which is the order their author meant.
    """
    values = list(dict.fromkeys(dict(v.params)[field] for v in variant_list
                                if field in dict(v.params)))
    numeric = all(_number(x) is not None for x in values)
    if numeric:
        values.sort(key=_number)
    return values, numeric


def _order(variant_list, field):
    values, _ = field_values(variant_list, field)
    return {value: i for i, value in enumerate(values)}


# ---- figures ----

def _label(field, short):
    return short.get(field, field)


def lines_for(variant_list, field, short):
    """[(legend label, [variant per x value, None where the sweep has none])] for one panel.

    One line per combination of the other fields' values, ordered as their axes would be.
    """
    x_values, _ = field_values(variant_list, field)
    others = [f for f in fields(variant_list) if f != field]
    orders = {f: _order(variant_list, f) for f in others}
    groups = {}
    for v in variant_list:
        params = dict(v.params)
        if field not in params:
            continue
        key = tuple((f, params.get(f, "")) for f in others)
        groups.setdefault(key, {})[params[field]] = v
    ordered = sorted(groups, key=lambda k: [orders[f].get(value, -1) for f, value in k])
    return [(" ".join(f"{_label(f, short)}={value}" for f, value in key),
             [groups[key].get(x) for x in x_values]) for key in ordered]


def _seed_phrase(counts):
    """How many runs each point averages, for a figure's title."""
    counts = sorted(set(counts))
    if not counts:
        return "no runs"
    if counts == [1]:
        return "one run per variant: no confidence interval"
    runs = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    note = "; a hollow point is one run: no interval" if counts[0] == 1 else ""
    return f"mean of {runs} seeds, {CONFIDENCE:.0%} confidence interval (Student t){note}"


def _isolated(points, j):
    """Whether point j has an interval and neither neighbour does: a band cannot show it."""
    has = lambda k: 0 <= k < len(points) and points[k][2] is not None  # noqa: E731
    return has(j) and not has(j - 1) and not has(j + 1)


def draw_line(ax, points, colour, name, numeric):
    """One line of a panel: (x, mean, half-width or None, runs) per point it has.

    A point of one run is hollow: it has no interval, and should not look like a sure one.
    """
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    # Categories have no order in between: a thin dotted line only tells the lines apart.
    ax.plot(xs, ys, marker="o", color=colour, label=name or None,
            linestyle="-" if numeric else ":", linewidth=1.5 if numeric else 1)
    single = [p for p in points if p[3] == 1]
    ax.plot([p[0] for p in single], [p[1] for p in single], marker="o", linestyle="",
            color=colour, markerfacecolor="white")
    if numeric:
        # NaN where a point has no interval: the band stops there rather than pinch to nothing.
        half = [math.nan if p[2] is None else p[2] for p in points]
        ax.fill_between(xs, [y - h for y, h in zip(ys, half)], [y + h for y, h in zip(ys, half)],
                        color=colour, alpha=0.2, linewidth=0)
        bars = [p for j, p in enumerate(points) if _isolated(points, j)]
    else:
        bars = [p for p in points if p[2] is not None]
    if bars:
        ax.errorbar([p[0] for p in bars], [p[1] for p in bars], yerr=[p[2] for p in bars],
                    fmt="none", capsize=4, color=colour)


def draw_panel(ax, variant_list, field, metric, short):
    """One field's panel: the metric against the field's values. Returns the runs per point."""
    x_values, numeric = field_values(variant_list, field)
    lines = lines_for(variant_list, field, short)
    positions = [_number(x) for x in x_values] if numeric else list(range(len(x_values)))
    cmap = plt.get_cmap("tab10" if len(lines) <= 10 else "tab20")
    counts = []
    for i, (name, variants_here) in enumerate(lines):
        # Categories: lines side by side around each category, so that their bars do not
        # hide one another.
        shift = 0 if numeric else 0.06 * (i - (len(lines) - 1) / 2)
        points = []
        for x, v in zip(positions, variants_here):
            est = estimate(metric.read(e) for e in v.runs) if v else Estimate(None, None, 0)
            # A variant with no run (or none reporting this metric) is no point: the line
            # joins its neighbours, and the missing marker shows the gap.
            if est.mean is not None:
                points.append((x + shift, est.mean, est.half_width, est.n))
        counts += [p[3] for p in points]
        draw_line(ax, points, cmap(i % cmap.N), name, numeric)
    # Each value named as it was given ("8", not "8.0"), unless they are too many to read.
    if not numeric or len(x_values) <= 12:
        ax.set_xticks(positions)
        ax.set_xticklabels(x_values, rotation=30 if max(map(len, x_values)) > 12 else 0)
    if not numeric:
        ax.set_xlim(-0.5, len(x_values) - 0.5)
    ax.set_xlabel(_label(field, short))
    ax.set_ylabel(metric.axis)
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        # Many entries would cover the points: beside the panel then.
        if len(handles) <= LEGEND_INSIDE_MAX:
            ax.legend(loc="best", fontsize=8)
        else:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return counts


def draw_metric(variant_list, metric, short=None):
    """A metric's figure: one panel per varied field, sharing the metric's axis."""
    short = short if short is not None else {}
    varied = fields(variant_list)
    # Two panels side by side when their legends fit inside them; else one above the other,
    # so that legends beside them do not make the picture too wide to read.
    wide = any(len(lines_for(variant_list, f, short)) > LEGEND_INSIDE_MAX for f in varied)
    cols = 1 if wide else min(2, len(varied))
    rows = math.ceil(len(varied) / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(6.5 * cols, 4.2 * rows), sharey=True,
                             squeeze=False)
    axes = list(grid.flat)
    counts = []
    for ax, field in zip(axes, varied):
        counts += draw_panel(ax, variant_list, field, metric, short)
        if ax not in grid[:, 0]:
            ax.set_ylabel("")
    for ax in axes[len(varied):]:
        ax.set_visible(False)
    fig.suptitle(f"{metric.title}\n{_seed_phrase(counts)}", fontsize=10)
    return fig, axes[:len(varied)]


def reported(variant_list, metric):
    return any(estimate(metric.read(e) for e in v.runs).n for v in variant_list)


def plot_metric(variant_list, metric, out, short=None):
    """The metric's PNG, or None when no run reported it (an empty figure says nothing)."""
    if not reported(variant_list, metric):
        return None
    fig, _ = draw_metric(variant_list, metric, short)
    fig.tight_layout()
    path = os.path.join(out, metric.name + ".png")
    # "tight" keeps a legend placed beside a panel in the picture.
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return os.path.basename(path)


# ---- table and report ----

def variant_name(variant, short):
    return " ".join(f"{_label(k, short)}={v}" for k, v in variant.params) or "(scenario as written)"


def _cell(est, fmt, runs):
    if est.mean is None:
        return "-"
    text = format(est.mean, fmt)
    if est.half_width is not None:
        text += f" ± {est.half_width:{fmt}}"
    # Fewer values than runs: some runs did not report it; the interval is over the others.
    return text if est.n == runs else f"{text} (n={est.n})"


def in_axis_order(variant_list):
    """The variants sorted by their fields' values as the axes order them, first field first.

    swarm-sim lists the first --vary field fastest-changing and "10" wherever it was given;
    sorted, the rows of one value of the first field stand together, in numeric order.
    """
    orders = {f: _order(variant_list, f) for f in fields(variant_list)}
    return sorted(variant_list, key=lambda v: [orders[f].get(dict(v.params).get(f), -1)
                                               for f in orders])


def table_rows(variant_list, short=None):
    """Per variant: its seeds (successful runs, of how many), completions, and each metric."""
    short = short if short is not None else {}
    rows = []
    for v in in_axis_order(variant_list):
        total = len(v.runs) + len(v.failed)
        row = {"variant": variant_name(v, short),
               "seeds": str(len(v.runs)) if not v.failed else f"{len(v.runs)} of {total}"}
        if not v.runs:
            row["completed"] = "no successful run"
            rows.append(row)
            continue
        done = sum(e.get("completed") or 0 for e in v.runs)
        # A mean download time is over the leechers that finished: say when some did not.
        row["completed"] = f"{done}/{sum(e.get('leechers') or 0 for e in v.runs)}"
        for m in METRICS:
            row[m.column] = _cell(estimate(m.read(e) for e in v.runs), m.fmt, len(v.runs))
        rows.append(row)
    columns = ["variant", "seeds", "completed"] + [m.column for m in METRICS]
    return [{c: r.get(c, "") for c in columns} for r in rows]


TABLE_NOTE = (f"(mean ± half-width of its {CONFIDENCE:.0%} confidence interval across seeds, "
              "Student t with n-1 degrees of freedom; no ± with one seed)")


def notes(variant_list, short=None):
    """Sentences on what the figures leave out, for the terminal and the report."""
    out = []
    failed = [name for v in in_axis_order(variant_list) for name in v.failed]
    if failed:
        # One a line: a sweep's folder names are long, and a failure is looked up by them.
        out.append(f"Left out, failed ({len(failed)}):\n  " + "\n  ".join(failed))
    empty = [variant_name(v, short or {}) for v in in_axis_order(variant_list) if not v.runs]
    if empty:
        out.append(f"No successful run, so no point in the figures: {', '.join(empty)}.")
    for m in METRICS:
        if fields(variant_list) and not reported(variant_list, m):
            # swarm-sim writes null where it cannot measure: no ratio unless every leecher
            # finished, no download time unless one did.
            out.append(f"{m.title}: no figure, no run reported it.")
    if not fields(variant_list):
        out.append("No field was varied (a sweep over seeds only): nothing to plot against; "
                   "the table has the one variant.")
    return out


def write_report(folder, rows, images, notes_text, out):
    cells = lambda r, tag: "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in r)  # noqa: E731
    table = ("<table><tr>" + cells(rows[0].keys(), "th") + "</tr>" +
             "".join("<tr>" + cells(r.values(), "td") + "</tr>" for r in rows) + "</table>")
    figures = "".join(f'<figure><img src="{html.escape(i)}" alt="{html.escape(i)}"></figure>'
                      for i in images)
    notes_html = "".join(f"<p>{html.escape(n).replace(chr(10), '<br>')}</p>" for n in notes_text)
    body = (f"<p>Sweep: {html.escape(folder)}</p>\n<h2>Variants</h2>{table}\n"
            f"<p>{html.escape(TABLE_NOTE)}</p>{notes_html}\n<h2>Figures</h2>{figures}")
    return write_page(out, "swarmlab sweep", body, width_px=1300)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", metavar="SWEEP_DIR", help="a folder written by swarm-sim sweep")
    parser.add_argument("--out", help="folder for the PNGs and report.html "
                                      "(default: SWEEP_DIR/analysis)")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.sweep, "analysis")
    try:
        found = variants(read_index(args.sweep), args.sweep)
        if not any(v.runs for v in found):
            failed = [name for v in found for name in v.failed]
            raise RunError(f"{args.sweep}: no successful run; every run failed "
                           f"({'; '.join(failed)})")
    except RunError as err:
        print(f"sweep.py: {err}", file=sys.stderr)
        return 2
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        print(f"sweep.py: cannot write to {out} ({err})", file=sys.stderr)
        return 2
    short = param_labels([[f"{k}={v}" for k, v in var.params] for var in found])
    images = [plot_metric(found, m, out, short) for m in METRICS] if fields(found) else []
    images = [i for i in images if i]
    rows = table_rows(found, short)
    notes_text = notes(found, short)
    report = write_report(args.sweep, rows, images, notes_text, out)
    print(text_table(rows))
    print(TABLE_NOTE)
    if images:
        print(f"\nPlots: {', '.join(images)}")
    for note in notes_text:
        print(note)
    print(f"Report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""How far the simulated and the emulated runs of one scenario are apart.

    analysis/fidelity.py SIM_RUN EMU_RUN --out DIR [--check]
    analysis/fidelity.py --sim SIM_RUN... --emu EMU_RUN... [--sim-reference SIM_RUN...]
                         --out DIR [--check]

SIM_RUN is `swarm-sim run SCENARIO`'s folder, EMU_RUN `swarm-emu run SCENARIO`'s (same scenario
and seed). Several runs per world (seeds, repetitions) are pooled: their download times make
one sample per world. Prints the comparison and writes fidelity.png (download-time CDFs
overlaid, swarm evolution side by side, of the first run of each world), fidelity.json and a
report.html with the section into DIR.

The KS distance depends on chance as well as on the worlds: in a flash crowd every leecher
finishes within a few seconds of the others, and a shift of a few percent moves every point of
the CDF. So a reference is given beside it. With --sim-reference (simulated runs of other
seeds, as many as --sim), it is the KS distance between the two simulated pools: what seeds
alone do to samples of this size. Without it, and with two or more simulated runs, it is the
mean KS distance between single simulated runs (smaller samples, so a larger figure).

Compared: median, p95 and mean download time (relative difference, emulated against
simulated), the two-sample Kolmogorov–Smirnov distance between the download times, completion
counts and the origin seeds' share of the bytes served; and, per run, what TCP did in each
world from run.json: packets the access links' queues dropped, retransmission timeouts, fast
recoveries, tail loss probes (the simulation's sockets send them as Linux does,
sim/linux_tcp_socket.hpp), and the timeouts Linux undid as spurious (ns-3 3.37 has no
F-RTO). With --check the exit status is 1 when a target is missed: median and p95
within 15 %, KS distance at most 0.15, the same number of completions (docs/emulation.md says
why these).
"""
import argparse
import html
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from swarmlab_runs import RunError, Run, stats  # noqa: E402

TARGETS = {"median": 0.15, "p95": 0.15, "ks": 0.15}


def ks_distance(a, b):
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs."""
    if not a or not b:
        return None
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    return d


def relative(emu, sim):
    if emu is None or sim is None or sim == 0:
        return None
    return (emu - sim) / sim


def pooled_times(runs):
    return [t for run in runs for t in run.download_times().values()]


def mean_origin_share(runs):
    return sum(r.origin_share() for r in runs) / len(runs)


# What TCP did, per run: (name in fidelity.json, row label, simulation's run.json path,
# emulation's). The simulation counts entries into loss recovery after a timeout; Linux
# every expiry of the timer (repeats while backing off, SYN retries and the timers of sockets
# left closing too), so Linux's count is if anything the larger for the same events.
TCP_FIGURES = (
    ("queue_drops", "queue drops / run", ("queue_drops", "packets"), ("wire", "queue_drops", "packets")),
    ("timeouts", "TCP timeouts / run", ("tcp_timeouts",), ("tcp", "timeouts")),
    ("fast_recoveries", "fast recoveries / run", ("tcp_fast_recoveries",), ("tcp", "fast_recoveries")),
    ("loss_probes", "tail loss probes / run", ("tcp_loss_probes",), ("tcp", "loss_probes")),
    ("spurious_timeouts", "timeouts undone / run", None, ("tcp", "spurious_timeouts")),
    ("hystart_delay_exits", "slow starts ended by the RTT / run", ("tcp_hystart_exits", "delay"),
     ("tcp", "hystart_delay_exits")),
    ("hystart_train_exits", "slow starts ended by an ACK train / run",
     ("tcp_hystart_exits", "ack_train"), ("tcp", "hystart_train_exits")),
)


def _dig(d, keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def tcp_per_run(runs, world):
    """Mean per run of each TCP figure over the runs whose run.json has it (None if none). An
    emulated run whose counters some hosts could not give (tcp.hosts_unread) is left out:
    its sums are short."""
    docs = []
    for r in runs:
        try:
            with open(os.path.join(r.path, "run.json"), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as err:
            print(f"fidelity.py: warning: {r.path}/run.json unreadable ({err}); its TCP figures "
                  "are left out", file=sys.stderr)
            doc = {}
        if isinstance(doc, dict) and (doc.get("tcp") or {}).get("hosts_unread"):
            print(f"fidelity.py: warning: {r.path}: TCP counters of "
                  f"{doc['tcp']['hosts_unread']} hosts unread; its TCP figures are left out",
                  file=sys.stderr)
            doc = {}
        docs.append(doc if isinstance(doc, dict) else {})
    out = {}
    for name, _, sim_keys, emu_keys in TCP_FIGURES:
        keys = sim_keys if world == "simulated" else emu_keys
        values = [v for v in (_dig(d, keys) for d in docs) if v is not None] if keys else []
        out[name] = sum(values) / len(values) if values else None
    return out


def compare(sims, emus, references=()):
    """The figures of fidelity.json, from the loaded runs of each world (a run or a list), and
    simulated runs of other seeds for the reference KS distance."""
    sims = sims if isinstance(sims, list) else [sims]
    emus = emus if isinstance(emus, list) else [emus]
    ts, te = pooled_times(sims), pooled_times(emus)
    ss, se = stats(ts), stats(te)
    out = {"simulated": {"runs": [r.path for r in sims], "download_time_s": ss,
                         "completed": len(ts), "origin_share": mean_origin_share(sims)},
           "emulated": {"runs": [r.path for r in emus], "download_time_s": se,
                        "completed": len(te), "origin_share": mean_origin_share(emus)},
           "difference": {}}
    d = out["difference"]
    for key in ("median", "p95", "mean"):
        d[key] = relative(se.get(key), ss.get(key))
    d["ks"] = ks_distance(ts, te)
    # Per run: the worlds may have been run a different number of times.
    d["completed"] = len(te) / len(emus) - len(ts) / len(sims)
    d["origin_share"] = out["emulated"]["origin_share"] - out["simulated"]["origin_share"]
    out["simulated"]["tcp_per_run"] = tcp_per_run(sims, "simulated")
    out["emulated"]["tcp_per_run"] = tcp_per_run(emus, "emulated")
    if references:
        out["ks_reference"] = {"what": "simulated pool against simulated runs of other seeds",
                               "runs": [r.path for r in references],
                               "ks": ks_distance(ts, pooled_times(references))}
    else:
        pairs = [ks_distance(list(a.download_times().values()), list(b.download_times().values()))
                 for i, a in enumerate(sims) for b in sims[i + 1:]]
        pairs = [p for p in pairs if p is not None]
        out["ks_reference"] = {"what": "single simulated runs among themselves (mean over pairs)",
                               "runs": [r.path for r in sims],
                               "ks": sum(pairs) / len(pairs) if pairs else None}
    missed = []
    for key, limit in TARGETS.items():
        if d[key] is None or abs(d[key]) > limit:
            missed.append(key)
    if d["completed"] != 0:
        missed.append("completed")
    out["targets"] = dict(TARGETS, completed=0)
    out["missed"] = missed
    return out


def _pct(v):
    return "-" if v is None else f"{v * 100:+.1f} %"


def _num(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def table_rows(f):
    ss, se = f["simulated"]["download_time_s"], f["emulated"]["download_time_s"]
    d = f["difference"]
    rows = [("completed", str(f["simulated"]["completed"]), str(f["emulated"]["completed"]),
             f"{d['completed']:+g} per run")]
    for key in ("median", "p95", "mean"):
        rows.append((f"{key} download (s)", _num(ss.get(key)), _num(se.get(key)), _pct(d[key])))
    rows.append(("origin share", _num(f["simulated"]["origin_share"], "{:.3f}"),
                 _num(f["emulated"]["origin_share"], "{:.3f}"),
                 _num(d["origin_share"], "{:+.3f}")))
    for name, label, _, _ in TCP_FIGURES:
        a = (f["simulated"].get("tcp_per_run") or {}).get(name)
        b = (f["emulated"].get("tcp_per_run") or {}).get(name)
        rows.append((label, _num(a, "{:.0f}"), _num(b, "{:.0f}"), _pct(relative(b, a))))
    rows.append(("KS distance", "", "", _num(d["ks"], "{:.3f}")))
    ref = f.get("ks_reference") or {}
    if ref.get("ks") is not None:
        rows.append((f"KS reference: {ref['what']}", "", "", _num(ref["ks"], "{:.3f}")))
    return rows


def text_table(rows):
    head = ("", "simulated", "emulated", "difference")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(head)] + [line(r) for r in rows])


def plot(sims, emus, out):
    """Pooled download-time CDFs; the swarm evolution of each world's first run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for runs, label, colour in ((sims, "simulated (ns-3)", "tab:blue"),
                                (emus, "emulated (real programs)", "tab:orange")):
        times = sorted(pooled_times(runs))
        if len(runs) > 1:
            label += f", {len(runs)} runs"
        if times:
            ax.step(times, [(i + 1) / len(times) for i in range(len(times))], where="post",
                    label=label, color=colour)
    ax.set_title("Download time CDF", fontsize=10)
    ax.set_xlabel("download time (s)")
    ax.set_ylabel("fraction of leechers")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    for ax, run, title in ((axes[1], sims[0], "simulated"), (axes[2], emus[0], "emulated")):
        snaps = run.snapshots or []
        t = [s["time_s"] for s in snaps]
        for key, colour in (("leechers", "tab:red"), ("seeds", "tab:green"),
                            ("completed", "tab:gray")):
            ax.plot(t, [s[key] for s in snaps], label=key, color=colour)
        ax.set_title(f"Swarm evolution, {title}", fontsize=10)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("peers")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    # One time axis for both evolutions, so that their shapes compare by eye.
    right = max(axes[1].get_xlim()[1], axes[2].get_xlim()[1])
    top = max(axes[1].get_ylim()[1], axes[2].get_ylim()[1])
    for ax in axes[1:]:
        ax.set_xlim(0, right)
        ax.set_ylim(0, top)
    fig.tight_layout()
    path = os.path.join(out, "fidelity.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report_section(f, rows, image):
    cells = lambda r, tag: "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in r)  # noqa: E731
    table = ("<table><tr>" + cells(("", "simulated", "emulated", "difference"), "th") + "</tr>" +
             "".join("<tr>" + cells(r, "td") + "</tr>" for r in rows) + "</table>")
    missed = (f"<p>Missed targets: {html.escape(', '.join(f['missed']))}.</p>" if f["missed"]
              else "<p>Every target met (median and p95 within 15 %, KS ≤ 0.15, same "
                   "completions).</p>")
    return (f"<h2>Simulation against emulation</h2>"
            f"<p>Simulated: {html.escape(', '.join(f['simulated']['runs']))}<br>"
            f"Emulated: {html.escape(', '.join(f['emulated']['runs']))}</p>{table}{missed}"
            f'<figure><img src="{html.escape(os.path.basename(image))}" alt="fidelity"></figure>')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", metavar="SIM_RUN EMU_RUN",
                        help="one simulated and one emulated run folder")
    parser.add_argument("--sim", nargs="+", default=[], metavar="SIM_RUN",
                        help="swarm-sim run folders (pooled)")
    parser.add_argument("--emu", nargs="+", default=[], metavar="EMU_RUN",
                        help="swarm-emu run folders (pooled)")
    parser.add_argument("--sim-reference", nargs="+", default=[], metavar="SIM_RUN",
                        help="swarm-sim run folders of other seeds: the KS reference")
    parser.add_argument("--out", required=True, help="folder for fidelity.png/json, report.html")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs and (args.sim or args.emu or len(args.runs) != 2):
        parser.error("give SIM_RUN EMU_RUN, or --sim and --emu")
    sim_paths = args.sim or args.runs[:1]
    emu_paths = args.emu or args.runs[1:]
    if not sim_paths or not emu_paths:
        parser.error("needs at least one simulated and one emulated run")
    try:
        sims, emus = [Run(p) for p in sim_paths], [Run(p) for p in emu_paths]
        references = [Run(p) for p in args.sim_reference]
    except RunError as err:
        print(f"fidelity.py: {err}", file=sys.stderr)
        return 2
    for run, world in ([(r, "simulated") for r in sims + references] +
                       [(r, "emulated") for r in emus]):
        if (run.summary or {}).get("world", "simulated") != world:
            article = "an" if world == "emulated" else "a"
            print(f"fidelity.py: {run.path} is not {article} {world} run "
                  f"(its summary says {run.summary.get('world')})", file=sys.stderr)
            return 2
    scenario = lambda r: {k: v for k, v in (r.scenario or {}).items() if k != "seed"}  # noqa: E731
    if any(scenario(r) != scenario(sims[0]) for r in sims + emus + references):
        print("fidelity.py: warning: the two runs' scenario.json differ; the comparison is "
              "of different experiments", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    f = compare(sims, emus, references)
    rows = table_rows(f)
    image = plot(sims, emus, args.out)
    with open(os.path.join(args.out, "fidelity.json"), "w", encoding="utf-8") as out:
        json.dump(f, out, indent=2)
    from plot import write_page
    report = write_page(args.out, "swarmlab fidelity report", report_section(f, rows, image))
    print(text_table(rows))
    print("targets: " + ("all met" if not f["missed"] else "missed " + ", ".join(f["missed"])))
    print(f"\nPlot: {image}\nReport: {report}")
    return 1 if args.check and f["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())

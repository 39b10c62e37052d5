#!/usr/bin/python3
"""How large a swarm this machine emulates in real time: swarm-emu on growing flash crowds.

    bench/emu_scale.py [--leechers 12,24,48,96] [--scenario FILE] [--group N] [--out DIR]

Runs the scenario (default scenarios/fidelity/flash-crowd.json) with its leecher group resized,
in both worlds, and prints per size: the aggregate uplink capacity, what the wire (ns-3 in
real time) and the programs used of the 2 cores, how far the wire fell behind real time
(mean and worst, sampled 20 times a second), and the median and last download time against
the simulation's. A wire that falls behind delays every packet by its lag: the largest size
whose lag stays within a few milliseconds, and whose times agree with the simulation's, is
what this machine emulates faithfully. Needs root and the release build.
"""
import argparse
import json
import os
import re
import sys

# The two worlds' programs and the way a bench runs them, as the fidelity bench has them.
from fidelity import EMU, ROOT, SIM, run  # noqa: E402  (bench/fidelity.py)


def bps(rate):
    """"4Mbps" (as scenario.json writes rates) in bits per second."""
    m = re.fullmatch(r"([\d.]+)([KMG]?)bps", rate)
    if not m:
        sys.exit(f"emu scale bench: cannot read the rate {rate!r}")
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]


def load(folder, name):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leechers", default="12,24,48,96")
    parser.add_argument("--scenario", default=os.path.join(ROOT, "scenarios/fidelity/flash-crowd.json"))
    parser.add_argument("--group", default=1, type=int, help="index of the group to resize")
    parser.add_argument("--out", default="/tmp/swarmlab-emu-scale")
    args = parser.parse_args()
    head = ("leechers", "uplinks", "wire CPU", "programs CPU", "lag mean", "lag max",
            "median sim/emu", "last sim/emu", "done")
    rows = []
    for n in (int(x) for x in args.leechers.split(",")):
        sim, emu = (os.path.join(args.out, f"{n}-{w}") for w in ("sim", "emu"))
        resize = ["--set", f"groups[{args.group}].count={n}"]
        run([SIM, "run", args.scenario, *resize, "--out", sim, "--quiet"])
        run([EMU, "run", args.scenario, *resize, "--out", emu, "--quiet"])
        ss, se, r = load(sim, "summary.json"), load(emu, "summary.json"), load(emu, "run.json")
        scenario = load(emu, "scenario.json")
        up_bps = sum(g["count"] * bps(g["up"]) for g in scenario["groups"])
        wall = r["wall_time_s"]
        dt_s, dt_e = ss["download_time_s"], se["download_time_s"]
        if not dt_s.get("count") or not dt_e.get("count"):
            print(f"{n} leechers: no download completed (sim {ss['completed']}, emu {se['completed']})")
            continue
        rows.append((str(n), f"{up_bps / 1e6:.0f} Mbit/s", f"{r['wire']['cpu_s'] / wall:.2f} core",
                     f"{r['programs_cpu_s'] / wall:.2f} core", f"{r['wire']['mean_lag_ms']:.1f} ms",
                     f"{r['wire']['max_lag_ms']:.1f} ms",
                     f"{dt_s['median']:.1f}/{dt_e['median']:.1f} s ({(dt_e['median'] / dt_s['median'] - 1) * 100:+.0f}%)",
                     f"{dt_s['max']:.1f}/{dt_e['max']:.1f} s ({(dt_e['max'] / dt_s['max'] - 1) * 100:+.0f}%)",
                     f"{ss['completed']}/{se['completed']}"))
        print("  ".join(rows[-1]), flush=True)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print()
    for r in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print(f"\nRun folders: {args.out}")


if __name__ == "__main__":
    main()

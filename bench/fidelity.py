#!/usr/bin/python3
"""Simulation against emulation: every fidelity scenario in both worlds, side by side.

    bench/fidelity.py [SCENARIO ...] [--seeds 1,2,3 | 1-48] [--out DIR]

For each scenario (default: scenarios/fidelity/*.json) and seed, runs `swarm-sim run` and
`swarm-emu run` (release build; swarm-emu needs root), then analysis/fidelity.py on each
scenario's runs pooled over the seeds, and prints one row per scenario: the median and p95
download-time differences (emulated against simulated), the Kolmogorov–Smirnov distance beside
its reference (the simulation against itself: seeds 1-3 against seeds 101-103, pools of the
same size), completions in each world, packets the queues dropped and TCP retransmission
timeouts per run in each world (ns-3's entries into loss recovery; Linux's timer expiries),
and what the emulation cost: the wire's CPU, the programs' CPU (per second of run) and how
far the wire fell behind real time.
The targets (median and p95 within 15 %, KS at most 0.15, same completions) are printed
beside the figures, not asserted. Three seeds are a quick look: a flash crowd's downloads
finish together, so a run counts nearly as one sample, and the KS distance of three runs is
mostly chance (its reference says how much). The figures docs/emulation.md gives are over 8
to 48 seeds.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "build/release/sim/swarm-sim")
EMU = os.path.join(ROOT, "build/release/emu/swarm-emu")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")


def pct(v):
    return "-" if v is None else f"{v * 100:+.1f}%"


def per_run(fid, name):
    """A TCP figure per run in both worlds, "sim/emu" (fidelity.py's tcp_per_run)."""
    a, b = (fid[w].get("tcp_per_run", {}).get(name) for w in ("simulated", "emulated"))
    return "/".join("-" if v is None else f"{v:.0f}" for v in (a, b))


def parse_seeds(text):
    """"1,2,3" or "1-48" (or a mix: "1-8,20"); each from 1 to 100, since the simulation's
    reference runs are seeds 101 and up."""
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        span = range(int(lo), int(hi or lo) + 1)
        if not span or span[0] < 1 or span[-1] > 100:
            raise ValueError(part)
        seeds.extend(span)
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--out", default="/tmp/swarmlab-fidelity")
    args = parser.parse_args()
    scenarios = args.scenarios or sorted(glob.glob(os.path.join(ROOT, "scenarios/fidelity/*.json")))
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a list of seeds from 1 to 100 such as 1,2,3 "
                     "or 1-48")
    head = ("scenario", "seeds", "median", "p95", "KS", "KS sim/sim", "done sim/emu",
            "drops sim/emu", "RTOs sim/emu", "wire CPU", "programs CPU", "max lag", "wall")
    rows = []
    for path in scenarios:
        name = os.path.splitext(os.path.basename(path))[0]
        sims, emus, cost = [], [], {"wire": 0.0, "programs": 0.0, "wall": 0.0, "lag": 0.0}
        for seed in seeds:
            base = os.path.join(args.out, f"{name}-seed{seed}")
            sims.append(base + "-sim")
            emus.append(base + "-emu")
            run([SIM, "run", path, "--seed", str(seed), "--out", sims[-1], "--quiet"])
            run([EMU, "run", path, "--seed", str(seed), "--out", emus[-1], "--quiet"])
            with open(os.path.join(emus[-1], "run.json")) as f:
                emu_run = json.load(f)
            cost["wire"] += emu_run["wire"]["cpu_s"]
            cost["programs"] += emu_run["programs_cpu_s"]
            cost["wall"] += emu_run["wall_time_s"]
            cost["lag"] = max(cost["lag"], emu_run["wire"]["max_lag_ms"])
        refs = []
        for seed in seeds:
            refs.append(os.path.join(args.out, f"{name}-seed{seed + 100}-sim"))
            run([SIM, "run", path, "--seed", str(seed + 100), "--out", refs[-1], "--quiet"])
        cmp = os.path.join(args.out, f"{name}-fidelity")
        subprocess.run([sys.executable, os.path.join(ROOT, "analysis/fidelity.py"), "--sim", *sims,
                        "--emu", *emus, "--sim-reference", *refs, "--out", cmp],
                       capture_output=True, check=True)
        with open(os.path.join(cmp, "fidelity.json")) as f:
            fid = json.load(f)
        d = fid["difference"]
        floor = fid["ks_reference"]["ks"]
        rows.append((name, args.seeds, pct(d["median"]), pct(d["p95"]),
                     "-" if d["ks"] is None else f"{d['ks']:.3f}",
                     "-" if floor is None else f"{floor:.3f}",
                     f"{fid['simulated']['completed']}/{fid['emulated']['completed']}",
                     per_run(fid, "queue_drops"), per_run(fid, "timeouts"),
                     f"{cost['wire'] / cost['wall']:.2f} core",
                     f"{cost['programs'] / cost['wall']:.2f} core",
                     f"{cost['lag']:.1f} ms", f"{cost['wall']:.0f} s"))
        print("  ".join(rows[-1]), flush=True)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print("\nSimulated against emulated (targets: median and p95 within 15 %, KS <= 0.15, "
          "same completions)")
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(r, widths))))
    print(f"\nRun folders and reports: {args.out}")


if __name__ == "__main__":
    main()

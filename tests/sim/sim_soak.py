#!/usr/bin/python3
"""The simulator's soak: random valid scenarios on ns-3, each checked after its run.

    tests/sim/sim_soak.py [--seeds 1-200] [--scenarios FILE ...] [--jobs 2] [--sim PATH]
                          [--keep DIR]

Each seed makes one scenario (random.Random(seed), so a failing seed is its own
reproduction): one file of random size (not always a whole number of chunks or blocks),
an honest seed group that stays, one to three leecher groups with random links, delays,
loss, arrivals (at once, Poisson, a list), departures, crashes and corrupt peers, and at
random a tracker crash and restart, a group cut off and reconnected, and links that change
rate or delay; 1500, 9000 or 64000-byte packets and random swarm strategies. After each run:

- swarm-sim exited 0 (no crash, abort or sanitizer report) and wrote summary.json;
- every leecher that neither crashed nor could leave early completed its download (an
  honest seed is online throughout and every partition ends);
- no corrupt peer had a byte counted as served (whatever it sent failed verification).

--scenarios judges saved scenario files the same way: tests/sim/soak_regressions/ keeps the
seeds that once failed, as files, so they stay covered whatever becomes of the generator.
Prints one line per failing seed (with the scenario kept under --keep) and a total; exits 1
if any seed failed. ctest runs a few seeds and the saved ones (label sim); `make sim-soak`
runs 200.
"""
import argparse
import concurrent.futures
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIM = os.environ.get("SWARMLAB_SIM", os.path.join(ROOT, "build/release/sim/swarm-sim"))


def ms(v):
    return f"{int(v)}ms"


def mbps(v):
    return f"{v:.3g}Mbps"


def scenario(seed):
    r = random.Random(seed)
    chunk_kib = r.choice([64, 128, 256, 512])
    size = r.choice([r.randrange(1, 40) * chunk_kib * 1024,  # whole chunks
                     r.randrange(100_000, 3_000_000)])  # a short last chunk and block
    groups = [{"name": "seed", "count": r.randint(1, 3), "role": "seeder",
               "up": mbps(r.uniform(4, 100)), "down": mbps(r.uniform(4, 100)),
               "delay": ms(r.uniform(1, 60))}]
    leechers = []
    for g in range(r.randint(1, 3)):
        up = r.uniform(1, 40)
        group = {"name": f"leech{g}", "count": r.randint(1, 12), "up": mbps(up),
                 "down": mbps(up * r.uniform(1, 5)),
                 "delay": r.choice([ms(r.uniform(1, 100)),
                                    {"dist": "uniform", "min": "1ms", "max": ms(r.uniform(2, 120))}])}
        if r.random() < 0.3:
            group["loss"] = round(r.uniform(0.0005, 0.01), 4)
        kind = r.random()
        if kind < 0.3:
            group["arrival"] = {"kind": "poisson", "rate_per_s": round(r.uniform(0.5, 5), 2)}
        elif kind < 0.45:
            group["arrival"] = {"kind": "list",
                                "times": [ms(r.uniform(0, 8000)) for _ in range(group["count"])]}
        elif kind < 0.6:
            group["arrival"] = {"at": ms(r.uniform(0, 5000))}
        leave = r.random()
        if leave < 0.25:
            group["departure"] = {"kind": "after_completion", "seed_time": ms(r.uniform(0, 10000))}
        elif leave < 0.4:
            group["departure"] = {"kind": "exponential", "mean": ms(r.uniform(2000, 30000))}
        if r.random() < 0.35:
            start = r.uniform(0, 6000)
            group["crash"] = {"fraction": round(r.uniform(0.1, 0.5), 2), "from": ms(start),
                              "to": ms(start + r.uniform(0, 6000))}
        if r.random() < 0.15:
            group["corrupt"] = True
        leechers.append(group)
    groups += leechers
    if r.random() < 0.2:  # a corrupt seeder beside the honest ones
        groups.append({"name": "liar", "count": 1, "role": "seeder", "corrupt": True,
                       "up": mbps(r.uniform(4, 100)), "down": mbps(r.uniform(4, 100)),
                       "delay": ms(r.uniform(1, 20))})
    body = {
        "name": f"soak-{seed}", "seed": seed,
        "packet_size": r.choice(["1500B", "9000B", "64000B"]),
        "files": [{"name": "f.bin", "size": f"{size}B", "chunk_size": f"{chunk_kib}KiB"}],
        "groups": groups,
        "stop": {"time": "20min", "when_all_done": True},
    }
    if r.random() < 0.3:
        crash = r.uniform(200, 6000)
        body["tracker"] = {"events": [{"at": ms(crash), "action": "crash"},
                                      {"at": ms(crash + r.uniform(100, 5000)), "action": "restart"}]}
    events = []
    for g in leechers:
        if r.random() < 0.25:
            cut = r.uniform(0, 6000)
            events += [{"at": ms(cut), "group": g["name"], "partition": True},
                       {"at": ms(cut + r.uniform(100, 4000)), "group": g["name"],
                        "partition": False}]
        if r.random() < 0.2:
            events.append({"at": ms(r.uniform(0, 8000)), "group": g["name"],
                           "up": mbps(r.uniform(1, 40)), "delay": ms(r.uniform(1, 150))})
    if events:
        body["link_events"] = events
    strategy = {}
    for key in ("end_game", "optimistic_slot", "spread_first_copies", "newcomers_first",
                "behind_first", "fastest_first"):
        if r.random() < 0.2:
            strategy[key] = r.random() < 0.5
    if r.random() < 0.2:
        strategy["have_delay"] = ms(r.choice([0, 20, 300]))
    if strategy:
        body["strategy"] = strategy
    return body


def check(seed, sim, keep, body=None):
    body = body if body is not None else scenario(seed)
    with tempfile.TemporaryDirectory(prefix=f"sim-soak-{seed}-") as tmp:
        path = os.path.join(tmp, "scenario.json")
        with open(path, "w") as f:
            json.dump(body, f, indent=1)
        out = os.path.join(tmp, "run")
        problems = []
        try:
            proc = subprocess.run([sim, "run", path, "--quiet", "--out", out],
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            problems.append("swarm-sim ran over 5 min of wall time")
            proc = None
        if proc is not None and proc.returncode != 0:
            problems.append(f"swarm-sim exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        summary_path = os.path.join(out, "summary.json")
        if not problems and not os.path.exists(summary_path):
            problems.append("no summary.json")
        if not problems:
            try:
                problems += judge(body, out)
            except (OSError, ValueError, KeyError) as e:
                problems.append(f"unreadable run folder: {e!r}")
        if problems and keep:
            dest = os.path.join(keep, f"seed-{seed}")
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(tmp, dest)
        return seed, problems


def judge(body, out):
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    with open(os.path.join(out, "events.jsonl")) as f:
        events = [json.loads(line) for line in f]
    crashed = {e["peer"] for e in events if e["type"] == "peer_crashed"}
    may_leave = {g["name"] for g in body["groups"]
                 if g.get("departure", {}).get("kind") == "exponential"}
    corrupt = {g["name"] for g in body["groups"] if g.get("corrupt")}
    problems = []
    judged = 0
    for p in s["peers"]:
        if p["group"] in corrupt and p["bytes_served"] != 0:
            problems.append(f"corrupt {p['id']} had {p['bytes_served']} bytes counted as served")
        if p["role"] != "leecher" or p["id"] in crashed or p["group"] in may_leave:
            continue
        judged += 1
        if p["state"] != "completed" or p.get("completed_at") is None:
            problems.append(f"{p['id']} ended {p['state']} without completing")
    leechers = sum(g["count"] for g in body["groups"] if g.get("role", "leecher") == "leecher")
    if judged + len(crashed) + sum(1 for p in s["peers"] if p["group"] in may_leave) < leechers:
        problems.append(f"summary.json lists fewer leechers than the scenario's {leechers}")
    return problems


def seed_range(text):
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b or a) + 1))
    return seeds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1-200", help="e.g. 1-200 or 3,17,40-45; '' for none")
    p.add_argument("--scenarios", nargs="*", default=[], metavar="FILE",
                   help="saved scenarios to judge as well")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sim", default=SIM)
    p.add_argument("--keep", help="copy each failing seed's scenario and run folder here")
    p.add_argument("--print", type=int, metavar="SEED", help="print one seed's scenario and exit")
    args = p.parse_args()
    if args.print is not None:
        print(json.dumps(scenario(args.print), indent=2))
        return 0
    runs = [(seed, None) for seed in (seed_range(args.seeds) if args.seeds else [])]
    for path in args.scenarios:
        with open(path) as f:
            body = json.load(f)
        runs.append((body.get("seed", 0), body))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for seed, problems in pool.map(lambda r: check(r[0], args.sim, args.keep, r[1]), runs):
            if problems:
                failed += 1
                print(f"seed {seed}: " + "; ".join(problems), flush=True)
    print(f"sim soak: {len(runs) - failed} of {len(runs)} scenarios passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

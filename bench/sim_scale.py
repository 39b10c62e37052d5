#!/usr/bin/python3
"""How fast swarm-sim simulates as the swarm grows and the simulated packet size changes.

    bench/sim_scale.py [--sim build/release/sim/swarm-sim] [--peers 100,300,1000]
                       [--packets 64000B[,9000B,...]] [--set strategy.KEY=VALUE ...]

A star of N peers (10 seeds at 100 Mbps, leechers at 20/100 Mbps, 5-80 ms) sharing a
file sized so that every run moves about the same traffic. Prints simulated bytes and
ns-3 events per wall second, wall time and peak RSS for each combination, and beside them
the wall time of bench's ns3-star-baseline: the same star and TCP moving the same bytes as
bulk flows (4 per leecher) with no swarm logic. "x raw" is swarm-sim's wall time over it:
what our layer (and the traffic a swarm adds: requests, HAVEs, choking) costs over ns-3.
Wall time is swarm-sim's run.json wall_time_s and the baseline's wall_s, the same span on
both sides: the star built, run and torn down. Wall times move with whatever else the
machine does; the ns-3 event counts ("M events",
swarm-sim's and the baseline's) do not. "x raw" splits into two factors, printed beside it:
"pkt x", how many more packets the swarm put on the wire than the bulk flows did (requests,
HAVEs, block tails and the ACKs they draw; ns-3 spends the same handful of events on a packet
whatever it carries), and "per pkt x", swarm-sim's wall time per packet over the baseline's:
what our layer, and ns-3's work that grows with connections per node, add to each packet.

"x replay" sets our layer against ns-3 alone: swarm-sim runs the scenario a second time,
with record_traffic (the timed run writes no trace, so its time is a plain run's), and
bench's ns3-star-replay plays its traffic.txt back on the same star with the same TCP
sockets and no swarm logic (each host connects, writes its byte counts and closes when the
run's did). "replay s" is that playback's wall time, ns-3's own cost for the swarm's packets;
"x replay" is swarm-sim's wall time over it: 1 would mean the core, the host adapter and the
frame channel cost nothing, 2 that they cost as much as ns-3 itself. "rp pkt" is the
playback's packets over the run's, a check that it put the same traffic on the wire: close,
not equal, as events of the same nanosecond may run in another order and TCP then takes
another turn now and then. "x replay" counts the playback's time at
the run's packet count (its wall time times the run's packets over its own), so a playback
that sent more packets does not flatter the ratio.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scenario(peers, packet, total_mib, record_traffic=False):
    size_mib = max(1, total_mib // max(1, peers - 10))
    return {
        "name": f"scale-{peers}-{packet}", "seed": 1, "packet_size": packet,
        "record_traffic": record_traffic,
        "record_chunks": False, "snapshot_interval": "5s",
        "files": [{"name": "f.bin", "size": f"{size_mib}MiB", "chunk_size": "256KiB"}],
        "tracker": {"up": "1Gbps", "down": "1Gbps", "delay": "5ms"},
        "groups": [
            {"name": "seed", "count": 10, "role": "seeder", "up": "100Mbps", "down": "100Mbps",
             "delay": "10ms"},
            {"name": "leech", "count": peers - 10, "up": "20Mbps", "down": "100Mbps",
             "delay": {"dist": "uniform", "min": "5ms", "max": "80ms"}},
        ],
        "stop": {"time": "1h"},
    }


def run_sim(args, tmp, name, body, sets):
    """swarm-sim on scenario `body`, written to tmp/name.json; its process and run folder."""
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump(body, f)
    out = os.path.join(tmp, name)
    proc = subprocess.run([args.sim, "run", path, "--quiet", "--out", out, *sets],
                          capture_output=True, text=True)
    return proc, out


def replay_note(args, tmp, peers, packet, sets, wall, run):
    """The run again with record_traffic, its traffic played back with no swarm logic."""
    proc, out = run_sim(args, tmp, f"t{peers}{packet}",
                        scenario(peers, packet, args.traffic_mib, record_traffic=True), sets)
    trace = os.path.join(out, "traffic.txt")
    rp = subprocess.run([args.replay, trace], capture_output=True, text=True) \
        if proc.returncode == 0 else None
    if os.path.exists(trace):
        os.remove(trace)  # a 1,000-peer trace is large
    if rp is None or rp.returncode != 0:
        return f"{'failed':>9} {'':>8} {'':>6}"
    replay = json.loads(rp.stdout)
    if replay["wall_s"] <= 0:
        return f"{'failed':>9} {'':>8} {'':>6}"
    packets = replay["packets_sent"] / run["packets_sent"]
    return f"{replay['wall_s']:>9.2f} {wall * packets / replay['wall_s']:>8.2f} {packets:>6.3f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sim", default=os.path.join(ROOT, "build/release/sim/swarm-sim"))
    p.add_argument("--peers", default="100,300,1000")
    p.add_argument("--packets", default="64000B")
    p.add_argument("--traffic-mib", type=int, default=2000, help="total payload per run")
    p.add_argument("--baseline", default=os.path.join(ROOT, "build/release/bench/ns3-star-baseline"))
    p.add_argument("--replay", default=os.path.join(ROOT, "build/release/bench/ns3-star-replay"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to swarm-sim run (e.g. strategy.have_delay=0s)")
    args = p.parse_args()
    sets = [x for kv in args.set for x in ("--set", kv)]
    print(f"{'peers':>6} {'packet':>8} {'wall s':>8} {'sim s':>8} {'MB/wall s':>10} "
          f"{'events/s':>10} {'M events':>9} {'peak RSS':>9} {'done':>9} {'raw wall s':>10} "
          f"{'raw M ev':>9} {'x raw':>7} {'pkt x':>6} {'per pkt x':>9} {'replay s':>9} "
          f"{'x replay':>8} {'rp pkt':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for peers in [int(x) for x in args.peers.split(",")]:
            for packet in args.packets.split(","):
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                proc, out = run_sim(args, tmp, f"r{peers}{packet}",
                                    scenario(peers, packet, args.traffic_mib), sets)
                rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                if proc.returncode != 0:
                    print(f"{peers:>6} {packet:>8} failed: {proc.stderr.strip()}")
                    continue
                with open(os.path.join(out, "run.json")) as f:
                    run = json.load(f)
                # The same span the baseline times: the star built, run and torn down.
                wall = run["wall_time_s"]
                with open(os.path.join(out, "summary.json")) as f:
                    summary = json.load(f)
                rss_note = f"{rss / 1024:.0f} MiB" if rss > before else "<=prev"
                size_mib = max(1, args.traffic_mib // max(1, peers - 10))
                raw = subprocess.run([args.baseline, str(peers), str(size_mib << 20),
                                      packet.rstrip("B")], capture_output=True, text=True)
                raw_run = json.loads(raw.stdout) if raw.returncode == 0 else None
                if raw_run and raw_run["wall_s"] <= 0:
                    raw_run = None
                if raw_run:
                    packets = run["packets_sent"] / raw_run["packets_sent"]
                    raw_note = (f"{raw_run['wall_s']:>10.2f} {raw_run['ns3_events'] / 1e6:>9.2f} "
                                f"{wall / raw_run['wall_s']:>7.1f} {packets:>6.1f} "
                                f"{wall / raw_run['wall_s'] / packets:>9.2f}")
                else:
                    raw_note = f"{'failed':>10} {'':>9} {'':>7} {'':>6} {'':>9}"
                raw_note += " " + replay_note(args, tmp, peers, packet, sets, wall, run)
                print(f"{peers:>6} {packet:>8} {wall:>8.1f} {run['simulated_time_s']:>8.1f} "
                      f"{run['simulated_bytes_per_wall_s'] / 1e6:>10.1f} "
                      f"{run['ns3_events_per_wall_s']:>10.0f} {run['ns3_events'] / 1e6:>9.2f} {rss_note:>9} "
                      f"{summary['completed']:>4}/{summary['leechers']:<4} {raw_note}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

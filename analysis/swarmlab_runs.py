"""Reading run folders: swarm-sim's, or real peers' --events logs (same event schema).

A run folder from swarm-sim holds events.jsonl, swarm.csv, summary.json and scenario.json.
A folder from a real swarm holds one or more *.jsonl event logs (one per peer or tracker);
what swarm-sim precomputes is then derived from the events themselves.
"""
import csv
import glob
import json
import math
import os
import statistics


class RunError(Exception):
    """A run folder that is missing, empty or malformed; the message says which and why."""


def stats(values):
    """count/mean/median/p95/min/max, quantiles by nearest rank (as swarm-sim computes them)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    n = len(ordered)

    def rank(q):
        return ordered[max(1, min(n, math.ceil(q * n))) - 1]

    return {"count": n, "mean": statistics.fmean(ordered), "median": rank(0.5),
            "p95": rank(0.95), "min": ordered[0], "max": ordered[-1]}


def read_events(path):
    """Events of one JSON Lines file, each with at least t, node and type."""
    events = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                raise RunError(f"{path}:{number}: not a JSON object ({err.msg})") from None
            if not isinstance(e, dict) or not {"t", "node", "type"} <= e.keys():
                raise RunError(f"{path}:{number}: an event needs t, node and type")
            if not isinstance(e["t"], (int, float)):
                raise RunError(f"{path}:{number}: t must be a number of seconds")
            events.append(e)
    return events


class Run:
    """One run folder, loaded."""

    def __init__(self, path, label=None):
        if not os.path.isdir(path):
            raise RunError(f"{path}: no such run folder")
        self.path = path
        logs = sorted(glob.glob(os.path.join(path, "*.jsonl")))
        if not logs:
            raise RunError(f"{path}: no events (expected events.jsonl from swarm-sim, "
                           "or the *.jsonl logs of real peers' --events)")
        self.events = []
        for log in logs:
            self.events.extend(read_events(log))
        if not self.events:
            raise RunError(f"{path}: the event logs are empty")
        self.events.sort(key=lambda e: e["t"])
        self.summary = self._load_json("summary.json")
        self.scenario = self._load_json("scenario.json")
        self.snapshots = self._load_snapshots()
        self.groups = self._load_groups()
        self.simulated = self.summary is not None
        self.label = label or self._default_label()

    def _load_json(self, name):
        p = os.path.join(self.path, name)
        if not os.path.exists(p):
            return None
        try:
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        except json.JSONDecodeError as err:
            raise RunError(f"{p}: malformed JSON ({err.msg} at line {err.lineno})") from None

    def _load_csv(self, name, needed, text=()):
        """A CSV of the run folder as dicts, numbers as floats (but the `text` columns); None if
        the folder has no such file."""
        p = os.path.join(self.path, name)
        if not os.path.exists(p):
            return None
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if rows and not needed <= rows[0].keys():
            raise RunError(f"{p}: missing columns {sorted(needed - rows[0].keys())}")
        try:
            return [{k: (v if k in text else float(v)) for k, v in r.items()} for r in rows]
        except ValueError as err:
            raise RunError(f"{p}: {err}") from None

    def _load_snapshots(self):
        return self._load_csv("swarm.csv", {"time_s", "seeds", "leechers", "completed",
                                            "replication_min", "replication_mean",
                                            "replication_max", "upload_bps"})

    def _load_groups(self):
        """groups.csv (a simulated run's uplinks by group); None in a folder without it (an
        emulated run)."""
        return self._load_csv("groups.csv", {"time_s", "group", "wire_up_bps", "up_capacity_bps"},
                              text=("group",))

    def _default_label(self):
        if self.scenario:
            s = self.scenario.get("strategy", {})
            return (f"{self.scenario.get('name', os.path.basename(self.path))} "
                    f"({s.get('chunk', '?')}, {s.get('peer', '?')}, seed {self.scenario.get('seed')})")
        return os.path.basename(os.path.normpath(self.path))

    # ---- derived metrics (from events, so that real runs get them too) ----

    def download_times(self):
        """Seconds each finished download took, per peer."""
        if self.summary:
            return {p["id"]: p["download_time"] for p in self.summary["peers"]
                    if p.get("download_time") is not None}
        return {e["node"]: e["duration"] for e in self.events
                if e["type"] == "download_completed" and "duration" in e}

    def completion_times(self):
        """Simulated (or log) time at which each peer finished."""
        return sorted(e["t"] for e in self.events if e["type"] == "download_completed")

    def origin_seeds(self):
        """Peers that started with the whole file."""
        if self.summary:
            return {p["id"] for p in self.summary["peers"] if p["role"] == "seeder"}
        publishers = {e["node"] for e in self.events if e["type"] == "publish_done"}
        publishers |= {e.get("peer") for e in self.events
                       if e["type"] == "peer_arrived" and e.get("role") == "seeder"}
        return {p for p in publishers if p}

    def bytes_served(self):
        """Bytes of verified chunks each peer served."""
        served = {}
        for e in self.events:
            if e["type"] != "chunk_received":
                continue
            # A chunk assembled from blocks of several senders names each one's share.
            for sender, n in (e.get("sources") or {e["from"]: e.get("bytes", 0)}).items():
                served[sender] = served.get(sender, 0) + n
        if not served and self.summary:  # per-chunk events were not recorded
            served = {p["id"]: p["bytes_served"] for p in self.summary["peers"]}
        return served

    def origin_share(self):
        if self.summary:
            return self.summary["bytes_served"]["origin_share"]
        served = self.bytes_served()
        total = sum(served.values())
        origin = sum(v for k, v in served.items() if k in self.origin_seeds())
        return origin / total if total else 0.0

    def chunk_deliveries(self):
        """(time, receiver, sender, chunk index) for every verified chunk."""
        return [(e["t"], e["node"], e["from"], e["index"]) for e in self.events
                if e["type"] == "chunk_received"]

    def kumar_ross(self):
        return (self.summary or {}).get("kumar_ross")

    def headline(self):
        """The metrics the regression gate and the report use."""
        times = list(self.download_times().values())
        s = stats(times)
        failures = sum(1 for e in self.events if e["type"] == "download_failed")
        kr = self.kumar_ross() or {}
        return {"completed": len(times), "mean_s": s.get("mean"), "p95_s": s.get("p95"),
                "max_s": s.get("max"), "origin_share": self.origin_share(),
                "kr_ratio": kr.get("ratio"), "failures": failures}


def load_runs(paths, labels=None):
    labels = labels or []
    return [Run(p, labels[i] if i < len(labels) else None) for i, p in enumerate(paths)]

#!/usr/bin/env bash
# The main job: run the default simulation scenario, then write its plots and report.
#   SCENARIO=scenarios/flash-crowd.json OUT=runs/big make run   (another scenario)
set -euo pipefail
cd "$(dirname "$0")/.."
sim=build/release/sim/swarm-sim
scenario=${SCENARIO:-scenarios/flash-crowd-small.json}
out=${OUT:-runs/main}
if [ ! -x "$sim" ]; then
  echo "swarm-sim was not built (is libns3-dev installed? run scripts/bootstrap.sh)" >&2
  exit 1
fi
echo "== Simulating $scenario (ns-3) =="
"$sim" run "$scenario" --out "$out"
echo
echo "== Plots and report =="
/usr/bin/python3 analysis/plot.py "$out" --out "$out/plots"
echo
echo "Open $out/plots/report.html for the figures; the run folder $out holds"
echo "events.jsonl, swarm.csv, summary.json and the resolved scenario.json."

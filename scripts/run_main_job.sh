#!/usr/bin/env bash
# The main job: run the default simulation scenario and write its summary and plots.
set -euo pipefail
cd "$(dirname "$0")/.."
sim=build/release/sim/swarm-sim
if [ ! -x "$sim" ]; then
  echo "simulation not built yet: swarm-sim is not part of this build (see the open sim issue)."
  echo "The core library and the test suite are ready: run 'make test'."
  exit 0
fi
scenario=${SCENARIO:-scenarios/flash-crowd-small.json}
out=${OUT:-runs/main}
"$sim" run "$scenario" --out "$out"
/usr/bin/python3 analysis/plot.py "$out" --out "$out/plots"

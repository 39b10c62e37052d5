#!/usr/bin/env bash
# Every benchmark under bench/, on the release build. Figures are printed, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/loopback_throughput.py
/usr/bin/python3 bench/sim_scale.py
build/release/bench/tracker-load --peers 10000 --rate 110000 --duration 60
# Emulation needs network namespaces and TAP devices: root only.
if [ "$(id -u)" -eq 0 ]; then
  /usr/bin/python3 bench/fidelity.py
  /usr/bin/python3 bench/emu_scale.py
else
  echo "bench: skipping bench/fidelity.py and bench/emu_scale.py (swarm-emu needs root)"
fi

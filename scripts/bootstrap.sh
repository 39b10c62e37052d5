#!/usr/bin/env bash
# Installs every Debian package swarmlab needs. Idempotent: packages already
# present are skipped, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libboost-dev            # Boost.Asio (header-only in 1.74) for realnet/
  libns3-dev              # ns-3 3.37 for sim/ (and its fd-net-device module for emu/)
  libgoogle-perftools-dev # tcmalloc: ns-3's per-packet allocations, a fifth faster
  iproute2                # `ip`: network namespaces and TAP devices of swarm-emu
  util-linux procps       # setpriv and ps for the emulation test
  nlohmann-json3-dev      # JSON headers (core's only non-std dependency besides libcrypto)
  libssl-dev              # OpenSSL EVP SHA-256
  libgtest-dev libgmock-dev
  libspdlog-dev libfmt-dev  # levelled, coloured logging in the programs
  libcli11-dev            # command-line flags of the programs
  libreadline-dev         # line editing and history in the terminals
  python3 python3-matplotlib  # analysis/ plots
  clang-format
  clang libclang-rt-14-dev  # libFuzzer and the sanitizers' runtimes for tests/fuzz
  slurmctld slurmd slurm-client munge  # sweep --on slurm's test runs a private Slurm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

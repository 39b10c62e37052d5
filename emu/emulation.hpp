#pragma once
// One run of a scenario as real programs: swarm-tracker and swarm-peer processes, each in its
// own network namespace, whose packets cross the scenario's star of access links played by
// ns-3 in real time (docs/emulation.md). It plays the same schedule as the simulation
// (arrivals, departures, kill -9 crashes, tracker crash and restart, link events) and writes
// the same run folder, so analysis/ reads both worlds alike.
#include <functional>
#include <string>
#include <vector>

#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace swarmlab::emu {

struct EmuOptions {
  std::string out;              // the run folder
  std::string tracker_program;  // swarm-tracker's path
  std::string peer_program;     // swarm-peer's path
  bool keep_data = false;       // keep the files the peers shared and downloaded
};

/// What of `s` real programs cannot do, as a message naming the field; empty if none.
std::string unsupported_by_emulation(const sim::Scenario& s);
/// Strategy settings of `s` that differ from the defaults and that swarm-peer takes no flag
/// for: the real peers run with their defaults instead ("strategy.ping_interval", ...).
std::vector<std::string> strategy_not_applied(const sim::Scenario& s);

/// Runs `s` in real time and writes its folder. Needs root (see missing_privileges()).
/// Errors: IoError (the folder, a namespace or a program could not be made or started).
/// SIGINT, SIGTERM and SIGHUP are blocked while it runs and stop the run: it still writes
/// its folder, and run.json says "interrupted". SIGPIPE is ignored meanwhile.
Result<sim::RunResult> run_emulated(const sim::Scenario& s, const EmuOptions& options,
                                    const std::function<void(const sim::Progress&)>& progress = {});

}  // namespace swarmlab::emu

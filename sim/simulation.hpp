#pragma once
// One run of a scenario on ns-3: builds the star, places the tracker and the peers, plays
// arrivals, departures, crashes, tracker and link events, and writes the run folder:
// scenario.json (resolved), events.jsonl, swarm.csv, summary.json (deterministic per
// seed) and run.json (wall-clock figures, which are not).
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/scenario.hpp"

namespace swarmlab::sim {

struct Progress {
  double sim_time_s = 0;
  double stop_time_s = 0;
  std::uint32_t done = 0;  // leechers finished, left or crashed
  std::uint32_t leechers = 0;
  double verified_fraction = 0;  // chunk bytes verified of all the leechers want
  double wall_s = 0;
};

struct RunResult {
  nlohmann::json summary;
  nlohmann::json run;  // wall time, events per second, simulated bytes per wall second
};

/// Runs `s` and writes its folder to `out_dir` (created if needed). `progress` is called
/// now and then with where the run is. Errors: IoError (the folder cannot be written).
Result<RunResult> run_scenario(const Scenario& s, const std::string& out_dir,
                               const std::function<void(const Progress&)>& progress = {});

}  // namespace swarmlab::sim

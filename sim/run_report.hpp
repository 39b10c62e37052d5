#pragma once
// What the programs that run scenarios (swarm-sim, swarm-emu) show on the terminal: a progress
// line while a run goes, and the summary of its folder at the end.
#include <nlohmann/json.hpp>
#include <string>

#include "sim/simulation.hpp"

namespace swarmlab::sim {

/// "12.3s", "4m05s", "1h02m".
std::string clock_text(double seconds);

/// A bar on a terminal, redrawn at most 5 times a second; plain lines every 5 s otherwise.
class ProgressDisplay {
 public:
  /// `clock_name`: what the run's clock is ("sim", "emu").
  ProgressDisplay(bool quiet, std::string clock_name);
  void operator()(const Progress& p);
  /// Clears the bar.
  void finish();

 private:
  bool quiet_, tty_;
  std::string clock_name_;
  double last_ = -1e9;
  bool drawn_ = false;
};

/// The summary of a run folder (summary.json, run.json) for people.
void print_summary(const nlohmann::json& summary, const nlohmann::json& run,
                   const std::string& out);

}  // namespace swarmlab::sim

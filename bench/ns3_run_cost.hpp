#pragma once
// How bench's bare-ns-3 programs time themselves, so that both are timed over the same span
// as swarm-sim's run.json wall_time_s: from before the star is built until ns-3 has torn it
// down.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>

#include "sim/ns3_headers.hpp"

namespace swarmlab::bench {

struct RunCost {
  double wall_s = 0;
  std::uint64_t events = 0;
  long peak_rss_kib = 0;
};

/// Runs the simulation to its end, tears it down and says what it cost since `began`.
inline RunCost run_to_end(std::chrono::steady_clock::time_point began) {
  ns3::Simulator::Run();
  RunCost cost;
  cost.events = ns3::Simulator::GetEventCount();
  ns3::Simulator::Destroy();
  cost.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  cost.peak_rss_kib = usage.ru_maxrss;
  return cost;
}

}  // namespace swarmlab::bench

#pragma once
// Who takes part in a scenario and when: one plan per peer, drawn from the scenario's
// distributions with its seed. Pure and deterministic, so it is tested without ns-3.
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario.hpp"

namespace swarmlab::sim {

struct PeerPlan {
  std::string id;  // "<group>-<k>"
  std::size_t group = 0;
  Duration arrival{};
  Duration delay{};                  // one-way delay of its access link
  std::optional<Duration> crash_at;  // abrupt death (kill -9)
  std::optional<Duration> leave_at;  // lifetime ends: graceful departure
};

std::vector<PeerPlan> plan_peers(const Scenario& s);

/// Kumar & Ross minimum distribution time for one file (docs/models.md):
/// T_min = max(F/u_s, F/d_min, N*F/(u_s + sum u_i)).
struct KumarRoss {
  double file_bits = 0;
  double seed_up_bps = 0;  // u_s: the original seeders together
  double min_down_bps = 0;
  double sum_up_bps = 0;  // leechers' upload
  std::uint32_t leechers = 0;
  double t_min_s = 0;
  /// The bound's assumptions (fixed N arriving together, no churn, one file, fixed links).
  bool assumptions_hold = true;
  std::string why_not;
};
KumarRoss kumar_ross(const Scenario& s);

/// Qiu & Srikant's fluid model (docs/models.md), for an open swarm: one leecher group
/// arriving as a Poisson process and leaving a fixed seed time after it finishes
/// (gamma = 1/seed_time, eta = 1, theta = 0). Its steady state, and the same equations over
/// this scenario's arrivals. Empty when the scenario is not of that shape.
struct FluidModel {
  double lambda = 0;     // arrivals per second
  double mu = 0, c = 0;  // upload and download rates in files per second
  double gamma = 0;      // seed departure rate (infinite when seeds leave at once)
  double mean_download_s = 0;
  double mean_leechers = 0, mean_seeds = 0;
  /// The upload of the seeder groups that are there from the start and stay (no departure,
  /// no crash), in files per second; the steady state above leaves them out.
  double origin = 0;
  /// The same equations integrated over this scenario's arrivals (the group's count at its
  /// rate, then none) with `origin` added to the supply: the mean download time by Little's
  /// law, the integral of x over time divided by the number of arrivals. Empty if the
  /// integration did not settle within its step budget (arrivals spread over far longer than
  /// a download).
  std::optional<double> finite_mean_download_s;
};
std::optional<FluidModel> fluid_model(const Scenario& s);

}  // namespace swarmlab::sim

#pragma once
// What a run (simulated or emulated) does to the star and reads from it: a scenario's link
// events applied to the hosts of a group, and the uplink counters RunMetrics wants. Host i+1
// is peer i; host 0 is the tracker.
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "sim/run_metrics.hpp"
#include "sim/scenario.hpp"
#include "sim/star_topology.hpp"
#include "sim/swarm_plan.hpp"

namespace swarmlab::sim {

/// The fields of the run's `link_changed` event.
nlohmann::json link_event_fields(const LinkEvent& e);

/// Applies `e` to the access link of every peer of its group.
void apply_link_event(StarTopology& topo, const Scenario& s, const std::vector<PeerPlan>& plans,
                      const LinkEvent& e);

/// What the peers' uplinks carried so far, with the capacity of those `online` now, in all and
/// for the origin seeds of the first file.
RunMetrics::Wire measure_wire(const StarTopology& topo, const Scenario& s,
                              const std::vector<PeerPlan>& plans,
                              const std::function<bool(std::size_t peer)>& online);

}  // namespace swarmlab::sim

#include "sim/star_schedule.hpp"

namespace swarmlab::sim {

nlohmann::json link_event_fields(const LinkEvent& e) {
  nlohmann::json fields = {{"group", e.group}};
  if (e.up_bps) fields["up_bps"] = *e.up_bps;
  if (e.down_bps) fields["down_bps"] = *e.down_bps;
  if (e.delay) fields["delay_ms"] = to_seconds(*e.delay) * 1e3;
  if (e.partition) fields["partition"] = *e.partition;
  return fields;
}

void apply_link_event(StarTopology& topo, const Scenario& s, const std::vector<PeerPlan>& plans,
                      const LinkEvent& e) {
  for (std::size_t p = 0; p < plans.size(); ++p) {
    if (s.groups[plans[p].group].name != e.group) continue;
    const auto h = p + 1;
    if (e.up_bps || e.down_bps) {
      topo.set_rates(h, e.up_bps.value_or(topo.link(h).up_bps),
                     e.down_bps.value_or(topo.link(h).down_bps));
    }
    if (e.delay) topo.set_delay(h, *e.delay);
    if (e.partition) topo.set_partitioned(h, *e.partition);
  }
}

RunMetrics::Wire measure_wire(const StarTopology& topo, const Scenario& s,
                              const std::vector<PeerPlan>& plans,
                              const std::function<bool(std::size_t peer)>& online) {
  RunMetrics::Wire w;
  for (std::size_t p = 0; p < plans.size(); ++p) {
    const auto h = p + 1;
    const auto bytes = topo.uplink_bytes(h);
    const auto capacity = online(p) ? static_cast<double>(topo.link(h).up_bps) : 0.0;
    w.uplink_bytes += bytes;
    w.up_capacity_bps += capacity;
    // The origin of the first file (the one the summary's models and first copy are about).
    if (const auto& g = s.groups[plans[p].group];
        g.role == PeerGroup::Role::Seeder && (g.file.empty() || g.file == s.files.front().name)) {
      w.origin_uplink_bytes += bytes;
      w.origin_up_capacity_bps += capacity;
    }
  }
  return w;
}

}  // namespace swarmlab::sim

#pragma once
// A record of something that happened in a node: metrics for the run's events.jsonl
// (docs/architecture.md, Metrics).
#include <nlohmann/json.hpp>
#include <string>

#include "swarmlab/time.hpp"

namespace swarmlab {

struct Event {
  Time time{};
  std::string node;  // the node that recorded it (peer id, or "tracker")
  std::string type;  // "chunk_received", "download_completed", ...
  nlohmann::json fields = nlohmann::json::object();

  /// One JSON Lines object: {"t": seconds, "node": ..., "type": ..., fields...}.
  nlohmann::json to_json() const;
};

}  // namespace swarmlab

#include "swarmlab/node.hpp"

namespace swarmlab {

std::optional<Effect> Node::poll_effect() {
  if (effects_.empty()) return std::nullopt;
  Effect e = std::move(effects_.front());
  effects_.pop_front();
  return e;
}

std::string_view to_string(CloseReason r) {
  switch (r) {
    case CloseReason::Normal:
      return "closed";
    case CloseReason::Reset:
      return "reset";
    case CloseReason::ConnectFailed:
      return "connect failed";
    case CloseReason::ProtocolError:
      return "protocol error";
    case CloseReason::Local:
      return "closed locally";
  }
  return "unknown";
}

nlohmann::json Event::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["t"] = to_seconds(time);
  j["node"] = node;
  j["type"] = type;
  for (const auto& [k, v] : fields.items()) j[k] = v;
  return j;
}

}  // namespace swarmlab

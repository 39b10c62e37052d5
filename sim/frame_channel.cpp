#include "sim/frame_channel.hpp"

namespace swarmlab::sim {

const RawFrame* FrameChannel::front(const Key& k) const {
  const auto it = queues_.find(k);
  return it == queues_.end() || it->second.empty() ? nullptr : &it->second.front();
}

std::optional<RawFrame> FrameChannel::pop(const Key& k) {
  const auto it = queues_.find(k);
  if (it == queues_.end() || it->second.empty()) return std::nullopt;
  RawFrame f = std::move(it->second.front());
  it->second.pop_front();
  return f;
}

}  // namespace swarmlab::sim

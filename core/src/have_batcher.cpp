#include "swarmlab/have_batcher.hpp"

namespace swarmlab {

bool HaveBatcher::hold(Time now, ConnId conn, const PeerHave& have) {
  if (delay_ <= Duration::zero()) return false;
  auto [it, fresh] = held_.try_emplace(conn);
  if (fresh) it->second.since = now;
  it->second.haves.push_back(have);
  return true;
}

std::vector<PeerHave> HaveBatcher::take(ConnId conn) {
  const auto it = held_.find(conn);
  if (it == held_.end()) return {};
  auto haves = std::move(it->second.haves);
  held_.erase(it);
  return haves;
}

std::optional<Time> HaveBatcher::due() const {
  std::optional<Time> first;
  for (const auto& [conn, h] : held_) {
    if (!first || h.since < *first) first = h.since;
  }
  if (first) return *first + delay_;
  return first;
}

std::vector<std::pair<ConnId, std::vector<PeerHave>>> HaveBatcher::take_due(Time now) {
  std::vector<std::pair<ConnId, std::vector<PeerHave>>> out;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.since + delay_ > now) {
      ++it;
      continue;
    }
    out.emplace_back(it->first, std::move(it->second.haves));
    it = held_.erase(it);
  }
  return out;
}

std::vector<ConnId> HaveBatcher::connections() const {
  std::vector<ConnId> out;
  out.reserve(held_.size());
  for (const auto& [conn, h] : held_) out.push_back(conn);
  return out;
}

std::size_t HaveBatcher::held() const {
  std::size_t n = 0;
  for (const auto& [conn, h] : held_) n += h.haves.size();
  return n;
}

}  // namespace swarmlab

#pragma once
// HAVE announcements wait a moment before they leave, so that those for one connection go out
// together, or ride with the next frame written to it. A peer announces every chunk it
// verifies on every connection; sent at once, each HAVE is a small packet of its own (and an
// acknowledgement back), which made up most of a simulated swarm's packets
// (docs/models.md, "HAVEs in batches"). Used by Peer for both its download and upload
// connections.
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab {

class HaveBatcher {
 public:
  /// A HAVE waits at most `delay`; zero sends each at once.
  explicit HaveBatcher(Duration delay) : delay_(delay) {}

  /// Keeps `have` for `conn` until the next frame to it or its delay; false when the delay is
  /// zero (the caller sends it now).
  bool hold(Time now, ConnId conn, const PeerHave& have);
  /// What waits for `conn`, to be written before a frame that goes to it now; forgotten here.
  std::vector<PeerHave> take(ConnId conn);
  /// `conn` is gone or closing: what waited for it is dropped.
  void drop(ConnId conn) { held_.erase(conn); }
  void clear() { held_.clear(); }
  bool empty() const { return held_.empty(); }
  /// When the longest-held HAVE is due; nullopt when nothing waits.
  std::optional<Time> due() const;
  /// Every connection whose oldest HAVE is due by `now`, with all that waits for it.
  std::vector<std::pair<ConnId, std::vector<PeerHave>>> take_due(Time now);
  std::size_t held() const;
  /// The connections something waits for.
  std::vector<ConnId> connections() const;

 private:
  struct Held {
    Time since{};  // when the oldest of `haves` was held
    std::vector<PeerHave> haves;
  };
  Duration delay_;
  std::map<ConnId, Held> held_;
};

}  // namespace swarmlab

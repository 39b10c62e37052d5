#pragma once
// A tracker and peers on the fake network, with helpers that read like the seed's terminal
// sessions: publish this, download that, wait for the answer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/fake_network.hpp"
#include "swarmlab/peer.hpp"
#include "swarmlab/tracker.hpp"

namespace swarmlab::testing {

constexpr std::uint32_t kTestChunk = 16 * 1024;

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed);

/// The notice as a T, or nullptr (also when there is none).
template <typename T>
const T* as(const std::optional<Notice>& n) {
  return n ? std::get_if<T>(&*n) : nullptr;
}
template <typename T>
const T* as(const Notice& n) {
  return std::get_if<T>(&n);
}
/// For assertion messages.
inline std::string describe(const std::optional<Notice>& n) {
  return n ? swarmlab::describe(*n) : "no notice";
}

class Swarm {
 public:
  explicit Swarm(std::uint64_t seed = 1, TrackerConfig tracker_config = {});

  FakeNet net;
  HostId tracker;
  const Endpoint tracker_address{"10.0.0.1", 7000};

  /// A peer on its own access link, started and told to connect to the tracker.
  /// `tweak` adjusts the peer's configuration (strategies, delays...) before it starts.
  HostId add_peer(const std::string& id, LinkSpec link = {},
                  const std::function<void(PeerConfig&)>& tweak = {}, std::string host = {});
  PeerConfig peer_config(const std::string& id) const;
  Peer& peer(HostId h) { return net.node<Peer>(h); }
  Tracker& trk() { return net.node<Tracker>(tracker); }
  void restart_tracker(TrackerConfig config = {});
  void restart_peer(HostId h);

  /// Runs until every listed peer is online with the tracker.
  bool wait_online(std::initializer_list<HostId> peers, std::size_t max_steps = 1'000'000);
  /// Puts `bytes` on the peer's disk at /data/<name>, publishes it and waits for the answer.
  /// Returns the notice (PublishDone or PublishFailed).
  Notice publish(HostId h, const std::string& name, const std::vector<std::uint8_t>& bytes);
  void start_download(HostId h, const std::string& name, const std::string& dest);
  /// Runs until the download of `name` on h completes or fails; returns that notice.
  std::optional<Notice> wait_download(HostId h, const std::string& name,
                                      std::size_t max_steps = 5'000'000);
  /// Number of the peer's notices of type T (optionally about one file).
  template <typename T>
  std::size_t count_notices(HostId h, std::string_view file = {}) const {
    std::size_t n = 0;
    for (const auto& e : net.notices(h)) {
      if (std::holds_alternative<T>(e) && (file.empty() || notice_file(e) == file)) ++n;
    }
    return n;
  }
  template <typename T>
  std::optional<T> last_notice(HostId h) const {
    for (auto it = net.notices(h).rbegin(); it != net.notices(h).rend(); ++it) {
      if (const auto* x = std::get_if<T>(&*it)) return *x;
    }
    return std::nullopt;
  }
  /// Chunks the peer has verified so far in its download of `name`.
  std::uint32_t chunks_have(HostId h, const std::string& name);
  /// chunk_received records of `node`'s download of `file`, in order.
  std::vector<Event> received_by(const std::string& node, const std::string& file) const;

 private:
  std::vector<PeerConfig> configs_;
  std::vector<HostId> peer_hosts_;
  std::size_t next_host_ = 2;
  std::uint64_t seed_;
};

}  // namespace swarmlab::testing

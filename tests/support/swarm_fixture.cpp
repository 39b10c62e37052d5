#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng.next());
  return out;
}

Swarm::Swarm(std::uint64_t seed, TrackerConfig tracker_config) : net(seed), seed_(seed) {
  tracker_config.seed = seed;
  tracker = net.add_host("tracker", tracker_address, {1e9, 1e9, 1ms},
                         std::make_unique<Tracker>(tracker_config));
  net.start(tracker);
}

PeerConfig Swarm::peer_config(const std::string& id) const {
  PeerConfig c;
  c.peer_id = id;
  c.chunk_size = kTestChunk;
  c.tracker = tracker_address;
  return c;
}

HostId Swarm::add_peer(const std::string& id, LinkSpec link,
                       const std::function<void(PeerConfig&)>& tweak, std::string host) {
  auto config = peer_config(id);
  const std::size_t n = next_host_++;
  if (host.empty()) host = "10.0." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 2);
  config.listen = Endpoint{host, 6881};
  config.seed = seed_ * 1000003 + n;
  if (tweak) tweak(config);
  const HostId h = net.add_host(id, config.listen, link, std::make_unique<Peer>(config));
  configs_.resize(h + 1);
  configs_[h] = config;
  net.start(h);
  return h;
}

void Swarm::restart_tracker(TrackerConfig config) {
  net.restart(tracker, std::make_unique<Tracker>(config));
}

void Swarm::restart_peer(HostId h) {
  net.restart(h, std::make_unique<Peer>(configs_.at(h)));
}

bool Swarm::wait_online(std::initializer_list<HostId> peers, std::size_t max_steps) {
  return net.run_until(
      [&] {
        for (auto h : peers) {
          if (!net.is_up(h) || peer(h).tracker_state() != Peer::TrackerState::Online) return false;
        }
        return true;
      },
      max_steps);
}

Notice Swarm::publish(HostId h, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  const std::string path = "/data/" + name;
  net.store(h).put_file(path, bytes);
  auto answers = [&] { return count_notices<PublishDone>(h) + count_notices<PublishFailed>(h); };
  const auto before = answers();
  Status st;
  net.command<Peer>(h, [&](Peer& p, Time now) { st = p.publish(now, path, name); });
  EXPECT_TRUE(st.ok()) << st.error().describe();
  net.run_until([&] { return answers() > before; });
  for (auto it = net.notices(h).rbegin(); it != net.notices(h).rend(); ++it) {
    if (as<PublishDone>(*it) != nullptr || as<PublishFailed>(*it) != nullptr) return *it;
  }
  return PublishFailed{name, make_error(ErrorCode::Closed, "no answer to the publish")};
}

void Swarm::start_download(HostId h, const std::string& name, const std::string& dest) {
  Status st;
  net.command<Peer>(h, [&](Peer& p, Time now) { st = p.download(now, name, dest); });
  ASSERT_TRUE(st.ok()) << st.error().describe();
}

std::optional<Notice> Swarm::wait_download(HostId h, const std::string& name,
                                           std::size_t max_steps) {
  auto ends = [&] {
    return count_notices<DownloadCompleted>(h, name) + count_notices<DownloadFailed>(h, name);
  };
  const auto before = ends();
  net.run_until([&] { return ends() > before; }, max_steps);
  for (auto it = net.notices(h).rbegin(); it != net.notices(h).rend(); ++it) {
    const bool end = as<DownloadCompleted>(*it) != nullptr || as<DownloadFailed>(*it) != nullptr;
    if (end && notice_file(*it) == name) return *it;
  }
  return std::nullopt;
}

std::uint32_t Swarm::chunks_have(HostId h, const std::string& name) {
  for (const auto& d : peer(h).downloads()) {
    if (d.name == name) return d.chunks_have;
  }
  return 0;
}

std::vector<Event> Swarm::received_by(const std::string& node, const std::string& file) const {
  std::vector<Event> out;
  for (const auto& e : net.records()) {
    if (e.type == "chunk_received" && e.node == node && e.fields.value("file", "") == file)
      out.push_back(e);
  }
  return out;
}

}  // namespace swarmlab::testing

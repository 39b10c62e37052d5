#pragma once
// The smallest node that proves the fake network: a server answers PEER_PING with PEER_PONG;
// a client connects, pings `count` times in a row and keeps the round-trip times.
#include <optional>
#include <vector>

#include "swarmlab/node.hpp"

namespace swarmlab::testing {

class EchoNode final : public Node {
 public:
  EchoNode(std::optional<Endpoint> server, int count) : server_(std::move(server)), count_(count) {}

  void handle_start(Time now) override {
    if (server_) conn_ = connect(*server_);
    tick_ = start_timer(now + std::chrono::minutes(1));
  }
  void handle_connected(Time now, ConnId) override { ping(now); }
  void handle_frame(Time now, ConnId conn, RawFrame frame) override {
    auto m = decode_message(frame);
    if (!m) return;
    if (auto* p = std::get_if<PeerPing>(&*m)) {
      send(conn, PeerPong{p->nonce});
    } else if (std::get_if<PeerPong>(&*m)) {
      rtts.push_back(now - sent_at_);
      if (static_cast<int>(rtts.size()) < count_) ping(now);
    }
  }
  void handle_closed(Time, ConnId, CloseReason reason) override { closed = reason; }
  void handle_timer(Time now, TimerId) override {
    ++ticks;
    tick_ = start_timer(now + std::chrono::minutes(1));
  }

  std::vector<Duration> rtts;
  int ticks = 0;
  std::optional<CloseReason> closed;

 private:
  void ping(Time now) {
    sent_at_ = now;
    send(conn_, PeerPing{static_cast<std::uint64_t>(rtts.size())});
  }
  std::optional<Endpoint> server_;
  int count_;
  ConnId conn_ = 0;
  TimerId tick_ = 0;
  Time sent_at_{};
};

}  // namespace swarmlab::testing

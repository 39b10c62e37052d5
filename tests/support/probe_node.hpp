#pragma once
// A hand-driven client for poking at a node: it connects, and the test sends whatever
// frames (or raw bytes, through FakeNet::send_raw) it likes and reads what comes back.
#include <optional>
#include <vector>

#include "swarmlab/node.hpp"

namespace swarmlab::testing {

class ProbeNode final : public Node {
 public:
  explicit ProbeNode(Endpoint to) : to_(std::move(to)) {}

  void handle_start(Time) override { conn = connect(to_); }
  void handle_connected(Time, ConnId) override { connected = true; }
  void handle_frame(Time, ConnId, RawFrame frame) override {
    auto m = decode_message(frame);
    if (m) received.push_back(std::move(*m));
  }
  void handle_closed(Time, ConnId, CloseReason reason) override { closed = reason; }

  void send_message(const Message& m) { send(conn, m); }

  template <typename T>
  std::vector<T> received_of() const {
    std::vector<T> out;
    for (const auto& m : received) {
      if (auto* x = std::get_if<T>(&m)) out.push_back(*x);
    }
    return out;
  }

  ConnId conn = 0;
  bool connected = false;
  std::vector<Message> received;
  std::optional<CloseReason> closed;

 private:
  Endpoint to_;
};

}  // namespace swarmlab::testing

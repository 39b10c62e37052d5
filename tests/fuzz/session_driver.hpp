#pragma once
// Drives one node (a tracker or a peer) the way its host would, with a fake clock, from a
// fuzz input: hostile connections open, send frames (well-formed or not), raw bytes and
// closes, and time passes. One honest connection opened first must still be served at the
// end, the node must never hold more than its receive budget, and whatever it asks its host
// to do must be well-formed.
#include <fuzzer/FuzzedDataProvider.h>

#include <set>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "swarmlab/frame_codec.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/node.hpp"

namespace swarmlab::fuzz {

class SessionDriver {
 public:
  static constexpr ConnId kHonest = 1;

  SessionDriver(Node& node, std::string honest_id) : node_(node), honest_id_(std::move(honest_id)) {
    node_.set_receive_budget(kBudget);
    node_.on_start(now_);
    drain();
    node_.on_accepted(now_, kHonest, {"10.0.0.1", 6881});
    drain();
  }

  /// The honest client's frame.
  void honest_sends(const Message& m) {
    const auto bytes = encode_frame_bytes(encode_message(m));
    node_.on_bytes(now_, kHonest, bytes);
    drain();
  }

  /// Replays the hostile side of the input.
  void run(FuzzedDataProvider& in) {
    for (int step = 0; step < 256 && in.remaining_bytes() > 0; ++step) {
      const ConnId conn = in.ConsumeIntegralInRange<ConnId>(2, 9);
      switch (in.ConsumeIntegralInRange<int>(0, 5)) {
        case 0:
          if (open_.insert(conn).second) {
            node_.on_accepted(now_, conn, {"10.0.1." + std::to_string(conn), 6881});
          }
          break;
        case 1: {  // a frame with a well-formed prefix: the header text is the fuzzer's
          RawFrame f;
          f.header = in.ConsumeRandomLengthString(8192);
          f.payload = Payload::copy_of(
              in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 70000)));
          claims_honest_id_ = claims_honest_id_ || f.header.find(honest_id_) != std::string::npos;
          feed(conn, encode_frame_bytes(f));
          break;
        }
        case 2: {  // raw bytes: broken prefixes, huge declared lengths, partial frames
          const auto bytes = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange(0, 4096));
          const std::string text(bytes.begin(), bytes.end());
          claims_honest_id_ = claims_honest_id_ || text.find(honest_id_) != std::string::npos;
          feed(conn, bytes);
          break;
        }
        case 3:
          if (open_.erase(conn) != 0) node_.on_closed(now_, conn, CloseReason::Reset);
          break;
        case 4: {  // time passes; the honest client stays within every timeout
          const auto ms = in.ConsumeIntegralInRange<int>(0, 2000);
          if (elapsed_ + std::chrono::milliseconds(ms) < std::chrono::seconds(20)) {
            elapsed_ += std::chrono::milliseconds(ms);
            now_ += std::chrono::milliseconds(ms);
            if (const auto due = node_.next_deadline(); due && *due <= now_)
              node_.on_deadline(now_);
          }
          break;
        }
        case 5:
          if (open_.count(conn) != 0) node_.on_sent(now_, conn);
          break;
      }
      drain();
    }
  }

  /// Whether a message of type T (with request id `req`, when it has one) reached the honest
  /// client since the last call.
  template <typename T>
  bool honest_got(const std::function<bool(const T&)>& match) {
    bool got = false;
    for (const auto& frame : to_honest_) {
      auto m = decode_message(frame);
      FUZZ_CHECK(m.ok(), "the node sent a frame it cannot decode itself");
      if (const auto* x = std::get_if<T>(&*m)) got = got || match(*x);
    }
    to_honest_.clear();
    return got;
  }
  bool honest_closed() const { return honest_closed_; }
  /// A hostile connection claimed the honest client's identity: displacing it is then
  /// the tracker's rule (a restarted peer takes its old place), not a fault.
  bool honest_id_claimed() const { return claims_honest_id_; }

 private:
  static constexpr std::size_t kBudget = 8u << 20;

  void feed(ConnId conn, const std::vector<std::uint8_t>& bytes) {
    if (open_.count(conn) == 0) return;
    node_.on_bytes(now_, conn, bytes);
  }

  void drain() {
    while (auto e = node_.poll_effect()) {
      if (auto* s = std::get_if<Send>(&*e)) {
        FUZZ_CHECK(s->frame.header.size() <= kMaxHeaderBytes,
                   "the node sends a header over the frame limit");
        if (s->conn == kHonest) to_honest_.push_back(std::move(s->frame));
        if (s->report_sent && (s->conn == kHonest || open_.count(s->conn) != 0)) {
          node_.on_sent(now_, s->conn);
        }
      } else if (auto* c = std::get_if<Close>(&*e)) {
        if (c->conn == kHonest) honest_closed_ = true;
        if (open_.erase(c->conn) != 0 || c->conn == kHonest) {
          node_.on_closed(now_, c->conn, CloseReason::Local);
        }
      } else if (std::holds_alternative<Connect>(*e)) {
        FUZZ_CHECK(false, "a node under test opened a connection nobody asked for");
      } else if (auto* op = std::get_if<StoreRead>(&*e)) {
        node_.on_store_done(now_, op->op,
                            StoreResult::failed(Error{ErrorCode::IoError, "no store here"}));
      }
    }
  }

  Node& node_;
  std::string honest_id_;
  Time now_{};
  Duration elapsed_{};
  std::set<ConnId> open_;
  std::vector<RawFrame> to_honest_;
  bool honest_closed_ = false;
  bool claims_honest_id_ = false;
};

}  // namespace swarmlab::fuzz

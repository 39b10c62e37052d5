// The parts of the node interface every driver relies on: framing, the one deadline, and
// shutdown, checked on a bare node without a network.
#include "swarmlab/node.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace swarmlab::testing {
namespace {

class RecordingNode final : public Node {
 public:
  std::vector<std::string> frames;
  std::vector<std::pair<ConnId, CloseReason>> closed;
  std::vector<TimerId> fired;
  using Node::cancel_timer;
  using Node::connect;
  using Node::start_timer;

 private:
  void handle_frame(Time, ConnId, RawFrame f) override { frames.push_back(f.header); }
  void handle_closed(Time, ConnId c, CloseReason r) override { closed.emplace_back(c, r); }
  void handle_timer(Time, TimerId t) override { fired.push_back(t); }
};

std::vector<Effect> drain(Node& n) {
  std::vector<Effect> out;
  while (auto e = n.poll_effect()) out.push_back(std::move(*e));
  return out;
}

const Time t0{};

// The node's only effect since the last drain resets `conn`.
void expect_only_a_reset_of(Node& n, ConnId conn) {
  const auto effects = drain(n);
  ASSERT_EQ(effects.size(), 1u);
  const auto* close = std::get_if<Close>(&effects[0]);
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(close->conn, conn);
  EXPECT_TRUE(close->reset);
}

TEST(Node, DecodesFramesSplitAnyhowAndIgnoresUnknownConnections) {
  RecordingNode n;
  n.on_accepted(t0, 1, {"10.0.0.2", 5000});
  auto bytes = encode_frame_bytes({R"({"type":"PEER_PING","nonce":1})", {}});
  const auto second = encode_frame_bytes({R"({"type":"PEER_PING","nonce":2})", {}});
  bytes.insert(bytes.end(), second.begin(), second.end());
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    n.on_bytes(t0, 1, std::span(bytes).subspan(i, std::min<std::size_t>(3, bytes.size() - i)));
  }
  n.on_bytes(t0, 99, bytes);  // never accepted: nothing happens
  ASSERT_EQ(n.frames.size(), 2u);
  EXPECT_NE(n.frames[1].find("\"nonce\":2"), std::string::npos);
  EXPECT_TRUE(drain(n).empty());
}

TEST(Node, BrokenFramingResetsTheStreamAndIsHandledAsAProtocolError) {
  RecordingNode n;
  n.on_accepted(t0, 1, {"10.0.0.2", 5000});
  // A header length over the 64 KiB limit.
  const std::vector<std::uint8_t> bad{0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0};
  n.on_bytes(t0, 1, bad);
  expect_only_a_reset_of(n, 1);
  ASSERT_EQ(n.closed.size(), 1u);
  EXPECT_EQ(n.closed[0].second, CloseReason::ProtocolError);
  // The stream is gone: later bytes and a late close from the driver change nothing.
  n.on_bytes(t0, 1, encode_frame_bytes({R"({"type":"PEER_PING","nonce":1})", {}}));
  n.on_closed(t0, 1, CloseReason::Reset);
  EXPECT_TRUE(n.frames.empty());
  EXPECT_EQ(n.closed.size(), 1u);
}

TEST(Node, StreamsThatHoldTooMuchUnfinishedDataAreResetHeaviestFirst) {
  RecordingNode n;
  n.set_receive_budget(3u << 20);
  const std::string header = R"({"type":"PEER_REPLY_CHUNK"})";
  auto start_huge_frame = [&](ConnId c) {
    auto bytes = encode_frame_prefix(static_cast<std::uint32_t>(header.size()), kMaxChunkSize);
    n.on_bytes(t0, c, bytes);
    n.on_bytes(t0, c,
               std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()));
  };
  const std::vector<std::uint8_t> kib(1024, 1);
  auto send_kib = [&](ConnId c, int count) {
    for (int i = 0; i < count; ++i) n.on_bytes(t0, c, kib);
  };
  for (ConnId c = 1; c <= 4; ++c) {
    n.on_accepted(t0, c, {"10.0.0.2", static_cast<std::uint16_t>(5000 + c)});
    start_huge_frame(c);
  }
  // Four streams that each declare 16 MiB and trickle: together within the budget.
  send_kib(1, 100);
  send_kib(2, 300);
  send_kib(3, 1100);
  EXPECT_TRUE(n.closed.empty());
  EXPECT_TRUE(drain(n).empty());
  // Stream 4 pushes the total over 3 MiB: the one holding the most (stream 3, 2 MiB of
  // buffer for 1,100 KiB) is reset, and the others go on.
  send_kib(4, 700);
  ASSERT_EQ(n.closed.size(), 1u);
  EXPECT_EQ(n.closed[0], std::make_pair(ConnId{3}, CloseReason::Overloaded));
  expect_only_a_reset_of(n, 3);
  // An ordinary frame on another connection is still read.
  n.on_accepted(t0, 5, {"10.0.0.3", 5000});
  n.on_bytes(t0, 5, encode_frame_bytes({R"({"type":"PEER_PING","nonce":1})", {}}));
  ASSERT_EQ(n.frames.size(), 1u);
  // A stream that closes gives its share back: stream 4 can grow where stream 3 was.
  n.on_closed(t0, 2, CloseReason::Normal);
  send_kib(4, 200);
  EXPECT_EQ(n.closed.size(), 2u);  // only stream 2's own close
}

TEST(Node, OneDeadlineIsTheSoonestTimerAndOnlyExpiredTimersFire) {
  RecordingNode n;
  EXPECT_FALSE(n.next_deadline());
  const TimerId late = n.start_timer(t0 + 3s);
  TimerId early = n.start_timer(t0 + 1s);
  const TimerId middle = n.start_timer(t0 + 2s);
  EXPECT_EQ(n.next_deadline(), t0 + 1s);
  n.cancel_timer(early);
  EXPECT_EQ(early, 0u);
  EXPECT_EQ(n.next_deadline(), t0 + 2s);
  n.on_deadline(t0 + 1500ms);  // early: nothing is due
  EXPECT_TRUE(n.fired.empty());
  n.on_deadline(t0 + 3s);
  EXPECT_EQ(n.fired, (std::vector<TimerId>{middle, late}));
  EXPECT_FALSE(n.next_deadline());
}

TEST(Node, ShutdownClosesWhatIsOpenStopsTimersAndIgnoresLaterInputs) {
  RecordingNode n;
  n.on_accepted(t0, 1, {"10.0.0.2", 5000});
  const ConnId out = n.connect({"10.0.0.3", 6881});
  drain(n);
  n.start_timer(t0 + 1s);
  n.shutdown(t0);
  std::vector<ConnId> closed;
  for (const auto& e : drain(n)) {
    if (const auto* c = std::get_if<Close>(&e)) closed.push_back(c->conn);
  }
  EXPECT_EQ(closed, (std::vector<ConnId>{1, out}));
  EXPECT_FALSE(n.next_deadline());
  // A connection accepted after the stop is closed at once, and what it sends is not read.
  n.on_accepted(t0, 2, {"10.0.0.4", 5000});
  n.on_bytes(t0, 2, encode_frame_bytes({R"({"type":"PEER_PING","nonce":1})", {}}));
  EXPECT_TRUE(n.frames.empty());
  const auto after = drain(n);
  ASSERT_EQ(after.size(), 1u);
  ASSERT_NE(std::get_if<Close>(&after[0]), nullptr);
  EXPECT_EQ(std::get<Close>(after[0]).conn, 2u);
}

// A node whose timer handler starts a timer that is already due (a zero interval) hands
// control back to its driver after each round instead of looping inside on_deadline.
class ZeroIntervalNode final : public Node {
 public:
  int fired = 0;
  using Node::start_timer;

 private:
  void handle_frame(Time, ConnId, RawFrame) override {}
  void handle_timer(Time now, TimerId) override {
    ++fired;
    start_timer(now);
  }
};

TEST(Node, ATimerStartedAlreadyDueWaitsForTheNextCall) {
  ZeroIntervalNode n;
  n.start_timer(t0 + 1s);
  n.on_deadline(t0 + 1s);
  EXPECT_EQ(n.fired, 1);
  EXPECT_EQ(n.next_deadline(), t0 + 1s);  // due again: the driver calls at once
  n.on_deadline(t0 + 1s);
  EXPECT_EQ(n.fired, 2);
}

}  // namespace
}  // namespace swarmlab::testing

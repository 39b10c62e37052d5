#include "swarmlab/have_batcher.hpp"

#include <gtest/gtest.h>

using namespace swarmlab;
using namespace std::chrono_literals;

namespace {
std::vector<std::uint32_t> indices(const std::vector<PeerHave>& haves) {
  std::vector<std::uint32_t> out;
  for (const auto& h : haves) out.push_back(h.index);
  return out;
}
}  // namespace

TEST(HaveBatcher, WithoutADelayNothingIsHeld) {
  HaveBatcher b(Duration::zero());
  EXPECT_FALSE(b.hold(Time{}, 1, PeerHave{"f", 3}));
  EXPECT_EQ(b.held(), 0u);
  EXPECT_FALSE(b.due());
}

TEST(HaveBatcher, HavesWaitForTheNextFrameToTheirConnectionOrTheirDelay) {
  HaveBatcher b(100ms);
  const Time t0 = Time{} + 1s;
  ASSERT_TRUE(b.hold(t0, 1, PeerHave{"f", 3}));
  ASSERT_TRUE(b.hold(t0, 2, PeerHave{"f", 3}));
  ASSERT_TRUE(b.hold(t0 + 30ms, 1, PeerHave{"f", 4}));
  ASSERT_TRUE(b.hold(t0 + 50ms, 3, PeerHave{"f", 4}));
  EXPECT_EQ(b.held(), 4u);
  EXPECT_EQ(b.connections(), (std::vector<ConnId>{1, 2, 3}));
  EXPECT_EQ(b.due(), t0 + 100ms);  // the oldest, on connections 1 and 2
  // Another frame to connection 1 takes both of its HAVEs along, in order.
  EXPECT_EQ(indices(b.take(1)), (std::vector<std::uint32_t>{3, 4}));
  EXPECT_TRUE(b.take(1).empty());
  EXPECT_TRUE(b.take_due(t0 + 99ms).empty());
  const auto due = b.take_due(t0 + 100ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, 2u);
  EXPECT_EQ(indices(due[0].second), (std::vector<std::uint32_t>{3}));
  EXPECT_EQ(b.due(), t0 + 150ms);
  // A connection that closes loses what waited for it.
  b.drop(3);
  EXPECT_EQ(b.held(), 0u);
  EXPECT_FALSE(b.due());
}

TEST(HaveBatcher, AConnectionsHavesAllLeaveWhenItsOldestIsDue) {
  HaveBatcher b(100ms);
  const Time t0{};
  b.hold(t0, 7, PeerHave{"f", 1});
  b.hold(t0 + 90ms, 7, PeerHave{"f", 2});
  const auto due = b.take_due(t0 + 100ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(indices(due[0].second), (std::vector<std::uint32_t>{1, 2}));
  b.hold(t0 + 120ms, 7, PeerHave{"f", 3});  // a new window starts
  EXPECT_EQ(b.due(), t0 + 220ms);
  b.clear();
  EXPECT_FALSE(b.due());
}

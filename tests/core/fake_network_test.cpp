#include "support/fake_network.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "support/echo_node.hpp"

namespace swarmlab::testing {
namespace {

struct EchoPair {
  FakeNet net;
  HostId server, client;
  EchoPair(std::uint64_t seed, Duration d_server, Duration d_client, int pings) : net(seed) {
    const Endpoint srv{"10.0.0.1", 7000};
    server = net.add_host("server", srv, {100e6, 100e6, d_server},
                          std::make_unique<EchoNode>(std::nullopt, 0));
    client = net.add_host("client", {"10.0.0.2", 7001}, {100e6, 100e6, d_client},
                          std::make_unique<EchoNode>(srv, pings));
    net.start(server);
    net.start(client);
  }
  EchoNode& c() { return net.node<EchoNode>(client); }
};

TEST(FakeNetwork, RoundTripTimeFollowsLinkDelays) {
  EchoPair p(1, 5ms, 20ms, 10);
  ASSERT_TRUE(p.net.run_until([&] { return p.c().rtts.size() == 10; }));
  for (auto rtt : p.c().rtts) {
    // Two one-way trips of 25 ms, plus a few microseconds of serialisation.
    EXPECT_GE(rtt, 50ms);
    EXPECT_LT(rtt, 50ms + 100us);
  }
}

TEST(FakeNetwork, BandwidthLimitsBigFrames) {
  FakeNet net(3);
  struct Sender final : Node {
    Endpoint to;
    explicit Sender(Endpoint e) : to(std::move(e)) {}
    void handle_start(Time) override { connect(to); }
    void handle_frame(Time, ConnId, RawFrame) override {}
    void handle_connected(Time, ConnId c) override {
      // 10 frames of 1 MB each over an 8 Mbps uplink: about 10 s.
      for (int i = 0; i < 10; ++i) {
        send(c, PeerReplyChunk{"f", static_cast<std::uint32_t>(i), 0,
                               Payload::copy_of(std::vector<std::uint8_t>(1'000'000, 1))});
      }
    }
  };
  struct Counter final : Node {
    int frames = 0;
    Time last{};
    void handle_frame(Time now, ConnId, RawFrame f) override {
      ++frames;
      last = now;
      EXPECT_EQ(f.payload.size(), 1'000'000u);
    }
  };
  const Endpoint dst{"10.0.0.9", 1};
  auto rx = net.add_host("rx", dst, {100e6, 100e6, 1ms}, std::make_unique<Counter>());
  auto tx = net.add_host("tx", {"10.0.0.8", 1}, {8e6, 100e6, 1ms}, std::make_unique<Sender>(dst));
  net.start(rx);
  net.start(tx);
  ASSERT_TRUE(net.run_until([&] { return net.node<Counter>(rx).frames == 10; }));
  const double secs = to_seconds(net.node<Counter>(rx).last);
  EXPECT_GT(secs, 10.0);
  EXPECT_LT(secs, 10.1);
}

TEST(FakeNetwork, SameSeedSameHistory) {
  auto history = [](std::uint64_t seed) {
    EchoPair p(seed, 3ms, 7ms, 25);
    p.net.run_until([&] { return p.c().rtts.size() == 25; });
    return std::make_pair(p.c().rtts, p.net.now());
  };
  EXPECT_EQ(history(42), history(42));
}

TEST(FakeNetwork, AnHourOfVirtualTimeCostsNoWallTime) {
  EchoPair p(5, 1ms, 1ms, 1);
  const auto wall = std::chrono::steady_clock::now();
  p.net.run_for(std::chrono::hours(1));
  EXPECT_EQ(p.c().ticks, 60);
  EXPECT_EQ(p.net.now(), time_at(std::chrono::hours(1)));
  // Generous bound: the point is that nothing sleeps.
  EXPECT_LT(std::chrono::steady_clock::now() - wall, std::chrono::seconds(5));
}

TEST(FakeNetwork, CrashResetsConnectionsAndConnectToDeadHostFails) {
  EchoPair p(9, 2ms, 2ms, 1000000);
  p.net.run_for(100ms);
  EXPECT_FALSE(p.c().rtts.empty());
  p.net.crash(p.server);
  p.net.run_for(100ms);
  ASSERT_TRUE(p.c().closed.has_value());
  EXPECT_EQ(*p.c().closed, CloseReason::Reset);
  // A new client finds nobody listening.
  auto late = p.net.add_host("late", {"10.0.0.3", 1}, {},
                             std::make_unique<EchoNode>(Endpoint{"10.0.0.1", 7000}, 1));
  p.net.start(late);
  p.net.run_for(100ms);
  EXPECT_EQ(p.net.node<EchoNode>(late).closed, CloseReason::ConnectFailed);
}

TEST(FakeNetwork, SilentCrashSendsNothing) {
  EchoPair p(9, 2ms, 2ms, 1000000);
  p.net.run_for(50ms);
  p.net.crash(p.server, /*silent=*/true);
  p.net.run_for(10s);
  EXPECT_FALSE(p.c().closed.has_value());
}

}  // namespace
}  // namespace swarmlab::testing

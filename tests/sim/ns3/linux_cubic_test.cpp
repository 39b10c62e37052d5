// The simulated hosts' CUBIC (sim/linux_cubic.hpp) leaves slow start as Linux's does, once a
// queue begins to build, where ns-3's own HyStart waits for the RTT to double and so fills a
// short queue and loses packets. One bulk flow over a 10 Mbit/s link with 20 ms each way and
// 40 ms of queue.
#include "sim/linux_cubic.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "sim/ns3_headers.hpp"
#include "sim/tail_probing_socket.hpp"
#include "tests/sim/ns3/two_node_link.hpp"

namespace swarmlab::sim {
namespace {

struct Outcome {
  std::uint64_t received = 0;
  int drops = 0;                // packets the sender's queue dropped
  double first_drop_s = 0;      // when the first was
  std::uint32_t exit_cwnd = 0;  // the window when slow start ended without a loss; 0: never
  bool traced = false;
};

Outcome run(bool linux_cubic) {
  const auto link = make_two_node_link(10'000'000, std::chrono::milliseconds(20), 50'000);
  const auto& nodes = link.nodes;
  const auto& devices = link.devices;
  const auto& interfaces = link.interfaces;

  Outcome out;
  std::uint32_t cwnd = 0;
  const auto count_drop =
      ns3::Callback<void, ns3::Ptr<const ns3::Packet>>([&](ns3::Ptr<const ns3::Packet>) {
        if (out.drops++ == 0) out.first_drop_s = ns3::Simulator::Now().GetSeconds();
      });
  devices.Get(0)->GetObject<ns3::PointToPointNetDevice>()->GetQueue()->TraceConnectWithoutContext(
      "Drop", count_drop);
  nodes.Get(0)->GetObject<ns3::TrafficControlLayer>()->TraceConnectWithoutContext("TcDrop",
                                                                                  count_drop);

  auto listener = ns3::Socket::CreateSocket(nodes.Get(1), ns3::TcpSocketFactory::GetTypeId());
  listener->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9));
  listener->Listen();
  ns3::Ptr<ns3::Socket> accepted;
  listener->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::Callback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>([&](ns3::Ptr<ns3::Socket> s,
                                                                          const ns3::Address&) {
        accepted = s;
        s->SetRecvCallback(ns3::Callback<void, ns3::Ptr<ns3::Socket>>([&](ns3::Ptr<ns3::Socket> r) {
          while (auto p = r->Recv()) out.received += p->GetSize();
        }));
      }));

  // make_tcp_socket's socket, with LinuxCubic or with ns-3's TcpCubic put back.
  auto sender = ns3::DynamicCast<ns3::TcpSocketBase>(make_tcp_socket(nodes.Get(0)));
  if (!linux_cubic) sender->SetCongestionControlAlgorithm(ns3::CreateObject<ns3::TcpCubic>());
  bool open = true;
  out.traced = sender->TraceConnectWithoutContext(
      "CongestionWindow", ns3::Callback<void, std::uint32_t, std::uint32_t>(
                              [&](std::uint32_t, std::uint32_t now) { cwnd = now; }));
  out.traced &= sender->TraceConnectWithoutContext(
      "CongState",
      ns3::Callback<void, ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t>(
          [&](ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t now) {
            if (now == ns3::TcpSocketState::CA_RECOVERY || now == ns3::TcpSocketState::CA_LOSS)
              open = false;
          }));
  out.traced &= sender->TraceConnectWithoutContext(
      "SlowStartThreshold", ns3::Callback<void, std::uint32_t, std::uint32_t>(
                                [&](std::uint32_t before, std::uint32_t now) {
                                  // Set from "infinite" to the window, with nothing lost yet.
                                  if (open && before == std::numeric_limits<std::uint32_t>::max() &&
                                      now == cwnd && out.exit_cwnd == 0)
                                    out.exit_cwnd = now;
                                }));
  const std::uint32_t total = 1'000'000;
  ns3::Simulator::ScheduleNow([&] {
    sender->Bind();
    sender->Connect(ns3::InetSocketAddress(interfaces.GetAddress(1), 9));
  });
  ns3::Simulator::Schedule(ns3::MilliSeconds(100), [&] {
    sender->SetAttribute("SndBufSize", ns3::UintegerValue(total));
    sender->Send(ns3::Create<ns3::Packet>(total), 0);
  });
  ns3::Simulator::Stop(ns3::Seconds(10));
  ns3::Simulator::Run();
  sender->Close();
  if (accepted) accepted->Close();
  listener->Close();
  ns3::Simulator::Destroy();
  return out;
}

TEST(LinuxCubic, LeavesSlowStartBeforeTheQueueOverflows) {
  const auto ns3_cubic = run(false);
  const auto linux_cubic = run(true);
  ASSERT_TRUE(ns3_cubic.traced && linux_cubic.traced);
  EXPECT_EQ(ns3_cubic.received, 1'000'000u);
  EXPECT_EQ(linux_cubic.received, 1'000'000u);
  // The path holds 100 segments of 1,000 bytes: 50 on the link (10 Mbit/s for 40 ms) and 50
  // in the queue. ns-3's HyStart waits for the smoothed RTT to reach twice the minimum, 40 ms
  // of queue, all this link has: its doubling window is past the path's capacity by then and
  // loses packets within a round trip.
  EXPECT_TRUE(ns3_cubic.exit_cwnd == 0 || ns3_cubic.exit_cwnd > 100'000u);
  EXPECT_GT(ns3_cubic.drops, 0);
  EXPECT_LT(ns3_cubic.first_drop_s, 0.5);
  // Linux's leaves after a few milliseconds of queue (an eighth of the 40 ms minimum, at
  // least 4 ms), at about the bandwidth-delay product. The first loss comes only when
  // congestion avoidance has grown the window to the path's capacity, later and fewer.
  EXPECT_GE(linux_cubic.exit_cwnd, 16'000u);  // not before HyStart's lowest window
  EXPECT_LT(linux_cubic.exit_cwnd, 80'000u);
  EXPECT_TRUE(linux_cubic.drops == 0 || linux_cubic.first_drop_s > 0.5);
  EXPECT_LT(linux_cubic.drops, ns3_cubic.drops);
}

}  // namespace
}  // namespace swarmlab::sim

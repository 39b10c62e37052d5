// The simulated hosts' CUBIC (sim/linux_cubic.hpp) leaves slow start as Linux's does, once a
// queue begins to build, where ns-3's own HyStart waits for the RTT to double and so fills a
// short queue and loses packets. One bulk flow over a link with 20 ms each way and 40 ms of
// queue, fast enough for Linux's ACK-train test or too slow for it.
#include "sim/linux_cubic.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "sim/linux_tcp_socket.hpp"
#include "sim/ns3_headers.hpp"
#include "tests/sim/ns3/two_node_link.hpp"

namespace swarmlab::sim {
namespace {

struct Outcome {
  std::uint64_t received = 0;
  int drops = 0;                // packets the sender's queue dropped
  double first_drop_s = 0;      // when the first was
  std::uint32_t exit_cwnd = 0;  // the window when slow start ended without a loss; 0: never
  int delay_exits = 0;          // HyStartExit traces, by the RTT's rise
  int train_exits = 0;          // and by an ACK train
  bool traced = false;
};

// One flow of 1 MB over `bps` with `delay_ms` each way and `queue_ms` of queue.
Outcome run(bool linux_cubic, std::uint64_t bps, int delay_ms, int queue_ms) {
  const auto queue = static_cast<std::uint32_t>(bps / 8 * queue_ms / 1000);
  const auto link = make_two_node_link(bps, std::chrono::milliseconds(delay_ms), queue);
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
  if (linux_cubic) {
    out.traced &= sender->TraceConnectWithoutContext(
        "HyStartExit", ns3::Callback<void, bool>([&](bool by_delay) {
          ++(by_delay ? out.delay_exits : out.train_exits);
        }));
  }
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
  close_and_destroy({sender, accepted, listener});
  return out;
}

// The queue holds as long as the round trip lasts, so the path holds twice its
// bandwidth-delay product, `capacity` bytes. ns-3's HyStart waits for the smoothed RTT to
// reach twice the minimum, a full queue: its doubling window is past the path's capacity by
// then and loses packets within a round trip. Linux's leaves near the bandwidth-delay
// product, and its first loss comes only when congestion avoidance has grown the window to
// the path's capacity.
void expect_linux_leaves_first(const Outcome& ns3_cubic, const Outcome& linux_cubic,
                               std::uint32_t capacity) {
  ASSERT_TRUE(ns3_cubic.traced && linux_cubic.traced);
  EXPECT_EQ(ns3_cubic.received, 1'000'000u);
  EXPECT_EQ(linux_cubic.received, 1'000'000u);
  EXPECT_TRUE(ns3_cubic.exit_cwnd == 0 || ns3_cubic.exit_cwnd > capacity);
  EXPECT_GT(ns3_cubic.drops, 0);
  EXPECT_GE(linux_cubic.exit_cwnd, 16'000u);  // not before HyStart's lowest window
  EXPECT_LT(linux_cubic.exit_cwnd, capacity * 8 / 10);
  EXPECT_TRUE(linux_cubic.drops == 0 || linux_cubic.first_drop_s > ns3_cubic.first_drop_s);
  EXPECT_LT(linux_cubic.drops, ns3_cubic.drops);
}

TEST(LinuxCubic, LeavesSlowStartOnAnAckTrainBeforeTheQueueOverflows) {
  // At 10 Mbit/s two 1,000-byte segments take 1.6 ms: delayed ACKs come back to back (2 ms
  // apart at most), and once they have for half a minimum RTT (20 ms) the window fills the
  // link. 20 ms each way, 40 ms of queue.
  const auto linux_cubic = run(true, 10'000'000, 20, 40);
  expect_linux_leaves_first(run(false, 10'000'000, 20, 40), linux_cubic, 100'000);
  EXPECT_EQ(linux_cubic.train_exits, 1);
  EXPECT_EQ(linux_cubic.delay_exits, 0);
}

// Feeds LinuxCubic one round of `rtts` after a round at `min_rtt`, one sample every 4 ms
// (too far apart for an ACK train), with the window at 20 segments of 1,000 bytes, and says
// whether it ended slow start and by which test.
LinuxCubic::Exits after_rounds(ns3::Time min_rtt, std::vector<ns3::Time> rtts) {
  ns3::Simulator::Destroy();
  auto cubic = ns3::CreateObject<LinuxCubic>();
  auto tcb = ns3::CreateObject<ns3::TcpSocketState>();
  tcb->m_segmentSize = 1000;
  tcb->m_cWnd = 20'000;
  tcb->m_ssThresh = std::numeric_limits<std::uint32_t>::max();
  LinuxCubic::Exits exits;
  std::uint32_t seq = 1;
  const auto sample = [&](ns3::Time rtt) {
    seq += 1000;
    tcb->m_highTxMark = ns3::SequenceNumber32(seq + 20'000);
    const auto e = cubic->OnRttSample(tcb, ns3::SequenceNumber32(seq), rtt);
    exits.ack_train |= e.ack_train;
    exits.delay |= e.delay;
  };
  std::vector<ns3::Time> all(10, min_rtt);  // the first round (its end is set by the first)
  all.insert(all.end(), rtts.begin(), rtts.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    // The second round begins with the first sample past the first round's end.
    const auto at = ns3::MilliSeconds(4 * static_cast<std::int64_t>(i) + (i >= 10 ? 100 : 0));
    ns3::Simulator::Schedule(at, [&, rtt = all[i], i] {
      if (i == 10) seq += 20'000;
      sample(rtt);
    });
  }
  ns3::Simulator::Run();
  ns3::Simulator::Destroy();
  return exits;
}

TEST(LinuxCubic, EndsSlowStartWhenARoundsRttsRiseByAnEighthOfTheMinimum) {
  using ns3::MicroSeconds;
  using ns3::MilliSeconds;
  const auto round = [](ns3::Time rtt) { return std::vector<ns3::Time>(9, rtt); };
  // 40 ms minimum: an eighth is 5 ms.
  EXPECT_TRUE(after_rounds(MilliSeconds(40), round(MicroSeconds(45'100))).delay);
  EXPECT_FALSE(after_rounds(MilliSeconds(40), round(MicroSeconds(44'900))).delay);
  // 200 ms minimum: an eighth would be 25 ms, clamped to 16.
  EXPECT_TRUE(after_rounds(MilliSeconds(200), round(MicroSeconds(216'100))).delay);
  EXPECT_FALSE(after_rounds(MilliSeconds(200), round(MicroSeconds(215'900))).delay);
  // 10 ms minimum: an eighth would be 1.25 ms, clamped to 4.
  EXPECT_TRUE(after_rounds(MilliSeconds(10), round(MicroSeconds(14'100))).delay);
  EXPECT_FALSE(after_rounds(MilliSeconds(10), round(MicroSeconds(13'900))).delay);
  // The round's smallest sample counts, and only after eight: one low sample keeps it going.
  auto one_low = round(MilliSeconds(60));
  one_low[8] = MilliSeconds(40);
  EXPECT_FALSE(after_rounds(MilliSeconds(40), one_low).delay);
  auto too_few = std::vector<ns3::Time>(8, MilliSeconds(60));
  EXPECT_FALSE(after_rounds(MilliSeconds(40), too_few).delay);
  // Samples 4 ms apart never make an ACK train.
  EXPECT_FALSE(after_rounds(MilliSeconds(40), round(MilliSeconds(60))).ack_train);
}

}  // namespace
}  // namespace swarmlab::sim

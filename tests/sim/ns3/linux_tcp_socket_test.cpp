// The simulated hosts' TCP sockets (sim/linux_tcp_socket.hpp) repair, as Linux does, a lost
// tail with a probe, a loss too few segments follow for three duplicate ACKs with RACK's
// reordering timer, and a lost retransmission once something sent after it arrives; in each
// case ns-3's own socket waits for its retransmission timeout. They also give a fast
// retransmission a whole timeout, where ns-3's own socket times out while it is still queued.
// Two nodes on one link; the link drops chosen data segments; the sender's congestion states
// say whether a timeout happened.
#include "sim/linux_tcp_socket.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "sim/ns3_headers.hpp"
#include "tests/sim/ns3/two_node_link.hpp"

namespace swarmlab::sim {
namespace {

// An error model for the link into the receiver that says whether it dropped all it was
// set to.
class Dropper : public ns3::ErrorModel {
 public:
  bool dropped() const { return dropped_; }
  /// Copies of the (last) dropped segment that arrived after it: its retransmissions.
  int resent() const { return resent_; }

 protected:
  /// The sending port and sequence number of a packet's TCP data, if it carries any (PPP,
  /// IPv4 and TCP headers are still on it at the receiving device).
  static std::optional<std::pair<std::uint16_t, std::uint32_t>> DataSegment(
      ns3::Ptr<ns3::Packet> p) {
    auto copy = p->Copy();
    ns3::PppHeader ppp;
    ns3::Ipv4Header ip;
    ns3::TcpHeader tcp;
    copy->RemoveHeader(ppp);
    copy->RemoveHeader(ip);
    copy->RemoveHeader(tcp);
    if (copy->GetSize() == 0) return std::nullopt;
    return std::pair{tcp.GetSourcePort(), tcp.GetSequenceNumber().GetValue()};
  }
  /// Counts a copy of the dropped segment, once one was dropped.
  void CountCopy(ns3::Ptr<ns3::Packet> p) {
    if (dropped_ && DataSegment(p) == dropped_segment_) ++resent_;
  }
  bool dropped_ = false;
  std::optional<std::pair<std::uint16_t, std::uint32_t>> dropped_segment_;

 private:
  void DoReset() override {}
  int resent_ = 0;
};

// Drops the `nth` packet (counting from 1) that carries at least `min_size` bytes.
class DropNth : public Dropper {
 public:
  DropNth(std::uint32_t nth, std::uint32_t min_size) : nth_(nth), min_size_(min_size) {}

 private:
  bool DoCorrupt(ns3::Ptr<ns3::Packet> p) override {
    CountCopy(p);
    if (p->GetSize() < min_size_ || dropped_) return false;
    if (++seen_ != nth_) return false;
    dropped_ = true;
    dropped_segment_ = DataSegment(p);
    return true;
  }
  std::uint32_t nth_;
  std::uint32_t min_size_;
  std::uint32_t seen_ = 0;
};

// Drops the first `times` data segments that begin at sequence number `seq` (ns-3's first
// data byte is number 1: the SYN takes 0), the original and then its retransmissions.
class DropSequence : public Dropper {
 public:
  DropSequence(std::uint32_t seq, int times) : seq_(seq), times_(times) {}

 private:
  bool DoCorrupt(ns3::Ptr<ns3::Packet> p) override {
    CountCopy(p);
    const auto segment = DataSegment(p);
    if (dropped_ || !segment || segment->second != seq_) return false;
    dropped_ = ++drops_ == times_;
    dropped_segment_ = segment;
    return true;
  }
  std::uint32_t seq_;
  int times_;
  int drops_ = 0;
};

struct Outcome {
  std::uint64_t received = 0;
  double last_byte_s = 0;  // when the receiver had everything
  int timeouts = 0;        // entries into CA_LOSS at the sender
  int probes = 0;          // tail loss probes the sender sent
  int rack_losses = 0;     // recoveries RACK's reordering timer started
  double probe_s = 0;      // when the first went
  std::uint32_t cwnd = 0;  // the sender's congestion window at the end, bytes
  bool dropped = false;
  int resent = 0;       // copies of the dropped segment that arrived after it
  bool traced = false;  // the sender's trace sources were found
};

// Connects A to B over 10 Mbit/s and 10 ms, sends `warmup` bytes (to measure a round trip),
// then at t = 1 s `burst` bytes in one write; from then on, `drop` drops what it was set to
// on the link to B.
Outcome run(bool probing, std::uint32_t burst, ns3::Ptr<Dropper> drop) {
  const auto link = make_two_node_link(10'000'000, std::chrono::milliseconds(10));
  const auto& nodes = link.nodes;
  const auto& devices = link.devices;
  const auto& interfaces = link.interfaces;

  auto make = [&](ns3::Ptr<ns3::Node> node) {
    return probing ? make_tcp_socket(node)
                   : ns3::Socket::CreateSocket(node, ns3::TcpSocketFactory::GetTypeId());
  };
  const std::uint32_t warmup = 3000;
  Outcome out;
  auto listener = make(nodes.Get(1));
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
          if (out.received == warmup + burst) out.last_byte_s = ns3::Simulator::Now().GetSeconds();
        }));
      }));

  auto sender = make(nodes.Get(0));
  out.traced = !probing || sender->TraceConnectWithoutContext(
                               "TailLossProbe", ns3::Callback<void>([&] {
                                 if (out.probes++ == 0)
                                   out.probe_s = ns3::Simulator::Now().GetSeconds();
                               }));
  out.traced &= !probing || sender->TraceConnectWithoutContext(
                                "RackLoss", ns3::Callback<void>([&] { ++out.rack_losses; }));
  out.traced &= sender->TraceConnectWithoutContext(
      "CongestionWindow", ns3::Callback<void, std::uint32_t, std::uint32_t>(
                              [&](std::uint32_t, std::uint32_t now) { out.cwnd = now; }));
  out.traced &= sender->TraceConnectWithoutContext(
      "CongState",
      ns3::Callback<void, ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t>(
          [&](ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t now) {
            if (now == ns3::TcpSocketState::CA_LOSS) ++out.timeouts;
          }));
  // From inside the simulation: the nodes' traffic control is set up when it starts.
  ns3::Simulator::ScheduleNow([&] {
    sender->Bind();
    sender->Connect(ns3::InetSocketAddress(interfaces.GetAddress(1), 9));
  });
  ns3::Simulator::Schedule(ns3::MilliSeconds(100),
                           [&] { sender->Send(ns3::Create<ns3::Packet>(warmup)); });
  ns3::Simulator::Schedule(ns3::Seconds(1), [&] {
    devices.Get(1)->SetAttribute("ReceiveErrorModel", ns3::PointerValue(drop));
    sender->Send(ns3::Create<ns3::Packet>(burst));
  });
  ns3::Simulator::Stop(ns3::Seconds(10));
  ns3::Simulator::Run();
  out.dropped = drop->dropped();
  out.resent = drop->resent();
  close_and_destroy({sender, accepted, listener});
  return out;
}

// Both sockets lost what was chosen and delivered everything; ns-3's own timed out, ours did
// not.
void expect_repaired_without_timeout(const Outcome& plain, const Outcome& ours,
                                     std::uint64_t total) {
  ASSERT_TRUE(plain.traced && ours.traced);
  ASSERT_TRUE(plain.dropped && ours.dropped);
  EXPECT_EQ(plain.received, total);
  EXPECT_EQ(ours.received, total);
  EXPECT_EQ(plain.timeouts, 1);
  EXPECT_EQ(ours.timeouts, 0);
}

// ... and ours sent one probe instead, and its data came no later.
void expect_probe_instead_of_timeout(const Outcome& plain, const Outcome& probing,
                                     std::uint64_t total) {
  expect_repaired_without_timeout(plain, probing, total);
  EXPECT_EQ(probing.probes, 1);
  EXPECT_LE(probing.last_byte_s, plain.last_byte_s);
}

TEST(LinuxTcpSocket, RepairsALostLastSegmentWithoutATimeout) {
  // Three segments; the third is lost: no duplicate ACK can come.
  const auto plain = run(false, 3000, ns3::Create<DropNth>(3, 1000));
  const auto probing = run(true, 3000, ns3::Create<DropNth>(3, 1000));
  expect_probe_instead_of_timeout(plain, probing, 6000);
  // The first two segments' ACK leaves one segment out, so the probe waits as long as an
  // ACK may be delayed and comes just before the RTO would; the window is not cut to one
  // segment.
  EXPECT_GT(probing.probe_s, 1.2);
  EXPECT_GT(probing.cwnd, 4 * plain.cwnd);
}

TEST(LinuxTcpSocket, RepairsALostLoneSmallSegmentWithoutATimeout) {
  // A request-sized write on its own, lost: the flight is that one segment.
  expect_probe_instead_of_timeout(run(false, 40, ns3::Create<DropNth>(1, 40)),
                                  run(true, 40, ns3::Create<DropNth>(1, 40)), 3040);
}

// ... and ours repaired it with a fast retransmission, sooner.
void expect_recovery_instead_of_timeout(const Outcome& plain, const Outcome& rack,
                                        std::uint64_t total) {
  expect_repaired_without_timeout(plain, rack, total);
  EXPECT_LT(rack.last_byte_s, plain.last_byte_s);
}

TEST(LinuxTcpSocket, RepairsALossThatTooFewSegmentsFollowWithoutATimeout) {
  // Three segments, the first lost: two duplicate ACKs, where ns-3 waits for three. RACK's
  // timer calls it lost a quarter of a round trip after the others were acknowledged.
  const auto plain = run(false, 3000, ns3::Create<DropNth>(1, 1000));
  const auto rack = run(true, 3000, ns3::Create<DropNth>(1, 1000));
  expect_recovery_instead_of_timeout(plain, rack, 6000);
  EXPECT_EQ(rack.rack_losses, 1);
  EXPECT_EQ(rack.probes, 0);
  EXPECT_EQ(rack.resent, 1);
}

TEST(LinuxTcpSocket, ResendsALostRetransmissionWithoutATimeout) {
  // Sixty segments (the send buffer holds 64 KiB); the fifth is lost, and so is its fast
  // retransmission. New segments sent after that retransmission are SACKed: in a FIFO path it was
  // lost.
  const std::uint32_t fifth = 3000 + 4 * 1000 + 1;
  const auto plain = run(false, 60000, ns3::Create<DropSequence>(fifth, 2));
  const auto rack = run(true, 60000, ns3::Create<DropSequence>(fifth, 2));
  expect_recovery_instead_of_timeout(plain, rack, 63000);
  EXPECT_EQ(rack.rack_losses, 0);  // three duplicate ACKs started the recovery
  EXPECT_EQ(rack.resent, 1);       // and the third copy arrived: none sent needlessly
}

TEST(LinuxTcpSocket, LeavesALossInTheMiddleToFastRecovery) {
  // Twenty segments, the fifth lost: duplicate ACKs repair it, no timeout, no probe needed.
  const auto probing = run(true, 20000, ns3::Create<DropNth>(5, 1000));
  ASSERT_TRUE(probing.traced);
  ASSERT_TRUE(probing.dropped);
  EXPECT_EQ(probing.received, 23000u);
  EXPECT_EQ(probing.timeouts, 0);
  EXPECT_EQ(probing.probes, 0);
  EXPECT_EQ(probing.rack_losses, 0);  // three duplicate ACKs came before RACK's timer
}

// Two flows share A's 1 Mbit/s uplink and its 50 KB queue: a bulk one whose 30 KB send buffer
// keeps some 240 ms of it filled from t = 0.1 s, and the one under test, which measures its
// round trip behind that standing queue, then at t = 4 s writes `burst` bytes whose first
// segment the link loses. Its duplicate ACKs come a queue later, and so does the ACK of the
// fast retransmission they set off. The bulk flow's segments are half the size, so that
// DropNth picks the tested flow's.
Outcome run_behind_a_full_queue(bool probing, std::uint32_t burst) {
  const auto link = make_two_node_link(1'000'000, std::chrono::milliseconds(10), 50'000);
  const auto& nodes = link.nodes;
  const auto& devices = link.devices;
  const auto& interfaces = link.interfaces;

  const std::uint32_t warmup = 20000;
  Outcome out;
  std::uint64_t bulk_received = 0;
  auto listener = ns3::Socket::CreateSocket(nodes.Get(1), ns3::TcpSocketFactory::GetTypeId());
  listener->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9));
  listener->Listen();
  std::vector<ns3::Ptr<ns3::Socket>> accepted;
  listener->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::Callback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>(
          [&](ns3::Ptr<ns3::Socket> s, const ns3::Address& from) {
            accepted.push_back(s);
            const bool tested = ns3::InetSocketAddress::ConvertFrom(from).GetPort() == 50000;
            s->SetRecvCallback(
                ns3::Callback<void, ns3::Ptr<ns3::Socket>>([&, tested](ns3::Ptr<ns3::Socket> r) {
                  while (auto p = r->Recv())
                    (tested ? out.received : bulk_received) += p->GetSize();
                  if (tested && out.received == warmup + burst)
                    out.last_byte_s = ns3::Simulator::Now().GetSeconds();
                }));
          }));

  auto bulk = ns3::Socket::CreateSocket(nodes.Get(0), ns3::TcpSocketFactory::GetTypeId());
  bulk->SetAttribute("SegmentSize", ns3::UintegerValue(500));
  bulk->SetAttribute("SndBufSize", ns3::UintegerValue(30000));
  auto sender = probing
                    ? make_tcp_socket(nodes.Get(0))
                    : ns3::Socket::CreateSocket(nodes.Get(0), ns3::TcpSocketFactory::GetTypeId());
  out.traced = sender->TraceConnectWithoutContext(
      "CongState",
      ns3::Callback<void, ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t>(
          [&](ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t now) {
            if (now == ns3::TcpSocketState::CA_LOSS) ++out.timeouts;
          }));
  const auto to = ns3::InetSocketAddress(interfaces.GetAddress(1), 9);
  ns3::Simulator::ScheduleNow([&] {
    bulk->Bind();
    bulk->Connect(to);
  });
  ns3::Simulator::Schedule(ns3::Seconds(1), [&] {
    sender->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 50000));
    sender->Connect(to);
  });
  // The bulk flow writes whenever its buffer has room, so the uplink never idles.
  bulk->SetSendCallback(ns3::Callback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>(
      [&](ns3::Ptr<ns3::Socket> s, std::uint32_t room) {
        if (ns3::Simulator::Now() >= ns3::MilliSeconds(100) && room > 0)
          s->Send(ns3::Create<ns3::Packet>(room));
      }));
  ns3::Simulator::Schedule(ns3::MilliSeconds(100),
                           [&] { bulk->Send(ns3::Create<ns3::Packet>(bulk->GetTxAvailable())); });
  // One segment every 100 ms: round trips sampled at the bulk flow's queue, not the tested
  // flow's own.
  for (std::uint32_t i = 0; i < warmup / 1000; ++i) {
    ns3::Simulator::Schedule(ns3::Seconds(2) + i * ns3::MilliSeconds(100),
                             [&] { sender->Send(ns3::Create<ns3::Packet>(1000)); });
  }
  auto drop = ns3::Create<DropNth>(1, 1000);
  ns3::Simulator::Schedule(ns3::Seconds(4), [&] {
    devices.Get(1)->SetAttribute("ReceiveErrorModel", ns3::PointerValue(drop));
    sender->Send(ns3::Create<ns3::Packet>(burst));
  });
  ns3::Simulator::Stop(ns3::Seconds(9));
  ns3::Simulator::Run();
  out.dropped = drop->dropped();
  out.resent = drop->resent();
  for (auto& s : accepted) s->Close();
  close_and_destroy({bulk, sender, listener});
  return out;
}

TEST(LinuxTcpSocket, GivesAFastRetransmissionAFullTimeoutAsLinuxDoes) {
  // ns-3's own socket times out although its retransmission arrives: its timer ran from the
  // burst's first segment, not from the retransmission. Linux's restarts when the oldest
  // segment is sent again.
  const auto plain = run_behind_a_full_queue(false, 5000);
  const auto probing = run_behind_a_full_queue(true, 5000);
  expect_repaired_without_timeout(plain, probing, 25000);
  // Nor is the retransmission taken for lost while it waits in the queue and the SACKs of
  // what was sent before it keep coming: it is sent once.
  EXPECT_EQ(probing.resent, 1);
}

}  // namespace
}  // namespace swarmlab::sim

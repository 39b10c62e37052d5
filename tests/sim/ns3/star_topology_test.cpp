// The star: its router forwards between leaves by destination address (below IP, see
// sim/star_topology.cpp), a downlink that two fast senders feed drops at the router and counts
// it as a downlink drop (before the device's queue overflows, as ns-3's traffic-control layer
// does), and a packet for an address outside the star is let go.
#include "sim/star_topology.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>

#include "sim/ns3_headers.hpp"
#include "sim/tcp_config.hpp"
#include "tests/sim/ns3/two_node_link.hpp"

namespace swarmlab::sim {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kMtu = 1500;
constexpr std::uint32_t kBytes = 600'000;  // per flow

struct Flows {
  std::array<std::uint64_t, 2> received{};
  std::uint64_t stray_sent = 0;  // bytes of the packet sent to an address outside the star
  std::uint64_t up_drops = 0, down_drops = 0;
  // Packets a router device's own queue dropped for want of room, and whether that was traced.
  std::uint64_t router_queue_overflows = 0;
  std::uint64_t router_sent = 0;  // packets the router put on any downlink
  bool router_traced = false;
  std::uint64_t uplink_packets = 0;
};

// With `flows`, leaves 0 and 1 (100 Mbit/s each way) send kBytes each over TCP to leaf 2,
// whose downlink carries 4 Mbit/s; with `stray`, leaf 0 sends one UDP datagram to 10.255.0.1,
// which no leaf has.
Flows run_star(bool flows, bool stray_datagram) {
  ns3::Simulator::Destroy();
  configure_ns3_tcp(kMtu - 52, 100'000'000, 5ms, 1s);
  StarTopology star(kMtu);
  star.add({100'000'000, 100'000'000, 5ms, 0.0});
  star.add({100'000'000, 100'000'000, 5ms, 0.0});
  star.add({100'000'000, 4'000'000, 5ms, 0.0});
  star.build();

  Flows out;
  // The router is the node made after the leaves. Its queues never overflow while the
  // forwarder stops sending into a queue with less than a packet's room: the downlink drops
  // are then the forwarder's, as they were the traffic-control layer's before it.
  out.router_traced = ns3::Config::ConnectWithoutContextFailSafe(
      "/NodeList/" + std::to_string(star.size()) +
          "/DeviceList/*/$ns3::PointToPointNetDevice/TxQueue/Drop",
      ns3::Callback<void, ns3::Ptr<const ns3::Packet>>(
          [&out](ns3::Ptr<const ns3::Packet>) { ++out.router_queue_overflows; }));
  out.router_traced &= ns3::Config::ConnectWithoutContextFailSafe(
      "/NodeList/" + std::to_string(star.size()) +
          "/DeviceList/*/$ns3::PointToPointNetDevice/PhyTxEnd",
      ns3::Callback<void, ns3::Ptr<const ns3::Packet>>(
          [&out](ns3::Ptr<const ns3::Packet>) { ++out.router_sent; }));
  auto listener = ns3::Socket::CreateSocket(star.node(2), ns3::TcpSocketFactory::GetTypeId());
  listener->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9));
  listener->Listen();
  std::array<ns3::Ptr<ns3::Socket>, 2> accepted, senders;
  std::size_t next = 0;
  listener->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::Callback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>(
          [&](ns3::Ptr<ns3::Socket> s, const ns3::Address& from) {
            // Which sender: by its address, the leaf's own.
            const auto peer = ns3::InetSocketAddress::ConvertFrom(from).GetIpv4();
            const std::size_t flow = peer == ns3::Ipv4Address(star.address(0).c_str()) ? 0 : 1;
            accepted[next++ % 2] = s;
            s->SetRecvCallback(
                ns3::Callback<void, ns3::Ptr<ns3::Socket>>([&out, flow](ns3::Ptr<ns3::Socket> r) {
                  while (auto p = r->Recv()) out.received[flow] += p->GetSize();
                }));
          }));
  const ns3::Ipv4Address receiver(star.address(2).c_str());
  std::array<std::uint32_t, 2> unsent{kBytes, kBytes};
  for (std::size_t i = 0; i < 2; ++i) {
    senders[i] = ns3::Socket::CreateSocket(star.node(i), ns3::TcpSocketFactory::GetTypeId());
    // As much as the send buffer takes, whenever it has room: TCP sends as fast as its
    // window lets it.
    senders[i]->SetSendCallback(ns3::Callback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>(
        [&unsent, i](ns3::Ptr<ns3::Socket> s, std::uint32_t room) {
          const auto n = std::min(room, unsent[i]);
          if (n > 0 && s->Send(ns3::Create<ns3::Packet>(n)) == static_cast<int>(n)) unsent[i] -= n;
        }));
  }
  auto stray = ns3::Socket::CreateSocket(star.node(0), ns3::UdpSocketFactory::GetTypeId());
  // From inside the simulation: the nodes' traffic control is set up when it starts.
  ns3::Simulator::ScheduleNow([&] {
    if (flows) {
      for (auto& s : senders) {
        s->Bind();
        s->Connect(ns3::InetSocketAddress(receiver, 9));
      }
    }
    if (!stray_datagram) return;
    stray->Bind();
    const int sent = stray->SendTo(ns3::Create<ns3::Packet>(100), 0,
                                   ns3::InetSocketAddress(ns3::Ipv4Address("10.255.0.1"), 9));
    out.stray_sent = sent > 0 ? static_cast<std::uint64_t>(sent) : 0;
  });
  ns3::Simulator::Stop(ns3::Seconds(20));
  ns3::Simulator::Run();
  out.up_drops = star.uplink_drops().packets;
  out.down_drops = star.downlink_drops().packets;
  out.uplink_packets = star.uplink_packets();
  close_and_destroy({senders[0], senders[1], accepted[0], accepted[1], listener, stray});
  return out;
}

TEST(StarTopology, ForwardsBetweenLeavesAndDropsAtAFullDownlink) {
  const auto out = run_star(true, false);
  EXPECT_EQ(out.received[0], kBytes);
  EXPECT_EQ(out.received[1], kBytes);
  // Two senders at 100 Mbit/s into 4 Mbit/s: slow start overflows the router's queue towards
  // leaf 2 (200 ms at 4 Mbit/s, 100 KB), and TCP repairs what was lost.
  EXPECT_GT(out.down_drops, 0U);
  ASSERT_TRUE(out.router_traced);
  EXPECT_EQ(out.router_queue_overflows, 0U) << "the forwarder, not the queue, drops";
  EXPECT_EQ(out.up_drops, 0U);
}

TEST(StarTopology, APacketForAnAddressOutsideTheStarGoesNowhere) {
  const auto out = run_star(false, true);
  // It crossed leaf 0's uplink, the only packet of the run, and the router let it go:
  // nothing went down any link, and no queue counted a drop.
  EXPECT_EQ(out.stray_sent, 100U);
  EXPECT_EQ(out.uplink_packets, 1U);
  ASSERT_TRUE(out.router_traced);
  EXPECT_EQ(out.router_sent, 0U);
  EXPECT_EQ(out.up_drops + out.down_drops, 0U);
}

}  // namespace
}  // namespace swarmlab::sim

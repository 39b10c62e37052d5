// TcpDemux: segments of open connections go straight to their socket, new connections still
// reach their listener through TcpL4Protocol, and a socket's registration goes with it.
#include "sim/tcp_demux.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>

#include "sim/linux_tcp_socket.hpp"
#include "sim/ns3_headers.hpp"
#include "tests/sim/ns3/two_node_link.hpp"

namespace swarmlab::sim {
namespace {

constexpr std::uint32_t kBytes = 200'000;  // per connection, 200 segments
constexpr std::size_t kConnections = 3;

struct Transfer {
  std::array<std::uint64_t, kConnections> received{};
  std::array<ns3::Ptr<ns3::Socket>, kConnections> clients, accepted;
  ns3::Ptr<ns3::Socket> listener;
};

// Node 0 opens kConnections to node 1's listener (both sides make_tcp_socket's sockets) and
// sends kBytes on each.
void start(const TwoNodeLink& link, Transfer& t) {
  t.listener = make_tcp_socket(link.nodes.Get(1));
  t.listener->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9));
  t.listener->Listen();
  t.listener->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::Callback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>(
          [&t](ns3::Ptr<ns3::Socket> s, const ns3::Address& from) {
            // Which client: by its port, 49153 on for the ones made in order.
            const auto port = ns3::InetSocketAddress::ConvertFrom(from).GetPort();
            const std::size_t i = (port - 49153u) % kConnections;
            t.accepted[i] = s;
            s->SetRecvCallback(
                ns3::Callback<void, ns3::Ptr<ns3::Socket>>([&t, i](ns3::Ptr<ns3::Socket> r) {
                  while (auto p = r->Recv()) t.received[i] += p->GetSize();
                }));
          }));
  for (auto& client : t.clients) {
    client = make_tcp_socket(link.nodes.Get(0));
    client->Bind();
    client->Connect(ns3::InetSocketAddress(link.interfaces.GetAddress(1), 9));
    client->SetConnectCallback(
        ns3::Callback<void, ns3::Ptr<ns3::Socket>>(
            [](ns3::Ptr<ns3::Socket> s) { s->Send(ns3::Create<ns3::Packet>(kBytes)); }),
        ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  }
}

TEST(TcpDemux, OpenConnectionsSkipTcpsSearchAndNewOnesReachTheListener) {
  const auto link = make_two_node_link(100'000'000, std::chrono::milliseconds(5));
  Transfer t;
  start(link, t);
  ns3::Simulator::Stop(ns3::Seconds(5));
  ns3::Simulator::Run();

  for (std::size_t i = 0; i < kConnections; ++i) EXPECT_EQ(t.received[i], kBytes) << i;
  const auto server = TcpDemux::of(link.nodes.Get(1));
  const auto client = TcpDemux::of(link.nodes.Get(0));
  ASSERT_TRUE(server && client);
  // Each side knows the three connections.
  EXPECT_EQ(server->size(), kConnections);
  EXPECT_EQ(client->size(), kConnections);
  // The server gets 200 data segments a connection; only a connection's first segment to
  // each socket (the SYN to the listener, the handshake's ACK to the fork) is TcpL4Protocol's
  // to match.
  EXPECT_GE(server->direct(), kConnections * (kBytes / 1000));
  EXPECT_LE(server->matched_by_tcp(), 2 * kConnections);
  // The client's first segment, the SYN-ACK, is matched by TcpL4Protocol; then its ACKs come
  // straight.
  EXPECT_GT(client->direct(), kConnections * 10);
  EXPECT_EQ(client->matched_by_tcp(), kConnections);

  // A connection that has ended is forgotten; the others are not. The client closes first,
  // and its TIME_WAIT ends it after the server's close.
  t.clients[0]->Close();
  ns3::Simulator::Schedule(ns3::MilliSeconds(100), [&t] { t.accepted[0]->Close(); });
  ns3::Simulator::Stop(ns3::Seconds(10));
  ns3::Simulator::Run();
  EXPECT_EQ(server->size(), kConnections - 1);
  EXPECT_EQ(client->size(), kConnections);  // the timer's close is seen at its next segment
  close_and_destroy({t.listener, t.clients[0], t.clients[1], t.clients[2], t.accepted[0],
                     t.accepted[1], t.accepted[2]});
}

TEST(TcpDemux, ASegmentForAConnectionThatIsGoneIsAnsweredByTcp) {
  // The server aborts a connection (closed with data unread: a reset, and the endpoint freed)
  // as the client sends on it. The client's segment no longer matches the registered
  // socket's endpoint, so it goes to TcpL4Protocol, which finds no endpoint and answers it as
  // it would without the demux.
  const auto link = make_two_node_link(100'000'000, std::chrono::milliseconds(5));
  Transfer t;
  start(link, t);
  ns3::Simulator::Stop(ns3::Seconds(1));
  ns3::Simulator::Run();
  ASSERT_EQ(t.received[0], kBytes);
  const auto server = TcpDemux::of(link.nodes.Get(1));
  const auto by_tcp_before = server->matched_by_tcp();

  t.accepted[0]->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  t.clients[0]->Send(ns3::Create<ns3::Packet>(1000));  // left unread
  ns3::Simulator::Schedule(ns3::MilliSeconds(50), [&t] {
    t.accepted[0]->Close();
    t.clients[0]->Send(ns3::Create<ns3::Packet>(1000));
  });
  ns3::Simulator::Stop(ns3::Seconds(2));
  ns3::Simulator::Run();
  EXPECT_EQ(server->matched_by_tcp(), by_tcp_before + 1);
  // The socket the test still holds no longer names a connection, and is forgotten.
  EXPECT_EQ(server->size(), kConnections - 1);
  close_and_destroy({t.listener, t.clients[0], t.clients[1], t.clients[2], t.accepted[0],
                     t.accepted[1], t.accepted[2]});
}

}  // namespace
}  // namespace swarmlab::sim

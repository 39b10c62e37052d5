// TcpDemux: segments of open connections go straight to their socket, new connections still
// reach their listener through TcpL4Protocol, a socket's registration goes with it, and a run
// is the same packet for packet as with ns-3's own search.
#include "sim/tcp_demux.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <vector>

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

// A socket of node 0 that connects from `port` (0: any) to node 1's port 9 and sends kBytes.
ns3::Ptr<ns3::Socket> connect_and_send(const TwoNodeLink& link, std::uint16_t port = 0) {
  auto client = make_tcp_socket(link.nodes.Get(0));
  client->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), port));
  client->Connect(ns3::InetSocketAddress(link.interfaces.GetAddress(1), 9));
  client->SetConnectCallback(
      ns3::Callback<void, ns3::Ptr<ns3::Socket>>(
          [](ns3::Ptr<ns3::Socket> s) { s->Send(ns3::Create<ns3::Packet>(kBytes)); }),
      ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  return client;
}

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
  for (auto& client : t.clients) client = connect_and_send(link);
}

// Closes the transfer's sockets and ends the simulation.
void finish(const Transfer& t) {
  close_and_destroy({t.listener, t.clients[0], t.clients[1], t.clients[2], t.accepted[0],
                     t.accepted[1], t.accepted[2]});
}

void run_until(double seconds) {
  ns3::Simulator::Stop(ns3::Seconds(seconds));
  ns3::Simulator::Run();
}

TEST(TcpDemux, OpenConnectionsSkipTcpsSearchAndNewOnesReachTheListener) {
  const auto link = make_two_node_link(100'000'000, std::chrono::milliseconds(5));
  Transfer t;
  start(link, t);
  run_until(5);

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
  run_until(10);
  EXPECT_EQ(server->size(), kConnections - 1);
  EXPECT_EQ(client->size(), kConnections);  // the timer's close is seen at its next segment

  // Once nothing holds the client's socket it is gone, and its registration with it. A new
  // connection from the same port is registered afresh and its segments go straight.
  ns3::Address name;
  t.clients[0]->GetSockName(name);
  const auto port = ns3::InetSocketAddress::ConvertFrom(name).GetPort();
  t.clients[0] = nullptr;
  t.accepted[0] = nullptr;
  EXPECT_EQ(client->size(), kConnections - 1);
  t.received[0] = 0;
  t.clients[0] = connect_and_send(link, port);
  const auto direct_before = server->direct();
  run_until(5);
  EXPECT_EQ(t.received[0], kBytes);
  EXPECT_EQ(client->size(), kConnections);
  EXPECT_EQ(server->size(), kConnections);
  EXPECT_GE(server->direct() - direct_before, kBytes / 1000);
  finish(t);
}

// Every 23rd packet into the server is lost: retransmissions, SACK and recoveries.
class EveryNth : public ns3::ErrorModel {
 public:
  explicit EveryNth(int n) : n_(n) {}

 private:
  bool DoCorrupt(ns3::Ptr<ns3::Packet>) override { return ++seen_ % n_ == 0; }
  void DoReset() override {}
  int n_;
  int seen_ = 0;
};

struct Trace {
  // Each packet a device delivered up: when (ns), which device, how long.
  std::vector<std::tuple<std::int64_t, int, std::uint32_t>> delivered;
  std::uint64_t events = 0;
  std::array<std::uint64_t, kConnections> received{};
};

Trace run_lossy(bool direct) {
  const auto link = make_two_node_link(100'000'000, std::chrono::milliseconds(5));
  link.devices.Get(1)->SetAttribute("ReceiveErrorModel",
                                    ns3::PointerValue(ns3::CreateObject<EveryNth>(23)));
  Trace trace;
  for (int d = 0; d < 2; ++d) {
    link.devices.Get(d)->TraceConnectWithoutContext(
        "MacRx", ns3::Callback<void, ns3::Ptr<const ns3::Packet>>(
                     [&trace, d](ns3::Ptr<const ns3::Packet> p) {
                       trace.delivered.emplace_back(ns3::Simulator::Now().GetNanoSeconds(), d,
                                                    p->GetSize());
                     }));
  }
  Transfer t;
  start(link, t);
  for (int n = 0; n < 2; ++n) TcpDemux::of(link.nodes.Get(n))->set_direct(direct);
  run_until(5);
  trace.events = ns3::Simulator::GetEventCount();
  trace.received = t.received;
  EXPECT_EQ(TcpDemux::of(link.nodes.Get(1))->direct() > 0, direct);
  finish(t);
  return trace;
}

TEST(TcpDemux, ARunIsTheSameWithTcpsOwnSearch) {
  // The same lossy transfers, once with segments going straight to their sockets and once
  // all through TcpL4Protocol's walk: every packet at the same time, and as many events.
  const Trace direct = run_lossy(true);
  const Trace by_tcp = run_lossy(false);
  for (std::size_t i = 0; i < kConnections; ++i) EXPECT_EQ(direct.received[i], kBytes) << i;
  EXPECT_GT(direct.delivered.size(), 600u);
  EXPECT_EQ(direct.delivered, by_tcp.delivered);
  EXPECT_EQ(direct.events, by_tcp.events);
  EXPECT_EQ(direct.received, by_tcp.received);
}

TEST(TcpDemux, ASegmentForAConnectionThatIsGoneIsAnsweredByTcp) {
  // The server aborts a connection (closed with data unread: a reset, and the endpoint freed)
  // as the client sends on it. The client's segment no longer matches the registered
  // socket's endpoint, so it goes to TcpL4Protocol, which finds no endpoint and answers it as
  // it would without the demux.
  const auto link = make_two_node_link(100'000'000, std::chrono::milliseconds(5));
  Transfer t;
  start(link, t);
  run_until(1);
  ASSERT_EQ(t.received[0], kBytes);
  const auto server = TcpDemux::of(link.nodes.Get(1));
  const auto by_tcp_before = server->matched_by_tcp();

  t.accepted[0]->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  t.clients[0]->Send(ns3::Create<ns3::Packet>(1000));  // left unread
  ns3::Simulator::Schedule(ns3::MilliSeconds(50), [&t] {
    t.accepted[0]->Close();
    t.clients[0]->Send(ns3::Create<ns3::Packet>(1000));
  });
  run_until(2);
  EXPECT_EQ(server->matched_by_tcp(), by_tcp_before + 1);
  // The socket the test still holds no longer names a connection, and is forgotten.
  EXPECT_EQ(server->size(), kConnections - 1);
  finish(t);
}

}  // namespace
}  // namespace swarmlab::sim

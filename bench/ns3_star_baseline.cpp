// The raw ns-3 cost of a swarm's traffic, with no swarm logic: the star of swarm-sim (same
// access links, same TCP settings), where every leecher receives FILE bytes as SOURCES
// bulk TCP flows from other nodes. bench/sim_scale.py divides swarm-sim's wall time by this
// program's for the same star and bytes: what our layer costs over ns-3.
//
//   ns3-star-baseline PEERS FILE_BYTES PACKET_BYTES [SOURCES] [SEED]
//
// Prints one JSON object: wall_s, simulated_s, bytes, ns3_events, packets_sent (put on the
// uplinks), peak_rss_kib.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/ns3_run_cost.hpp"
#include "sim/event_heap_scheduler.hpp"
#include "sim/ns3_headers.hpp"
#include "sim/star_topology.hpp"
#include "sim/tcp_config.hpp"

namespace {

using swarmlab::sim::AccessLink;
using swarmlab::sim::StarTopology;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 6881;

std::uint64_t g_expected = 0;
std::uint64_t g_received = 0;
double g_last_byte_s = 0;

void on_recv(ns3::Ptr<ns3::Socket> socket) {
  while (auto p = socket->Recv()) g_received += p->GetSize();
  g_last_byte_s = ns3::Simulator::Now().GetSeconds();
  if (g_received >= g_expected) ns3::Simulator::Stop();
}

void on_accept(ns3::Ptr<ns3::Socket> socket, const ns3::Address&) {
  socket->SetRecvCallback(ns3::MakeCallback(&on_recv));
}

// One flow: writes `left` virtual bytes as TCP takes them, then closes.
struct Flow {
  ns3::Ptr<ns3::Socket> socket;
  std::uint64_t left = 0;
  std::uint32_t segment = 1448;
  bool closed = false;
};

void pump(Flow& f) {
  while (f.left > 0) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(f.left, f.segment));
    if (f.socket->GetTxAvailable() < n || f.socket->Send(ns3::Create<ns3::Packet>(n)) < 0) return;
    f.left -= n;
  }
  if (!f.closed) f.socket->Close();
  f.closed = true;
}

std::map<ns3::Socket*, Flow*> g_flows;

void on_send_space(ns3::Ptr<ns3::Socket> socket, std::uint32_t) {
  pump(*g_flows.at(ns3::PeekPointer(socket)));
}

void on_connected(ns3::Ptr<ns3::Socket> socket) {
  pump(*g_flows.at(ns3::PeekPointer(socket)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: ns3-star-baseline PEERS FILE_BYTES PACKET_BYTES [SOURCES] [SEED]\n");
    return 2;
  }
  const auto peers = std::strtoul(argv[1], nullptr, 10);
  const auto file_bytes = std::strtoull(argv[2], nullptr, 10);
  const auto packet = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
  const auto sources = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 4UL;
  const auto seed = argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 1UL;
  const std::size_t seeds = 10;
  if (peers <= seeds || packet < 576 || packet > 64000 || sources == 0 || file_bytes == 0) {
    std::fprintf(stderr, "ns3-star-baseline: need PEERS > 10, PACKET 576-64000, SOURCES >= 1\n");
    return 2;
  }
  const std::uint32_t segment = packet - swarmlab::sim::kTcpIpHeaderBytes;
  // Timed as swarm-sim times its run.json wall_time_s: the star built, run and torn down.
  const auto began = std::chrono::steady_clock::now();
  // The links of bench/sim_scale.py's scenarios.
  StarTopology topo(packet);
  swarmlab::sim::configure_ns3_tcp(segment, 100'000'000, 80ms,
                                   2 * (topo.longest_wait(20'000'000, 20'000'000) + 80ms));
  swarmlab::sim::use_event_heap_scheduler();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> delay_ms(5, 80);
  for (std::size_t i = 0; i < peers; ++i) {
    topo.add(i < seeds
                 ? AccessLink{100'000'000, 100'000'000, 10ms}
                 : AccessLink{20'000'000, 100'000'000, std::chrono::milliseconds(delay_ms(rng))});
  }
  topo.build();

  g_expected = (peers - seeds) * file_bytes;
  std::vector<ns3::Ptr<ns3::Socket>> listeners;
  for (std::size_t i = seeds; i < peers; ++i) {
    auto l = ns3::Socket::CreateSocket(topo.node(i), ns3::TcpSocketFactory::GetTypeId());
    l->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), kPort));
    l->Listen();
    l->SetAcceptCallback(ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
                         ns3::MakeCallback(&on_accept));
    listeners.push_back(l);
  }
  std::vector<Flow> flows;
  flows.reserve((peers - seeds) * sources);
  std::uniform_int_distribution<std::size_t> pick(0, peers - 1);
  for (std::size_t to = seeds; to < peers; ++to) {
    for (std::size_t k = 0; k < sources; ++k) {
      std::size_t from = pick(rng);
      while (from == to) from = pick(rng);
      Flow f;
      f.socket = ns3::Socket::CreateSocket(topo.node(from), ns3::TcpSocketFactory::GetTypeId());
      f.left = file_bytes / sources + (k == 0 ? file_bytes % sources : 0);
      f.segment = segment;
      flows.push_back(f);
    }
  }
  for (std::size_t i = 0; i < flows.size(); ++i) {
    Flow& f = flows[i];
    const std::size_t to = seeds + i / sources;
    g_flows[ns3::PeekPointer(f.socket)] = &f;
    f.socket->Bind();
    f.socket->SetSendCallback(ns3::MakeCallback(&on_send_space));
    f.socket->SetConnectCallback(ns3::MakeCallback(&on_connected),
                                 ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
    f.socket->Connect(ns3::InetSocketAddress(ns3::Ipv4Address(topo.address(to).c_str()), kPort));
  }
  const auto cost = swarmlab::bench::run_to_end(began);
  const double simulated = g_last_byte_s;
  std::printf(
      "{\"wall_s\": %.3f, \"simulated_s\": %.3f, \"bytes\": %llu, \"ns3_events\": %llu, "
      "\"packets_sent\": %llu, \"peak_rss_kib\": %ld}\n",
      cost.wall_s, simulated, static_cast<unsigned long long>(g_received),
      static_cast<unsigned long long>(cost.events),
      static_cast<unsigned long long>(topo.uplink_packets()), cost.peak_rss_kib);
  if (g_received != g_expected) {
    std::fprintf(stderr, "ns3-star-baseline: %llu of %llu bytes arrived\n",
                 static_cast<unsigned long long>(g_received),
                 static_cast<unsigned long long>(g_expected));
    return 1;
  }
  return 0;
}

// ns-3's own cost for exactly the traffic of a swarm-sim run: plays back the run's
// traffic.txt (scenario field record_traffic; sim/traffic_trace.hpp) on the same star, with
// the same TCP sockets and settings, and no swarm logic: each host listens, connects, writes
// its byte counts and closes when the run's host did, and reads and drops what it receives.
// bench/sim_scale.py divides swarm-sim's wall time by this program's: what the swarm's own
// code (core, host adapter, frame channel) adds over ns-3 moving the same packets.
//
//   ns3-star-replay TRAFFIC_FILE
//
// Prints one JSON object: wall_s (the star built, run and torn down, as swarm-sim's
// run.json times it; reading the file is not counted), simulated_s, ns3_events,
// packets_sent (put on the uplinks), queue_drops (packets), accepted (connections the run
// also accepted), unmatched_accepts (ones it did not), bytes_written, bytes_received,
// peak_rss_kib.
//
// What it cannot play back: link events (a trace records the links as built) and ns-3's
// order among events of the same nanosecond. A replay's packets therefore match the run's
// closely, not exactly; the program prints both counts' inputs for the caller to compare.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/event_heap_scheduler.hpp"
#include "sim/linux_tcp_socket.hpp"
#include "sim/ns3_headers.hpp"
#include "sim/star_topology.hpp"
#include "sim/tcp_config.hpp"

namespace {

using swarmlab::Duration;
using swarmlab::sim::AccessLink;
using swarmlab::sim::StarTopology;

struct Action {
  char kind;  // L U C A W X R
  std::int64_t t;
  std::size_t host;
  std::uint64_t conn = 0;
  std::uint64_t a = 0, b = 0, c = 0;  // per kind: port; local port, ip, port; ip, port; bytes
};

struct Trace {
  std::uint32_t segment = 0;
  std::uint64_t fastest = 0, run = 1;
  Duration slowest_delay{}, longest_life{};
  std::vector<AccessLink> links;
  std::vector<Action> actions;
  std::optional<std::int64_t> end;  // when the run stopped
};

std::optional<Trace> load(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open " + path;
    return std::nullopt;
  }
  Trace tr;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::istringstream is(line);
    std::string kind;
    is >> kind;
    bool ok = true;
    if (n == 1) {
      int version = 0;
      ok = kind == "swarmlab-traffic" && (is >> version) && version == 1;
    } else if (kind == "tcp") {
      std::int64_t slowest = 0, life = 0;
      ok = static_cast<bool>(is >> tr.segment >> tr.fastest >> slowest >> life >> tr.run);
      tr.slowest_delay = Duration(slowest);
      tr.longest_life = Duration(life);
    } else if (kind == "link") {
      AccessLink l;
      std::int64_t delay = 0;
      ok = static_cast<bool>(is >> l.up_bps >> l.down_bps >> delay >> l.loss);
      l.delay = Duration(delay);
      tr.links.push_back(l);
    } else if (kind == "E") {
      std::int64_t t = 0;
      ok = static_cast<bool>(is >> t);
      tr.end = t;
    } else if (kind.size() == 1) {
      Action a{kind[0], 0, 0};
      ok = static_cast<bool>(is >> a.t >> a.host);
      switch (a.kind) {
        case 'L':
          ok = ok && (is >> a.a);
          break;
        case 'U':
          break;
        case 'C':
          ok = ok && (is >> a.conn >> a.a >> a.b >> a.c);
          break;
        case 'A':
          ok = ok && (is >> a.conn >> a.a >> a.b);
          break;
        case 'W':
          ok = ok && (is >> a.conn >> a.a);
          break;
        case 'X':
        case 'R':
          ok = ok && (is >> a.conn);
          break;
        default:
          ok = false;
      }
      if (ok && !tr.actions.empty() && a.t < tr.actions.back().t) ok = false;
      tr.actions.push_back(a);
    } else {
      ok = false;
    }
    if (!ok) {
      error = path + ":" + std::to_string(n) + ": not a traffic trace line: " + line;
      return std::nullopt;
    }
  }
  if (tr.segment == 0 || tr.links.empty()) {
    error = path + ": no tcp or link lines";
    return std::nullopt;
  }
  for (const auto& a : tr.actions) {
    if (a.host >= tr.links.size()) {
      error = path + ": host " + std::to_string(a.host) + " has no link";
      return std::nullopt;
    }
  }
  return tr;
}

using Key = std::pair<std::size_t, std::uint64_t>;  // host, the run's connection id

// One end of a connection, as Ns3Host keeps it.
struct End {
  ns3::Ptr<ns3::Socket> socket;
  std::uint64_t unsent = 0, written = 0, tcp_sent = 0;
  std::optional<ns3::SequenceNumber32> tcp_base;
  bool connected = false;
  bool closing = false;  // close once everything is handed to TCP
};

class Replay {
 public:
  Replay(Trace tr, StarTopology& topo) : tr_(std::move(tr)), topo_(topo) {
    for (std::size_t h = 0; h < topo_.size(); ++h) {
      host_of_ip_[ns3::Ipv4Address(topo_.address(h).c_str()).Get()] = h;
    }
    // Which accept answered which connect: the run's client address and port, the latest
    // connect from it before the accept.
    std::map<std::pair<std::uint32_t, std::uint16_t>, Key> connecting;
    for (const auto& a : tr_.actions) {
      if (a.kind == 'C') {
        connecting[{ip_of(a.host), static_cast<std::uint16_t>(a.a)}] = {a.host, a.conn};
      } else if (a.kind == 'A') {
        const auto it =
            connecting.find({static_cast<std::uint32_t>(a.a), static_cast<std::uint16_t>(a.b)});
        if (it != connecting.end()) accepted_by_[it->second] = {a.host, a.conn};
      }
    }
  }

  void start() {
    if (!tr_.actions.empty()) schedule_next();
    // The run stopped at its end, after what its hosts did at that very time.
    if (tr_.end && (tr_.actions.empty() || tr_.actions.back().t < *tr_.end)) {
      ns3::Simulator::Stop(ns3::NanoSeconds(*tr_.end));
    }
  }
  std::uint64_t written() const { return bytes_written_; }
  std::uint64_t received() const { return bytes_received_; }
  double last_s() const { return last_s_; }
  std::uint64_t accepted() const { return accepted_; }
  std::uint64_t unmatched() const { return unmatched_; }

 private:
  std::uint32_t ip_of(std::size_t host) const {
    return ns3::Ipv4Address(topo_.address(host).c_str()).Get();
  }

  void schedule_next() {
    const auto at = ns3::NanoSeconds(tr_.actions[next_].t) - ns3::Simulator::Now();
    ns3::Simulator::Schedule(at, [this] { play(); });
  }

  void play() {
    const auto now = tr_.actions[next_].t;
    while (next_ < tr_.actions.size() && tr_.actions[next_].t == now)
      do_action(tr_.actions[next_++]);
    if (tr_.end && now >= *tr_.end) {
      ns3::Simulator::Stop();
      return;
    }
    if (next_ < tr_.actions.size()) schedule_next();
  }

  void do_action(const Action& a) {
    switch (a.kind) {
      case 'L':
        listen(a.host, static_cast<std::uint16_t>(a.a));
        return;
      case 'U':
        if (auto it = listeners_.find(a.host); it != listeners_.end()) {
          it->second->SetAcceptCallback(
              ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
              ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>());
          it->second->Close();
          listeners_.erase(it);
        }
        return;
      case 'C':
        connect(a);
        return;
      case 'A':
        return;  // played when ns-3 accepts the connect
      case 'W': {
        auto& e = ends_[{a.host, a.conn}];
        e.unsent += a.a;
        bytes_written_ += a.a;
        pump({a.host, a.conn});
        return;
      }
      case 'X':
      case 'R': {
        const Key k{a.host, a.conn};
        auto it = ends_.find(k);
        if (it == ends_.end()) return;
        if (a.kind == 'R') it->second.unsent = 0;
        it->second.closing = true;
        pump(k);
        return;
      }
      default:
        return;
    }
  }

  void listen(std::size_t host, std::uint16_t port) {
    auto l = swarmlab::sim::make_tcp_socket(topo_.node(host));
    l->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), port));
    l->Listen();
    l->SetAcceptCallback(ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
                         ns3::MakeCallback(&Replay::on_accept, this));
    listeners_[host] = l;
  }

  void connect(const Action& a) {
    const Key k{a.host, a.conn};
    auto socket = swarmlab::sim::make_tcp_socket(topo_.node(a.host));
    socket->Bind();
    ns3::Address local;
    socket->GetSockName(local);
    clients_[{ip_of(a.host), ns3::InetSocketAddress::ConvertFrom(local).GetPort()}] = k;
    auto& e = ends_[k];
    e = End{};
    e.socket = socket;
    watch(socket, k);
    socket->SetConnectCallback(ns3::MakeCallback(&Replay::on_connected, this),
                               ns3::MakeCallback(&Replay::on_lost, this));
    socket->Connect(ns3::InetSocketAddress(ns3::Ipv4Address(static_cast<std::uint32_t>(a.b)),
                                           static_cast<std::uint16_t>(a.c)));
  }

  void on_accept(ns3::Ptr<ns3::Socket> socket, const ns3::Address& from) {
    const auto remote = ns3::InetSocketAddress::ConvertFrom(from);
    const auto client = clients_.find({remote.GetIpv4().Get(), remote.GetPort()});
    const auto server =
        client == clients_.end() ? accepted_by_.end() : accepted_by_.find(client->second);
    if (server == accepted_by_.end()) {  // the run's host did not take it either
      ++unmatched_;
      socket->SetRecvCallback(ns3::MakeCallback(&Replay::on_recv, this));
      socket->Close();
      return;
    }
    const Key k = server->second;
    ++accepted_;
    auto& e = ends_[k];  // may hold what the run wrote before this replay's accept
    e.socket = socket;
    e.connected = true;
    watch(socket, k);
    pump(k);
  }

  void on_connected(ns3::Ptr<ns3::Socket> socket) {
    const auto k = by_socket_.find(ns3::PeekPointer(socket));
    if (k == by_socket_.end()) return;
    ends_[k->second].connected = true;
    pump(k->second);
  }

  // The other side closed or reset: close ours too, as Ns3Host does.
  void on_lost(ns3::Ptr<ns3::Socket> socket) {
    const auto k = by_socket_.find(ns3::PeekPointer(socket));
    if (k == by_socket_.end()) return;
    auto it = ends_.find(k->second);
    by_socket_.erase(k);
    if (it == ends_.end() || it->second.socket != socket) return;
    ends_.erase(it);
    socket->Close();
  }

  void on_recv(ns3::Ptr<ns3::Socket> socket) {
    while (auto p = socket->Recv()) {
      bytes_received_ += p->GetSize();
      last_s_ = ns3::Simulator::Now().GetSeconds();
    }
  }

  void on_send_space(ns3::Ptr<ns3::Socket> socket, std::uint32_t) {
    const auto k = by_socket_.find(ns3::PeekPointer(socket));
    if (k != by_socket_.end()) pump(k->second);
  }

  void watch(ns3::Ptr<ns3::Socket> socket, const Key& k) {
    by_socket_[ns3::PeekPointer(socket)] = k;
    socket->SetRecvCallback(ns3::MakeCallback(&Replay::on_recv, this));
    socket->SetSendCallback(ns3::MakeCallback(&Replay::on_send_space, this));
    socket->SetCloseCallbacks(ns3::MakeCallback(&Replay::on_lost, this),
                              ns3::MakeCallback(&Replay::on_lost, this));
    // As Ns3Host: TCP's highest sequence sent, so that writes end where TCP cuts segments.
    socket->TraceConnectWithoutContext(
        "HighestSequence",
        ns3::Callback<void, ns3::SequenceNumber32, ns3::SequenceNumber32>(
            [this, raw = ns3::PeekPointer(socket)](ns3::SequenceNumber32 old_value,
                                                   ns3::SequenceNumber32 new_value) {
              const auto owner = by_socket_.find(raw);
              if (owner == by_socket_.end()) return;
              auto it = ends_.find(owner->second);
              if (it == ends_.end() || ns3::PeekPointer(it->second.socket) != raw) return;
              auto& e = it->second;
              if (e.written == 0) {
                e.tcp_base = new_value;
                return;
              }
              if (!e.tcp_base) e.tcp_base = old_value;
              e.tcp_sent = static_cast<std::uint64_t>(new_value - *e.tcp_base);
            }));
  }

  // Ns3Host::Pump: hands TCP the bytes as room frees up, each write ending where TCP's next
  // segment will end.
  void pump(const Key& k) {
    auto it = ends_.find(k);
    if (it == ends_.end()) return;
    End& e = it->second;
    if (!e.connected || !e.socket) return;
    while (e.unsent > 0) {
      const std::uint64_t queued = e.written - std::min(e.written, e.tcp_sent);
      const auto to_cut = tr_.segment - static_cast<std::uint32_t>(queued % tr_.segment);
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.unsent, to_cut));
      if (e.socket->GetTxAvailable() < n) return;
      if (e.socket->Send(ns3::Create<ns3::Packet>(n)) < 0) return;
      e.unsent -= n;
      e.written += n;
    }
    if (e.closing) {
      auto socket = e.socket;
      by_socket_.erase(ns3::PeekPointer(socket));
      ends_.erase(it);
      // Still read to the end, so the advertised window stays open (sim/tcp_config.cpp).
      socket->SetSendCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>());
      socket->SetCloseCallbacks(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                                ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
      socket->Close();
    }
  }

  Trace tr_;
  StarTopology& topo_;
  std::size_t next_ = 0;
  std::unordered_map<std::uint32_t, std::size_t> host_of_ip_;
  std::map<Key, Key> accepted_by_;                                  // client end -> server end
  std::map<std::pair<std::uint32_t, std::uint16_t>, Key> clients_;  // this replay's ports
  std::map<Key, End> ends_;
  std::unordered_map<ns3::Socket*, Key> by_socket_;
  std::map<std::size_t, ns3::Ptr<ns3::Socket>> listeners_;
  std::uint64_t bytes_written_ = 0, bytes_received_ = 0;
  std::uint64_t accepted_ = 0, unmatched_ = 0;  // accepts the run had, and did not have
  double last_s_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ns3-star-replay TRAFFIC_FILE\n");
    return 2;
  }
  std::string error;
  auto trace = load(argv[1], error);
  if (!trace) {
    std::fprintf(stderr, "ns3-star-replay: %s\n", error.c_str());
    return 1;
  }
  const auto began = std::chrono::steady_clock::now();
  StarTopology topo(trace->segment + 80);
  swarmlab::sim::configure_ns3_tcp(trace->segment, trace->fastest, trace->slowest_delay,
                                   trace->longest_life);
  ns3::RngSeedManager::SetSeed(1);
  ns3::RngSeedManager::SetRun(trace->run);
  swarmlab::sim::use_event_heap_scheduler();
  for (const auto& l : trace->links) topo.add(l);
  topo.build();
  Replay replay(std::move(*trace), topo);
  replay.start();
  ns3::Simulator::Run();
  const auto events = ns3::Simulator::GetEventCount();
  ns3::Simulator::Destroy();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"wall_s\": %.3f, \"simulated_s\": %.3f, \"ns3_events\": %llu, \"packets_sent\": %llu, "
      "\"queue_drops\": %llu, \"accepted\": %llu, \"unmatched_accepts\": %llu, "
      "\"bytes_written\": %llu, \"bytes_received\": %llu, \"peak_rss_kib\": %ld}\n",
      wall, replay.last_s(), static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(topo.uplink_packets()),
      static_cast<unsigned long long>(topo.queue_drops().packets),
      static_cast<unsigned long long>(replay.accepted()),
      static_cast<unsigned long long>(replay.unmatched()),
      static_cast<unsigned long long>(replay.written()),
      static_cast<unsigned long long>(replay.received()), usage.ru_maxrss);
  return 0;
}

// ns-3's own cost for exactly the traffic of a swarm-sim run: plays back the run's
// traffic.txt (scenario field record_traffic; sim/traffic_trace.hpp) on the same star, with
// the same TCP sockets and settings, and no swarm logic: each host listens, connects, writes
// its byte counts and closes when the run's host did, and reads and drops what it receives.
// bench/sim_scale.py divides swarm-sim's wall time by this program's: the wall time of our
// layer (core, host adapter, frame channel) and ns-3 together over ns-3's alone.
//
//   ns3-star-replay TRAFFIC_FILE
//
// Prints one JSON object: wall_s (the star built, run and torn down, as swarm-sim's
// run.json times it; reading the file is not counted), end_s (when the run ended, and so the
// playback), last_byte_s (the last byte received), ns3_events, packets_sent (put on the
// uplinks), queue_drops (packets), accepted (connections the run also accepted),
// unmatched_accepts (ones it did not), bytes_written (handed to TCP), bytes_received,
// peak_rss_kib.
//
// What it cannot play back: link events (a trace records the links as built) and ns-3's
// order among events of the same nanosecond. A playback's packets therefore match the run's
// closely, not exactly.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/ns3_run_cost.hpp"
#include "sim/linux_tcp_socket.hpp"
#include "sim/ns3_headers.hpp"
#include "sim/star_topology.hpp"
#include "sim/tcp_config.hpp"
#include "sim/tcp_stream_writer.hpp"

namespace {

using swarmlab::Duration;
using swarmlab::sim::AccessLink;
using swarmlab::sim::StarTopology;
using swarmlab::sim::TcpStreamWriter;

constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxIp = 0xffffffff;
// A simulated time or size beyond this is no run's (about 292 years, 8 EiB).
constexpr std::uint64_t kMaxCount = std::numeric_limits<std::int64_t>::max();

struct Action {
  char kind = 0;  // L U C A W X R (sim/traffic_trace.hpp)
  std::int64_t t = 0;
  std::size_t host = 0;
  std::uint64_t conn = 0;
  std::uint16_t port = 0;        // L: listening; C: the peer's; A: the peer's
  std::uint16_t local_port = 0;  // C: the run's own ephemeral port
  std::uint32_t ip = 0;          // C: the peer's; A: the peer's
  std::uint64_t bytes = 0;       // W
};

struct Trace {
  std::uint32_t segment = 0;
  std::uint64_t fastest = 0, run = 1;
  Duration slowest_delay{}, longest_life{};
  std::vector<AccessLink> links;
  std::vector<Action> actions;
  std::int64_t end = 0;  // when the run stopped
};

// The whitespace-separated fields of one line, each read whole or not at all.
class Fields {
 public:
  explicit Fields(const std::string& line) : in_(line) {}
  std::string word() {
    std::string w;
    in_ >> w;
    return w;
  }
  template <typename T>
  bool number(T& out, std::uint64_t most) {
    const auto w = word();
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (w.empty() || ec != std::errc{} || end != w.data() + w.size() || v > most) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool real(double& out) {
    const auto w = word();
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), out);
    return !w.empty() && ec == std::errc{} && end == w.data() + w.size();
  }
  bool done() { return word().empty(); }

 private:
  std::istringstream in_;
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
  bool tcp = false, ended = false;
  auto fail = [&](const std::string& why) {
    error = path + ":" + std::to_string(n) + ": " + why + ": " + line;
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++n;
    Fields f(line);
    const auto kind = f.word();
    if (ended) return fail("nothing may follow the end line");
    bool ok = true;
    if (n == 1) {
      int version = 0;
      ok = kind == "swarmlab-traffic" && f.number(version, 1) && version == 1;
    } else if (kind == "tcp") {
      std::int64_t slowest = 0, life = 0;
      ok = !tcp && f.number(tr.segment, 65535) && tr.segment > 0 &&
           f.number(tr.fastest, kMaxCount) && tr.fastest > 0 && f.number(slowest, kMaxCount) &&
           f.number(life, kMaxCount) && f.number(tr.run, kMaxCount);
      tr.slowest_delay = Duration(slowest);
      tr.longest_life = Duration(life);
      tcp = true;
    } else if (kind == "link") {
      AccessLink l;
      std::int64_t delay = 0;
      ok = f.number(l.up_bps, kMaxCount) && l.up_bps > 0 && f.number(l.down_bps, kMaxCount) &&
           l.down_bps > 0 && f.number(delay, kMaxCount) && f.real(l.loss) && l.loss >= 0 &&
           l.loss <= 1;
      l.delay = Duration(delay);
      tr.links.push_back(l);
    } else if (kind == "E") {
      ok = f.number(tr.end, kMaxCount);
      if (ok && !tr.actions.empty() && tr.end < tr.actions.back().t) {
        return fail("the run cannot end before its last action");
      }
      ended = true;
    } else if (kind.size() == 1) {
      Action a;
      a.kind = kind[0];
      ok = f.number(a.t, kMaxCount) && f.number(a.host, kMaxCount);
      switch (a.kind) {
        case 'L':
          ok = ok && f.number(a.port, kMaxPort);
          break;
        case 'U':
          break;
        case 'C':
          ok = ok && f.number(a.conn, UINT64_MAX) && f.number(a.local_port, kMaxPort) &&
               f.number(a.ip, kMaxIp) && f.number(a.port, kMaxPort);
          break;
        case 'A':
          ok = ok && f.number(a.conn, UINT64_MAX) && f.number(a.ip, kMaxIp) &&
               f.number(a.port, kMaxPort);
          break;
        case 'W':
          ok = ok && f.number(a.conn, UINT64_MAX) && f.number(a.bytes, kMaxCount);
          break;
        case 'X':
        case 'R':
          ok = ok && f.number(a.conn, UINT64_MAX);
          break;
        default:
          ok = false;
      }
      if (ok && !tr.actions.empty() && a.t < tr.actions.back().t) {
        return fail("time goes back");
      }
      tr.actions.push_back(a);
    } else {
      ok = false;
    }
    if (!ok || !f.done()) return fail("not a traffic trace line");
  }
  if (n == 0) {
    error = path + ": empty";
    return std::nullopt;
  }
  if (!tcp || tr.links.empty()) {
    error = path + ": no tcp or link lines";
    return std::nullopt;
  }
  if (!ended) {
    error = path + ": no end line (the run did not finish writing it)";
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
  TcpStreamWriter stream;
  bool connected = false;
  bool closing = false;  // close once everything is handed to TCP
};

class Replay {
 public:
  Replay(Trace tr, StarTopology& topo) : tr_(std::move(tr)), topo_(topo) {
    for (std::size_t h = 0; h < topo_.size(); ++h) host_of_ip_[ip_of(h)] = h;
    // Which accept answered which connect: the run's client address and port, the latest
    // connect from it before the accept.
    std::map<std::pair<std::uint32_t, std::uint16_t>, Key> connecting;
    for (const auto& a : tr_.actions) {
      if (a.kind == 'C') {
        connecting[{ip_of(a.host), a.local_port}] = {a.host, a.conn};
      } else if (a.kind == 'A') {
        const auto it = connecting.find({a.ip, a.port});
        if (it != connecting.end()) accepted_by_[it->second] = {a.host, a.conn};
      }
    }
  }

  /// A connect to an address outside the star, if any: such a trace is not this star's.
  std::optional<std::string> foreign_address() const {
    for (const auto& a : tr_.actions) {
      if (a.kind == 'C' && !host_of_ip_.contains(a.ip)) return to_text(a.ip);
    }
    return std::nullopt;
  }

  void start() {
    if (!tr_.actions.empty()) schedule_next();
    // The run stopped at its end, after what its hosts did at that very time.
    if (tr_.actions.empty() || tr_.actions.back().t < tr_.end) {
      ns3::Simulator::Stop(ns3::NanoSeconds(tr_.end));
    }
  }
  std::uint64_t written() const { return bytes_written_; }
  std::uint64_t received() const { return bytes_received_; }
  double last_byte_s() const { return last_byte_s_; }
  double end_s() const { return static_cast<double>(tr_.end) / 1e9; }
  std::uint64_t accepted() const { return accepted_; }
  std::uint64_t unmatched() const { return unmatched_; }

 private:
  static std::string to_text(std::uint32_t ip) {
    std::ostringstream os;
    ns3::Ipv4Address(ip).Print(os);
    return os.str();
  }
  std::uint32_t ip_of(std::size_t host) const {
    return ns3::Ipv4Address(topo_.address(host).c_str()).Get();
  }

  void schedule_next() {
    const auto at = ns3::NanoSeconds(tr_.actions[next_].t) - ns3::Simulator::Now();
    ns3::Simulator::Schedule(at, [this] { play(); });
  }

  void play() {
    const auto now = tr_.actions[next_].t;
    while (next_ < tr_.actions.size() && tr_.actions[next_].t == now) {
      do_action(tr_.actions[next_++]);
    }
    if (now >= tr_.end) {
      ns3::Simulator::Stop();
      return;
    }
    if (next_ < tr_.actions.size()) schedule_next();
  }

  void do_action(const Action& a) {
    switch (a.kind) {
      case 'L':
        return listen(a.host, a.port);
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
        return connect(a);
      case 'A':
        return;  // played when ns-3 accepts the connect
      case 'W': {
        const Key k{a.host, a.conn};
        ends_[k].stream.add(a.bytes);  // an end not accepted here yet keeps it until it is
        return pump(k);
      }
      case 'X':
      case 'R': {
        const Key k{a.host, a.conn};
        auto it = ends_.find(k);
        if (it == ends_.end()) return;
        End& e = it->second;
        if (a.kind == 'R') e.stream.drop_unsent();
        e.closing = true;
        // A reset of a connection still connecting goes at once, as in the run's host.
        if (a.kind == 'R' && e.socket && !e.connected) return forget(k, /*close=*/true);
        return pump(k);
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
    if (auto old = ends_.find(k); old != ends_.end() && old->second.socket) {
      forget(k, /*close=*/true);  // a restarted host's id again: the old one is gone there too
    }
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
                               ns3::MakeCallback(&Replay::on_error_close, this));
    socket->Connect(ns3::InetSocketAddress(ns3::Ipv4Address(a.ip), a.port));
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
    auto& e = ends_[k];  // may hold what the run wrote before this playback's accept
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

  // The other side finished: finish ours, as Ns3Host does.
  void on_normal_close(ns3::Ptr<ns3::Socket> socket) {
    const auto k = by_socket_.find(ns3::PeekPointer(socket));
    if (k != by_socket_.end()) forget(k->second, /*close=*/true);
  }

  // A reset, or a connect that failed: nothing left to close.
  void on_error_close(ns3::Ptr<ns3::Socket> socket) {
    const auto k = by_socket_.find(ns3::PeekPointer(socket));
    if (k != by_socket_.end()) forget(k->second, /*close=*/false);
  }

  void on_recv(ns3::Ptr<ns3::Socket> socket) {
    while (auto p = socket->Recv()) {
      bytes_received_ += p->GetSize();
      last_byte_s_ = ns3::Simulator::Now().GetSeconds();
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
    socket->SetCloseCallbacks(ns3::MakeCallback(&Replay::on_normal_close, this),
                              ns3::MakeCallback(&Replay::on_error_close, this));
    socket->TraceConnectWithoutContext(
        "HighestSequence",
        ns3::Callback<void, ns3::SequenceNumber32, ns3::SequenceNumber32>(
            [this, raw = ns3::PeekPointer(socket)](ns3::SequenceNumber32 old_value,
                                                   ns3::SequenceNumber32 new_value) {
              const auto owner = by_socket_.find(raw);
              if (owner == by_socket_.end()) return;
              auto it = ends_.find(owner->second);
              if (it == ends_.end() || ns3::PeekPointer(it->second.socket) != raw) return;
              it->second.stream.on_highest_sequence(old_value, new_value);
            }));
  }

  void pump(const Key& k) {
    auto it = ends_.find(k);
    if (it == ends_.end()) return;
    End& e = it->second;
    if (!e.connected || !e.socket) return;
    const auto before = e.stream.written();
    const bool all = e.stream.pump(*e.socket, tr_.segment);
    bytes_written_ += e.stream.written() - before;
    if (all && e.closing) forget(k, /*close=*/true);
  }

  // As Ns3Host::Release: the socket is forgotten, still read to the end (so its advertised
  // window stays open), and kept alive until the current event ends, since ns-3 may be in
  // one of its callbacks.
  void forget(const Key& k, bool close) {
    auto it = ends_.find(k);
    if (it == ends_.end()) return;
    auto socket = it->second.socket;
    ends_.erase(it);
    if (!socket) return;
    by_socket_.erase(ns3::PeekPointer(socket));
    socket->SetSendCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>());
    socket->SetCloseCallbacks(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                              ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
    socket->SetConnectCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                               ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
    ns3::Simulator::ScheduleNow([socket] {});
    if (close) socket->Close();
  }

  Trace tr_;
  StarTopology& topo_;
  std::size_t next_ = 0;
  std::unordered_map<std::uint32_t, std::size_t> host_of_ip_;
  std::map<Key, Key> accepted_by_;                                  // client end -> server end
  std::map<std::pair<std::uint32_t, std::uint16_t>, Key> clients_;  // this playback's ports
  std::map<Key, End> ends_;
  std::unordered_map<ns3::Socket*, Key> by_socket_;
  std::map<std::size_t, ns3::Ptr<ns3::Socket>> listeners_;
  std::uint64_t bytes_written_ = 0, bytes_received_ = 0;
  std::uint64_t accepted_ = 0, unmatched_ = 0;  // accepts the run had, and did not have
  double last_byte_s_ = 0;
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
  StarTopology topo(trace->segment + swarmlab::sim::kTcpIpHeaderBytes);
  swarmlab::sim::configure_ns3_run(trace->segment, trace->fastest, trace->slowest_delay,
                                   trace->longest_life, trace->run);
  for (const auto& l : trace->links) topo.add(l);
  topo.build();
  Replay replay(std::move(*trace), topo);
  if (const auto foreign = replay.foreign_address()) {
    std::fprintf(stderr, "ns3-star-replay: %s: a connect to %s, which no host of the star has\n",
                 argv[1], foreign->c_str());
    ns3::Simulator::Destroy();
    return 1;
  }
  replay.start();
  const auto cost = swarmlab::bench::run_to_end(began);
  std::printf(
      "{\"wall_s\": %.3f, \"end_s\": %.9f, \"last_byte_s\": %.9f, \"ns3_events\": %llu, "
      "\"packets_sent\": %llu, \"queue_drops\": %llu, \"accepted\": %llu, "
      "\"unmatched_accepts\": %llu, \"bytes_written\": %llu, \"bytes_received\": %llu, "
      "\"peak_rss_kib\": %ld}\n",
      cost.wall_s, replay.end_s(), replay.last_byte_s(),
      static_cast<unsigned long long>(cost.events),
      static_cast<unsigned long long>(topo.uplink_packets()),
      static_cast<unsigned long long>(topo.queue_drops().packets),
      static_cast<unsigned long long>(replay.accepted()),
      static_cast<unsigned long long>(replay.unmatched()),
      static_cast<unsigned long long>(replay.written()),
      static_cast<unsigned long long>(replay.received()), cost.peak_rss_kib);
  return 0;
}

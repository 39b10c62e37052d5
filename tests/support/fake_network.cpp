#include "support/fake_network.hpp"

#include <algorithm>
#include <stdexcept>

namespace swarmlab::testing {

// Side 0 opened the connection, side 1 accepted it.
struct FakeNet::Conn {
  HostId host[2]{};
  ConnId id[2]{};
  bool open[2]{true, true};
  bool accepted = false;
  Time last_arrival[2]{};
  int side_of(HostId h, ConnId c) const { return host[0] == h && id[0] == c ? 0 : 1; }
};

FakeNet::FakeNet(std::uint64_t seed) : rng_(seed) {
}
FakeNet::~FakeNet() = default;

HostId FakeNet::add_host(const std::string& name, Endpoint address, LinkSpec link,
                         std::unique_ptr<Node> node) {
  Host h;
  h.name = name;
  h.address = std::move(address);
  h.link = link;
  h.node = std::move(node);
  hosts_.push_back(std::move(h));
  return hosts_.size() - 1;
}

void FakeNet::start(HostId h) {
  auto& host = hosts_.at(h);
  host.up = true;
  deliver(h, host.epoch, [&](Node& n) { n.on_start(now_); });
}

void FakeNet::crash(HostId h, bool silent) {
  auto& host = hosts_.at(h);
  if (!host.up) return;
  host.up = false;
  ++host.epoch;
  host.node.reset();
  host.wake_at.reset();
  ++host.wake_generation;
  host.store.forget_open_files();
  const auto conns = host.conns;
  host.conns.clear();
  for (const auto& [id, index] : conns) {
    auto& c = *conns_[index];
    const int side = c.side_of(h, id);
    c.open[side] = false;
    if (!silent) close_remote(index, side, CloseReason::Reset);
  }
}

void FakeNet::restart(HostId h, std::unique_ptr<Node> node) {
  auto& host = hosts_.at(h);
  if (host.up) crash(h);
  host.node = std::move(node);
  start(h);
}

void FakeNet::set_link(HostId h, LinkSpec link) {
  hosts_.at(h).link = link;
}
bool FakeNet::is_up(HostId h) const {
  return hosts_.at(h).up;
}

void FakeNet::command(HostId h, const std::function<void(Node&, Time)>& fn) {
  auto& host = hosts_.at(h);
  if (!host.up) throw std::logic_error("command on a host that is down: " + host.name);
  deliver(h, host.epoch, [&](Node& n) { fn(n, now_); });
}

void FakeNet::schedule(Time at, std::function<void()> action) {
  queue_.push(Pending{std::max(at, now_), seq_++, std::move(action)});
}

bool FakeNet::step() {
  if (queue_.empty()) return false;
  Pending p = queue_.top();
  queue_.pop();
  now_ = p.at;
  p.action();
  return true;
}

bool FakeNet::run_until(const std::function<bool()>& done, std::size_t max_steps) {
  for (std::size_t i = 0; i < max_steps; ++i) {
    if (done()) return true;
    if (!step()) return done();
  }
  return done();
}

void FakeNet::run_for(Duration d) {
  const Time end = now_ + d;
  while (!queue_.empty() && queue_.top().at <= end) step();
  now_ = end;
}

void FakeNet::deliver(HostId h, std::uint64_t epoch, const std::function<void(Node&)>& input) {
  auto& host = hosts_.at(h);
  if (!host.up || host.epoch != epoch || !host.node) return;
  input(*host.node);
  drain(h);
}

void FakeNet::drain(HostId h) {
  while (hosts_[h].node) {
    auto e = hosts_[h].node->poll_effect();
    if (!e) break;
    handle(h, std::move(*e));
  }
  rearm(h);
}

void FakeNet::rearm(HostId h) {
  auto& host = hosts_[h];
  if (!host.node) return;
  const auto deadline = host.node->next_deadline();
  if (deadline == host.wake_at) return;
  host.wake_at = deadline;
  const auto gen = ++host.wake_generation;
  if (!deadline) return;
  schedule(*deadline, [this, h, epoch = host.epoch, gen] {
    if (hosts_[h].wake_generation != gen) return;
    hosts_[h].wake_at.reset();
    deliver(h, epoch, [&](Node& n) { n.on_deadline(now_); });
  });
}

Duration FakeNet::transfer_time(double bps, std::size_t bytes) const {
  return from_seconds(static_cast<double>(bytes) * 8.0 / bps);
}

void FakeNet::handle(HostId h, Effect e) {
  auto& host = hosts_[h];
  const auto epoch = host.epoch;
  auto store_done = [&](StoreOpId op, StoreResult r, Duration extra) {
    schedule(now_ + store_latency + extra, [this, h, epoch, op, r = std::move(r)]() mutable {
      deliver(h, epoch, [&](Node& n) { n.on_store_done(now_, op, std::move(r)); });
    });
  };
  std::visit(
      [&](auto&& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Connect>) {
          on_connect(h, x);
        } else if constexpr (std::is_same_v<T, Send>) {
          on_send(h, std::move(x));
        } else if constexpr (std::is_same_v<T, Close>) {
          on_close(h, x.conn, x.reset);
        } else if constexpr (std::is_same_v<T, Record>) {
          ++record_counts_[x.event.type];
          records_.push_back(std::move(x.event));
        } else if constexpr (std::is_same_v<T, Notify>) {
          host.notices.push_back(std::move(x.notice));
        } else {
          const Duration extra = std::is_same_v<T, StoreWrite> ? write_latency : Duration::zero();
          store_done(x.op, host.store.execute(x), extra);
        }
      },
      std::move(e));
}

void FakeNet::on_connect(HostId h, const Connect& c) {
  const auto epoch = hosts_[h].epoch;
  HostId target = hosts_.size();
  for (HostId i = 0; i < hosts_.size(); ++i) {
    if (i != h && hosts_[i].up && hosts_[i].address == c.to) target = i;
  }
  const Duration rtt_half = hosts_[h].link.delay +
                            (target < hosts_.size() ? hosts_[target].link.delay : Duration::zero());
  if (target == hosts_.size()) {
    schedule(now_ + 2 * rtt_half, [this, h, epoch, id = c.conn] {
      deliver(h, epoch, [&](Node& n) { n.on_closed(now_, id, CloseReason::ConnectFailed); });
    });
    return;
  }
  auto conn = std::make_unique<Conn>();
  conn->host[0] = h;
  conn->id[0] = c.conn;
  conn->host[1] = target;
  const std::size_t index = conns_.size();
  conns_.push_back(std::move(conn));
  hosts_[h].conns[c.conn] = index;
  const auto target_epoch = hosts_[target].epoch;
  schedule(now_ + rtt_half, [this, index, target, target_epoch, rtt_half] {
    auto& cn = *conns_[index];
    const HostId a = cn.host[0];
    if (!cn.open[0]) return;
    if (!hosts_[target].up || hosts_[target].epoch != target_epoch) {
      cn.open[0] = false;
      hosts_[a].conns.erase(cn.id[0]);
      const auto a_epoch = hosts_[a].epoch;
      schedule(now_ + rtt_half, [this, a, a_epoch, id = cn.id[0]] {
        deliver(a, a_epoch, [&](Node& n) { n.on_closed(now_, id, CloseReason::ConnectFailed); });
      });
      return;
    }
    cn.accepted = true;
    cn.id[1] = hosts_[target].next_accepted++;
    hosts_[target].conns[cn.id[1]] = index;
    const Endpoint remote{hosts_[a].address.host, next_ephemeral_port_++};
    deliver(target, target_epoch, [&](Node& n) { n.on_accepted(now_, cn.id[1], remote); });
    const auto a_epoch = hosts_[a].epoch;
    schedule(now_ + rtt_half, [this, index, a, a_epoch] {
      auto& c2 = *conns_[index];
      if (!c2.open[0]) return;
      deliver(a, a_epoch, [&](Node& n) { n.on_connected(now_, c2.id[0]); });
    });
  });
}

void FakeNet::on_send(HostId h, Send s) {
  if (on_frame) on_frame(h, s.conn, s.frame);
  transmit(h, s.conn, encode_frame_bytes(s.frame));
  if (!s.report_sent) return;
  // Sent once its last byte has crossed the uplink (or at once if it went nowhere).
  const auto epoch = hosts_[h].epoch;
  schedule(std::max(now_, hosts_[h].up_free), [this, h, epoch, conn = s.conn] {
    deliver(h, epoch, [&](Node& node) { node.on_sent(now_, conn); });
  });
}

void FakeNet::send_raw(HostId h, ConnId conn, std::vector<std::uint8_t> bytes) {
  transmit(h, conn, std::move(bytes));
}

void FakeNet::transmit(HostId h, ConnId id, std::vector<std::uint8_t> bytes) {
  const auto it = hosts_[h].conns.find(id);
  if (it == hosts_[h].conns.end()) return;  // already closed: the data is lost, as on a socket
  const std::size_t index = it->second;
  auto& c = *conns_[index];
  const int side = c.side_of(h, id);
  const int other = 1 - side;
  if (!c.open[side] || !c.open[other] || !c.accepted) return;
  auto& from = hosts_[h];
  bytes_sent_ += bytes.size();
  // Store and forward at the core router: the frame crosses the sender's uplink (frames in
  // order), then, once whole at the core, the receiver's downlink, shared in arrival order
  // with everything else sent to that host. Reserving the downlink only when the frame gets
  // there keeps a slow sender from blocking a fast one.
  const Time up_start = std::max(now_, from.up_free);
  from.up_free = up_start + transfer_time(from.link.up_bps, bytes.size());
  schedule(from.up_free + from.link.delay,
           [this, index, other, bytes = std::move(bytes)]() mutable {
             auto& cn = *conns_[index];
             if (!cn.open[other]) return;
             auto& to = hosts_[cn.host[other]];
             const Time down_start = std::max(now_, to.down_free);
             to.down_free = down_start + transfer_time(to.link.down_bps, bytes.size());
             const Time arrive = std::max(to.down_free + to.link.delay, cn.last_arrival[other]);
             cn.last_arrival[other] = arrive;
             schedule(arrive, [this, index, other, bytes = std::move(bytes)]() mutable {
               feed(index, static_cast<HostId>(other), std::move(bytes));
             });
           });
}

void FakeNet::feed(std::size_t index, HostId side_index, std::vector<std::uint8_t> bytes) {
  auto& c = *conns_[index];
  const int side = static_cast<int>(side_index);
  const HostId h = c.host[side];
  if (!c.open[side] || !hosts_[h].up) return;
  const auto epoch = hosts_[h].epoch;
  // Cut the bytes at random points: the node must not care how the stream is split.
  std::size_t pos = 0;
  while (pos < bytes.size() && c.open[side]) {
    const std::size_t left = bytes.size() - pos;
    const std::size_t n =
        (rng_() % 4 == 0) ? left : std::min<std::size_t>(left, 1 + rng_() % (left / 2 + 1));
    const std::span piece(bytes.data() + pos, n);
    pos += n;
    deliver(h, epoch, [&](Node& node) { node.on_bytes(now_, c.id[side], piece); });
  }
}

void FakeNet::on_close(HostId h, ConnId id, bool reset) {
  const auto it = hosts_[h].conns.find(id);
  if (it == hosts_[h].conns.end()) return;
  const std::size_t index = it->second;
  hosts_[h].conns.erase(it);
  auto& c = *conns_[index];
  const int side = c.side_of(h, id);
  c.open[side] = false;
  close_remote(index, side, reset ? CloseReason::Reset : CloseReason::Normal);
}

void FakeNet::close_remote(std::size_t index, int closer_side, CloseReason reason) {
  auto& c = *conns_[index];
  const int other = 1 - closer_side;
  if (!c.open[other]) return;
  if (!c.accepted && other == 1) return;  // the acceptor never heard of it
  // The close travels behind whatever the closer already sent on this connection.
  const auto& closer = hosts_[c.host[closer_side]];
  const Time at_core = std::max(now_, closer.up_free) + closer.link.delay;
  schedule(at_core, [this, index, other, reason] {
    auto& cn = *conns_[index];
    const HostId o = cn.host[other];
    const auto epoch = hosts_[o].epoch;
    const Time at = std::max(now_ + hosts_[o].link.delay, cn.last_arrival[other]);
    cn.last_arrival[other] = at;
    schedule(at, [this, index, other, o, epoch, reason] {
      auto& c2 = *conns_[index];
      if (!c2.open[other]) return;
      c2.open[other] = false;
      hosts_[o].conns.erase(c2.id[other]);
      deliver(o, epoch, [&](Node& n) { n.on_closed(now_, c2.id[other], reason); });
    });
  });
}

std::vector<Event> FakeNet::records_of(std::string_view type) const {
  std::vector<Event> out;
  for (const auto& e : records_) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

std::size_t FakeNet::count_records(const std::string& type) const {
  const auto it = record_counts_.find(type);
  return it == record_counts_.end() ? 0 : it->second;
}

std::string FakeNet::records_jsonl() const {
  std::string out;
  for (const auto& e : records_) {
    out += e.to_json().dump();
    out += '\n';
  }
  return out;
}

std::size_t FakeNet::open_connections() const {
  std::size_t n = 0;
  for (const auto& h : hosts_) n += h.conns.size();
  return n;
}

}  // namespace swarmlab::testing

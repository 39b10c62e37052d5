#pragma once
// The in-memory network and clock that core tests stand on (after quinn-proto's `Pair` and
// ngtcp2's examples/sim): hosts with access links (rate up/down, one-way delay), TCP-like
// ordered connections, timers, an in-memory chunk store, and a single event queue in virtual
// time. Deterministic for a seed; an hour of virtual time costs no wall time.
//
// Every frame crosses the fake wire as bytes and reaches the node in randomly sized pieces,
// so the node's framing is exercised by every test.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "support/fake_store.hpp"
#include "swarmlab/node.hpp"

namespace swarmlab::testing {

struct LinkSpec {
  double up_bps = 100e6;
  double down_bps = 100e6;
  Duration delay = 1ms;  // one way, host to the core of the network
};

using HostId = std::size_t;

class FakeNet {
 public:
  explicit FakeNet(std::uint64_t seed = 1);
  ~FakeNet();

  HostId add_host(const std::string& name, Endpoint address, LinkSpec link,
                  std::unique_ptr<Node> node);
  /// Delivers on_start to the host's node now.
  void start(HostId h);
  /// Abrupt crash. With `silent`, peers see nothing (a machine that vanished); otherwise
  /// their connections are reset after one link delay (a process that died).
  void crash(HostId h, bool silent = false);
  /// A new process at the same address, with the same disk.
  void restart(HostId h, std::unique_ptr<Node> node);
  void set_link(HostId h, LinkSpec link);
  bool is_up(HostId h) const;

  template <typename T>
  T& node(HostId h) {
    return dynamic_cast<T&>(*hosts_.at(h).node);
  }
  FakeStore& store(HostId h) { return hosts_.at(h).store; }
  const Endpoint& address(HostId h) const { return hosts_.at(h).address; }

  /// Runs a command input (publish, download, ...) on a node now, then drains its effects.
  void command(HostId h, const std::function<void(Node&, Time)>& fn);
  template <typename T>
  void command(HostId h, const std::function<void(T&, Time)>& fn) {
    command(h, [&](Node& n, Time t) { fn(dynamic_cast<T&>(n), t); });
  }

  /// Writes raw bytes on a connection of host h, as a misbehaving program would.
  void send_raw(HostId h, ConnId conn, std::vector<std::uint8_t> bytes);

  /// Processes the earliest pending event; false when nothing is pending.
  bool step();
  /// Steps until `done()` holds (true) or `max_steps` events pass or the queue empties (false).
  bool run_until(const std::function<bool()>& done, std::size_t max_steps = 10'000'000);
  /// Steps through every event up to now + d, then sets the clock to now + d.
  void run_for(Duration d);

  Time now() const { return now_; }
  /// Every metrics record of every node, in the order they were made.
  const std::vector<Event>& records() const { return records_; }
  std::vector<Event> records_of(std::string_view type) const;
  /// How many records of `type` were made (constant time: safe in run_until predicates).
  std::size_t count_records(const std::string& type) const;
  /// Notices a node addressed to its user.
  const std::vector<Notice>& notices(HostId h) const { return hosts_.at(h).notices; }
  /// The log as JSON Lines, for determinism checks.
  std::string records_jsonl() const;
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  /// Called with every frame a node hands to the network, as it does (what a test inspects).
  std::function<void(HostId, ConnId, const RawFrame&)> on_frame;
  std::size_t open_connections() const;

  /// Latency of store operations (0 by default: completion is still a separate event).
  Duration store_latency = Duration::zero();
  /// Extra latency of chunk writes: a disk (or hashing) slower than the network.
  Duration write_latency = Duration::zero();

 private:
  struct Conn;
  struct Host {
    std::string name;
    Endpoint address;
    LinkSpec link;
    std::unique_ptr<Node> node;
    FakeStore store;
    bool up = false;
    std::uint64_t epoch = 0;              // bumps on crash: events of an older life are dropped
    Time up_free{}, down_free{};          // when the access link is next idle
    std::optional<Time> wake_at;          // the node's deadline, as last armed
    std::uint64_t wake_generation = 0;    // bumps on every re-arm: older wake-ups are dropped
    std::map<ConnId, std::size_t> conns;  // this host's handles -> conns_ index
    ConnId next_accepted = 1;
    std::vector<Notice> notices;
  };
  struct Pending {
    Time at;
    std::uint64_t seq;
    std::function<void()> action;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  void schedule(Time at, std::function<void()> action);
  /// Runs `input` on host h's node if the host is still in life `epoch`, then drains.
  void deliver(HostId h, std::uint64_t epoch, const std::function<void(Node&)>& input);
  void drain(HostId h);
  /// Keeps one wake-up event at the node's next deadline.
  void rearm(HostId h);
  void handle(HostId h, Effect e);
  void on_connect(HostId h, const Connect& c);
  void on_send(HostId h, Send s);
  void transmit(HostId h, ConnId id, std::vector<std::uint8_t> bytes);
  void on_close(HostId h, ConnId id, bool reset);
  void close_remote(std::size_t conn, int closer_side, CloseReason reason);
  Duration transfer_time(double bps, std::size_t bytes) const;
  void feed(std::size_t conn, HostId to, std::vector<std::uint8_t> bytes);

  std::vector<Host> hosts_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::priority_queue<Pending, std::vector<Pending>, Later> queue_;
  std::uint64_t seq_ = 0;
  Time now_{};
  std::mt19937_64 rng_;
  std::vector<Event> records_;
  std::map<std::string, std::size_t, std::less<>> record_counts_;
  std::uint64_t bytes_sent_ = 0;
  std::uint16_t next_ephemeral_port_ = 40000;
};

}  // namespace swarmlab::testing

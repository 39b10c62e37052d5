#pragma once
// The sans-I/O shape shared by the tracker and the peer: inputs carry the time, effects
// come out of poll_effect(). Drivers: the fake network (tests), sim::Ns3Host, realnet.
#include <deque>
#include <optional>

#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"

namespace swarmlab {

class Node {
 public:
  virtual ~Node() = default;
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // ---- inputs ----
  virtual void on_start(Time now) = 0;
  /// A connection to this node's listening address was accepted from `remote`.
  virtual void on_accepted(Time now, ConnId conn, const Endpoint& remote) = 0;
  /// An outbound Connect succeeded.
  virtual void on_connected(Time now, ConnId conn) = 0;
  virtual void on_frame(Time now, ConnId conn, RawFrame frame) = 0;
  /// The connection is gone (also: an outbound Connect failed). Not called for a Close the
  /// node asked for itself.
  virtual void on_closed(Time now, ConnId conn, CloseReason reason) = 0;
  /// A timer fired. Timers that were cancelled or replaced are ignored (spurious calls are
  /// harmless).
  virtual void on_timer(Time now, TimerId timer) = 0;
  virtual void on_store_done(Time now, StoreOpId op, StoreResult result) = 0;

  // ---- outputs ----
  std::optional<Effect> poll_effect();
  bool has_effects() const { return !effects_.empty(); }

 protected:
  void emit(Effect e) { effects_.push_back(std::move(e)); }
  void send(ConnId conn, const Message& m) { emit(Send{conn, encode_message(m)}); }
  void close(ConnId conn) { emit(Close{conn}); }
  ConnId connect(const Endpoint& to) {
    const ConnId id = next_conn_++;
    emit(Connect{id, to});
    return id;
  }
  TimerId start_timer(Time deadline) {
    const TimerId id = next_timer_++;
    emit(StartTimer{id, deadline});
    return id;
  }
  void cancel_timer(TimerId& id) {
    if (id != 0) emit(CancelTimer{id});
    id = 0;
  }
  StoreOpId next_store_op() { return next_store_op_++; }

 private:
  std::deque<Effect> effects_;
  ConnId next_conn_ = kFirstOutboundConn;
  TimerId next_timer_ = 1;
  StoreOpId next_store_op_ = 1;
};

}  // namespace swarmlab

#pragma once
// The sans-I/O shape shared by the tracker and the peer (docs/architecture.md): inputs carry
// the time, effects come out of poll_effect(), and the node's next wake-up comes out of
// next_deadline(). Drivers: the fake network (tests), sim::Ns3Host, realnet::AsioHost.
//
// A driver hands the node the bytes a connection delivers; the node owns one FrameDecoder per
// connection, so framing and the rule "a stream that breaks framing is reset" live here once.
// A driver keeps one timer per node: armed at next_deadline(), firing on_deadline().
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"

namespace swarmlab {

class Node {
 public:
  virtual ~Node() = default;
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // ---- inputs (after each, the driver drains poll_effect() and re-arms next_deadline()) ----
  void on_start(Time now);
  /// A connection to this node's listening address was accepted from `remote`.
  void on_accepted(Time now, ConnId conn, const Endpoint& remote);
  /// An outbound Connect succeeded.
  void on_connected(Time now, ConnId conn);
  /// Stream bytes arrived on `conn`, split anyhow. Bytes on a connection the node has closed
  /// are ignored. A stream that breaks framing is reset (a Close effect with `reset`) and the
  /// node handles it as closed with ProtocolError.
  void on_bytes(Time now, ConnId conn, std::span<const std::uint8_t> bytes);
  /// `count` payload bytes that carry no data (simulated chunk payloads); a count outside a
  /// payload breaks framing, as above.
  void on_virtual_bytes(Time now, ConnId conn, std::size_t count);
  /// Zero-copy receive: where the next payload bytes of `conn` may be written directly (empty
  /// unless its decoder is inside a payload), and the buffer to hold while a read into it is
  /// under way (the node may close the connection meanwhile); report them with on_received.
  struct ReceiveWindow {
    std::span<std::uint8_t> bytes;
    std::shared_ptr<std::vector<std::uint8_t>> owner;
  };
  ReceiveWindow receive_window(ConnId conn);
  void on_received(Time now, ConnId conn, std::size_t count);
  /// Bytes of a frame arrived that the host will deliver once the frame is whole (the
  /// simulator hands over frames, not stream bytes): the sender is alive.
  void on_arriving(Time now, ConnId conn);
  /// The connection is gone (also: an outbound Connect failed). Not called for a Close the
  /// node asked for itself.
  void on_closed(Time now, ConnId conn, CloseReason reason);
  /// A frame sent with Send::report_sent has left (one call per such frame, in order).
  void on_sent(Time now, ConnId conn);
  /// The time next_deadline() named has come (early or spurious calls are harmless).
  void on_deadline(Time now);
  void on_store_done(Time now, StoreOpId op, StoreResult result);
  /// A graceful stop: the node says its goodbyes (closes, unregisters) and stops its timers.
  /// Later inputs are ignored.
  void shutdown(Time now);

  // ---- outputs ----
  std::optional<Effect> poll_effect();
  bool has_effects() const { return !effects_.empty(); }
  /// When the node next wants on_deadline; nullopt when it waits for nothing.
  std::optional<Time> next_deadline() const;

  /// Where payload buffers come from (a driver's pool); the default allocates each one.
  void set_payload_allocator(FrameDecoder::BufferAllocator alloc) { alloc_ = std::move(alloc); }
  /// Most bytes all unfinished frames may hold together. When the frames under way exceed
  /// it, the connections holding the most are reset (CloseReason::Overloaded) until they fit:
  /// many streams that each declare a huge frame and trickle it cannot exhaust memory.
  void set_receive_budget(std::size_t bytes) { receive_budget_ = bytes; }
  static constexpr std::size_t kDefaultReceiveBudget = 64u << 20;
  bool stopped() const { return stopped_; }

 protected:
  // What a tracker or a peer does with each input; the defaults ignore it.
  virtual void handle_start(Time) {}
  virtual void handle_accepted(Time, ConnId, const Endpoint&) {}
  virtual void handle_connected(Time, ConnId) {}
  virtual void handle_frame(Time now, ConnId conn, RawFrame frame) = 0;
  /// Bytes arrived on `conn` (before any whole frame they complete is handled): a sign of life
  /// while a long frame is on its way.
  virtual void handle_bytes_arrived(Time, ConnId) {}
  virtual void handle_closed(Time, ConnId, CloseReason) {}
  virtual void handle_sent(Time, ConnId) {}
  /// A timer started with start_timer() expired. Cancelled timers never come here.
  virtual void handle_timer(Time, TimerId) {}
  virtual void handle_store_done(Time, StoreOpId, StoreResult) {}
  virtual void handle_shutdown(Time) {}

  void emit(Effect e) { effects_.push_back(std::move(e)); }
  void send(ConnId conn, const Message& m, bool report_sent = false) {
    emit(Send{conn, encode_message(m), report_sent});
  }
  /// Closes after what was queued on `conn` is sent.
  void close(ConnId conn);
  ConnId connect(const Endpoint& to);
  TimerId start_timer(Time deadline);
  /// Cancels `id` if it runs, and sets it to 0.
  void cancel_timer(TimerId& id);
  StoreOpId next_store_op() { return next_store_op_++; }

 private:
  void open_decoder(ConnId conn);
  /// Hands every whole frame of `conn` to handle_frame, then resets the stream if `fed` failed.
  void dispatch(Time now, ConnId conn, const Status& fed);
  void enforce_receive_budget(Time now);
  /// Runs `op` on a decoder and keeps held_total_ up to date with what it then holds.
  template <typename Op>
  auto tracked(FrameDecoder& d, Op op) {
    const auto before = d.held_bytes();
    auto result = op(d);
    held_total_ = held_total_ + d.held_bytes() - before;
    return result;
  }
  /// Forgets `conn`'s decoder and what it held; false if there was none.
  bool drop_decoder(ConnId conn);

  std::deque<Effect> effects_;
  std::map<ConnId, FrameDecoder> decoders_;  // one per open connection
  FrameDecoder::BufferAllocator alloc_;
  std::size_t receive_budget_ = kDefaultReceiveBudget;
  std::size_t held_total_ = 0;  // what all decoders hold, kept as they change
  std::map<TimerId, Time> timers_;
  std::set<std::pair<Time, TimerId>> deadlines_;  // the same timers, soonest first
  ConnId next_conn_ = kFirstOutboundConn;
  TimerId next_timer_ = 1;
  StoreOpId next_store_op_ = 1;
  bool stopped_ = false;
};

}  // namespace swarmlab

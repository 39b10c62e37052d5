#pragma once
// Drives one core node (tracker or peer) on ns-3 TCP sockets and the ns-3 clock, in the
// shape of ns-3's own Application subclasses: StartApplication/StopApplication, socket
// callbacks, Simulator::Schedule for timers.
//
// The TCP streams carry byte counts only (zero-filled ns-3 packets, never allocated); each
// frame's contents travel beside the stream in a FrameChannel. When a frame's last byte
// arrives, the receiving host takes the frame from the channel and reads it through the
// node as bytes: real bytes for the prefix and header (and small real payloads such as chunk
// hashes), Node::on_virtual_bytes for chunk payloads, which are never copied.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/frame_channel.hpp"
#include "sim/ns3_headers.hpp"
#include "sim/sim_chunk_store.hpp"
#include "sim/tcp_stream_writer.hpp"
#include "sim/traffic_trace.hpp"
#include "swarmlab/node.hpp"

namespace swarmlab::sim {

/// What a host tells the simulation about its node.
class HostObserver {
 public:
  virtual void on_record(std::size_t host, const Event& e) = 0;
  virtual void on_notice(std::size_t host, const Notify& n) = 0;
  /// Payload bytes this host handed to TCP for frames that carry a payload.
  virtual void on_payload_sent(std::size_t host, std::uint64_t bytes) = 0;
  /// One of this host's TCP connections entered loss recovery: after a retransmission
  /// timeout (`timeout`) or duplicate acknowledgements (fast retransmit).
  virtual void on_tcp_recovery(std::size_t host, bool timeout) = 0;
  /// One of this host's TCP connections sent a tail loss probe (sim/linux_tcp_socket.hpp).
  virtual void on_tcp_loss_probe(std::size_t host) = 0;
  /// One of this host's TCP connections ended slow start by HyStart (sim/linux_cubic.hpp):
  /// the RTT rose (`by_delay`), or ACKs kept arriving back to back.
  virtual void on_tcp_hystart_exit(std::size_t host, bool by_delay) = 0;

 protected:
  ~HostObserver() = default;
};

class Ns3Host : public ns3::Application {
 public:
  using NodeFactory = std::function<std::unique_ptr<Node>()>;

  static ns3::TypeId GetTypeId();
  Ns3Host() = default;
  ~Ns3Host() override;

  /// Must be called before the application starts.
  /// `address`: this node's IPv4 address; `channel`: shared by every host of the run.
  void Setup(std::size_t index, NodeFactory factory, const std::string& address,
             std::uint16_t listen_port, SimChunkStore* store, FrameChannel* channel,
             HostObserver* observer, std::uint32_t segment_size);

  /// Every socket action of this host goes to `trace` as well (nullptr: none).
  void SetTrace(TrafficTrace* trace) { trace_ = trace; }

  /// The core node while the host is up; nullptr while it is down.
  Node* node() { return node_.get(); }
  bool up() const { return node_ != nullptr; }
  /// Runs a command on the node (publish, download, ...) and carries out what it asks.
  void Command(const std::function<void(Node&, Time)>& fn);
  /// The process dies (kill -9): no goodbye from the node; the OS closes its sockets, so
  /// peers see their connections end. The store's disk survives.
  void Crash();
  /// The node leaves gracefully (a peer unregisters), like StopApplication.
  void Leave() { StopApplication(); }
  /// A crashed host comes back with a fresh node (its disk as it was).
  void Restart();

 protected:
  void StartApplication() override;
  void StopApplication() override;
  void DoDispose() override;

 private:
  struct Conn {
    ns3::Ptr<ns3::Socket> socket;
    TcpStreamWriter stream;  // what the node wrote, as handed to TCP
    bool connected = false;
    bool closing = false;                 // close once everything is handed to TCP
    FrameChannel::Key tx, rx;             // this connection's two directions in the channel
    std::uint64_t rx_pending = 0;         // stream bytes received towards the next frame
    std::deque<std::uint64_t> report_at;  // stream offsets ending frames sent with report_sent
  };

  static Time now();
  void Boot();
  void TearDown(bool graceful);
  void Drain();
  void Rearm();
  void Handle(Effect e);
  void DoConnect(const Connect& c);
  /// Reports (Node::on_sent) the frames whose last byte TCP has now sent.
  void ReportSent(ConnId id, Conn& c);
  void DoSend(ConnId id, const RawFrame& frame, bool report_sent);
  void DoClose(ConnId id);
  /// Closes now, with whatever TCP has not taken yet dropped (a reset).
  void Abort(ConnId id);
  void Pump(ConnId id, Conn& c);
  /// Forgets the connection; the socket is released once ns-3 is done with this event.
  ns3::Ptr<ns3::Socket> Release(ConnId id);
  template <typename Op>
  void DoStore(const Op& op);

  void Watch(ns3::Ptr<ns3::Socket> socket, ConnId id);
  ConnId IdOf(ns3::Socket* socket) const;
  void OnAccept(ns3::Ptr<ns3::Socket> socket, const ns3::Address& from);
  void OnConnected(ns3::Ptr<ns3::Socket> socket);
  void OnConnectFailed(ns3::Ptr<ns3::Socket> socket);
  void OnRecv(ns3::Ptr<ns3::Socket> socket);
  void OnSendSpace(ns3::Ptr<ns3::Socket> socket, std::uint32_t available);
  void OnNormalClose(ns3::Ptr<ns3::Socket> socket);
  void OnErrorClose(ns3::Ptr<ns3::Socket> socket);
  void Lost(ns3::Socket* socket, CloseReason reason);

  std::size_t index_ = 0;
  NodeFactory factory_;
  std::uint32_t ip_ = 0;
  std::uint16_t listen_port_ = 0;
  SimChunkStore* store_ = nullptr;
  FrameChannel* channel_ = nullptr;
  HostObserver* observer_ = nullptr;
  TrafficTrace* trace_ = nullptr;
  std::uint32_t segment_size_ = 1448;

  std::unique_ptr<Node> node_;
  std::uint64_t epoch_ = 0;  // bumped on every crash: late store results are dropped
  ns3::Ptr<ns3::Socket> listener_;
  std::map<ConnId, Conn> conns_;
  std::unordered_map<ns3::Socket*, ConnId> by_socket_;
  ConnId next_accepted_ = 1;
  ns3::EventId wake_;  // the node's next deadline
  std::optional<Time> wake_at_;
  std::vector<std::uint8_t> scratch_;  // a frame's real bytes, for the decoder
};

}  // namespace swarmlab::sim

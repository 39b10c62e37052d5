#pragma once
// Drives one core node (tracker or peer) on ns-3 TCP sockets and the ns-3 clock, in the
// shape of ns-3's own Application subclasses: StartApplication/StopApplication, socket
// callbacks, Simulator::Schedule for timers.
//
// Chunk payloads are virtual: a payload is an ns-3 packet of N bytes with no data behind
// it, marked by a byte tag; the receiving host counts those bytes into the core decoder
// (FrameDecoder::feed_virtual) and never copies them. Frame headers travel as real bytes.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/ns3_headers.hpp"
#include "sim/sim_chunk_store.hpp"
#include "swarmlab/node.hpp"

namespace swarmlab::sim {

/// What a host tells the simulation about its node.
class HostObserver {
 public:
  virtual void on_record(std::size_t host, const Event& e) = 0;
  virtual void on_notice(std::size_t host, const Event& e) = 0;
  /// Payload bytes this host handed to TCP for frames that carry a payload.
  virtual void on_payload_sent(std::size_t host, std::uint64_t bytes) = 0;

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
  void Setup(std::size_t index, NodeFactory factory, std::uint16_t listen_port,
             SimChunkStore* store, HostObserver* observer, std::uint32_t segment_size);

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
    FrameDecoder decoder;
    std::deque<ns3::Ptr<ns3::Packet>> out;  // frames not yet handed to TCP
    std::uint32_t out_offset = 0;           // of out.front()
    bool connected = false;
    bool closing = false;  // close once `out` is empty
  };

  static Time now();
  void Boot();
  void TearDown(bool graceful);
  void Drain();
  void Handle(Effect e);
  void DoConnect(const Connect& c);
  void DoSend(ConnId id, const RawFrame& frame);
  void DoClose(ConnId id);
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
  std::uint16_t listen_port_ = 0;
  SimChunkStore* store_ = nullptr;
  HostObserver* observer_ = nullptr;
  std::uint32_t segment_size_ = 1448;

  std::unique_ptr<Node> node_;
  std::uint64_t epoch_ = 0;  // bumped on every crash: late timers and store results are dropped
  ns3::Ptr<ns3::Socket> listener_;
  std::map<ConnId, Conn> conns_;
  std::unordered_map<ns3::Socket*, ConnId> by_socket_;
  ConnId next_accepted_ = 1;
  std::unordered_map<TimerId, ns3::EventId> timers_;
  std::vector<std::uint8_t> scratch_;  // real bytes copied out of a received packet
};

}  // namespace swarmlab::sim

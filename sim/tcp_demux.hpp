#pragma once
// Finds the socket of an open TCP connection by one hash lookup, in front of ns-3's
// TcpL4Protocol.
//
// ns-3 3.37 matches every segment a node receives against each of the node's endpoints in
// turn (Ipv4EndPointDemux::Lookup), building lists as it goes. A peer in a 1,000-peer swarm has
// some 40 endpoints and the tracker a thousand, so that walk was the largest single cost of a
// large run (docs/models.md, "What a 1,000-peer run costs"). This object takes TCP's place in
// the node's IPv4 (protocol 6): a segment for a connection that a LinuxTcpSocket registered
// goes straight to that socket's endpoint, the very call TcpL4Protocol would make; anything
// else (a SYN for a listener, a segment for a closed connection, checksums on) goes to
// TcpL4Protocol as before. Runs are identical event for event.
#include <cstdint>
#include <unordered_map>
#include <utility>

#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

class LinuxTcpSocket;

class TcpDemux : public ns3::IpL4Protocol {
 public:
  static ns3::TypeId GetTypeId();

  explicit TcpDemux(ns3::Ptr<ns3::TcpL4Protocol> tcp) : tcp_(std::move(tcp)) {}

  /// The node's TcpDemux, put in front of its TcpL4Protocol the first time it is asked for.
  static ns3::Ptr<TcpDemux> of(ns3::Ptr<ns3::Node> node);

  /// The connection (local port, peer address and port) is `socket`'s until another socket
  /// takes it or it is removed.
  void add(std::uint16_t local_port, std::uint32_t peer, std::uint16_t peer_port,
           LinuxTcpSocket* socket);
  /// Forgets the connection if it is still `socket`'s.
  void remove(std::uint16_t local_port, std::uint32_t peer, std::uint16_t peer_port,
              const LinuxTcpSocket* socket);
  std::size_t size() const { return sockets_.size(); }
  /// With false, every segment goes to TcpL4Protocol, registered or not: the two ways are
  /// compared in tests/sim/ns3/tcp_demux_test.cpp.
  void set_direct(bool direct) { direct_allowed_ = direct; }
  /// Segments that went straight to a registered socket, and those TcpL4Protocol matched.
  std::uint64_t direct() const { return direct_; }
  std::uint64_t matched_by_tcp() const { return by_tcp_; }

  int GetProtocolNumber() const override;
  RxStatus Receive(ns3::Ptr<ns3::Packet> p, const ns3::Ipv4Header& header,
                   ns3::Ptr<ns3::Ipv4Interface> incoming) override;
  RxStatus Receive(ns3::Ptr<ns3::Packet> p, const ns3::Ipv6Header& header,
                   ns3::Ptr<ns3::Ipv6Interface> incoming) override;
  void ReceiveIcmp(ns3::Ipv4Address icmp_source, std::uint8_t icmp_ttl, std::uint8_t icmp_type,
                   std::uint8_t icmp_code, std::uint32_t icmp_info, ns3::Ipv4Address payload_source,
                   ns3::Ipv4Address payload_destination, const std::uint8_t payload[8]) override;
  void ReceiveIcmp(ns3::Ipv6Address icmp_source, std::uint8_t icmp_ttl, std::uint8_t icmp_type,
                   std::uint8_t icmp_code, std::uint32_t icmp_info, ns3::Ipv6Address payload_source,
                   ns3::Ipv6Address payload_destination, const std::uint8_t payload[8]) override;
  void SetDownTarget(DownTargetCallback cb) override { tcp_->SetDownTarget(cb); }
  void SetDownTarget6(DownTargetCallback6 cb) override { tcp_->SetDownTarget6(cb); }
  DownTargetCallback GetDownTarget() const override { return tcp_->GetDownTarget(); }
  DownTargetCallback6 GetDownTarget6() const override { return tcp_->GetDownTarget6(); }

 private:
  // A node has one address in the star, so the peer's address and port and the local port
  // name a connection; the local address is checked against the endpoint on each segment.
  static std::uint64_t key(std::uint16_t local_port, std::uint32_t peer, std::uint16_t peer_port) {
    return std::uint64_t{peer} << 32 | std::uint64_t{peer_port} << 16 | local_port;
  }

  ns3::Ptr<ns3::TcpL4Protocol> tcp_;
  std::unordered_map<std::uint64_t, LinuxTcpSocket*> sockets_;
  bool direct_allowed_ = true;
  std::uint64_t direct_ = 0;
  std::uint64_t by_tcp_ = 0;
};

}  // namespace swarmlab::sim

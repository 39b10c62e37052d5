#include "sim/tcp_demux.hpp"

#include "sim/linux_tcp_socket.hpp"

namespace swarmlab::sim {

NS_OBJECT_ENSURE_REGISTERED(TcpDemux);

ns3::TypeId TcpDemux::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("swarmlab::sim::TcpDemux")
                               .SetParent<ns3::IpL4Protocol>()
                               .SetGroupName("swarmlab");
  return tid;
}

ns3::Ptr<TcpDemux> TcpDemux::of(ns3::Ptr<ns3::Node> node) {
  auto ipv4 = node->GetObject<ns3::Ipv4L3Protocol>();
  auto tcp = node->GetObject<ns3::TcpL4Protocol>();
  if (!ipv4 || !tcp) return nullptr;
  if (auto demux = ns3::DynamicCast<TcpDemux>(ipv4->GetProtocol(ns3::TcpL4Protocol::PROT_NUMBER))) {
    return demux;
  }
  auto demux = ns3::CreateObject<TcpDemux>(tcp);
  ipv4->Insert(demux);  // replaces TcpL4Protocol as what IPv4 delivers protocol 6 to
  return demux;
}

void TcpDemux::add(std::uint16_t local_port, std::uint32_t peer, std::uint16_t peer_port,
                   LinuxTcpSocket* socket) {
  sockets_[key(local_port, peer, peer_port)] = socket;
}

void TcpDemux::remove(std::uint16_t local_port, std::uint32_t peer, std::uint16_t peer_port,
                      const LinuxTcpSocket* socket) {
  const auto it = sockets_.find(key(local_port, peer, peer_port));
  if (it != sockets_.end() && it->second == socket) sockets_.erase(it);
}

int TcpDemux::GetProtocolNumber() const {
  return ns3::TcpL4Protocol::PROT_NUMBER;
}

ns3::IpL4Protocol::RxStatus TcpDemux::Receive(ns3::Ptr<ns3::Packet> p,
                                              const ns3::Ipv4Header& header,
                                              ns3::Ptr<ns3::Ipv4Interface> incoming) {
  // With checksums on, TcpL4Protocol checks them before it looks for the endpoint.
  if (direct_allowed_ && !ns3::Node::ChecksumEnabled() && p->GetSize() >= 4) {
    std::uint8_t ports[4];
    p->CopyData(ports, sizeof ports);
    const auto source_port = static_cast<std::uint16_t>(ports[0] << 8 | ports[1]);
    const auto destination_port = static_cast<std::uint16_t>(ports[2] << 8 | ports[3]);
    const auto it = sockets_.find(key(destination_port, header.GetSource().Get(), source_port));
    if (it != sockets_.end()) {
      // The registered socket's endpoint, if it still names this connection, is the one
      // exact match Ipv4EndPointDemux::Lookup would return. A socket whose connection has
      // ended (its endpoint freed at a timer's or an abort's close) is forgotten here.
      ns3::Ipv4EndPoint* endpoint = it->second->endpoint();
      if (endpoint == nullptr) {
        sockets_.erase(it);
      } else if (endpoint->GetLocalAddress() == header.GetDestination() &&
                 endpoint->GetLocalPort() == destination_port &&
                 endpoint->GetPeerAddress() == header.GetSource() &&
                 endpoint->GetPeerPort() == source_port && endpoint->IsRxEnabled() &&
                 (!endpoint->GetBoundNetDevice() ||
                  endpoint->GetBoundNetDevice() == incoming->GetDevice())) {
        ++direct_;
        endpoint->ForwardUp(p, header, source_port, incoming);
        return RX_OK;
      }
    }
  }
  ++by_tcp_;
  return tcp_->Receive(p, header, incoming);
}

ns3::IpL4Protocol::RxStatus TcpDemux::Receive(ns3::Ptr<ns3::Packet> p,
                                              const ns3::Ipv6Header& header,
                                              ns3::Ptr<ns3::Ipv6Interface> incoming) {
  ++by_tcp_;
  return tcp_->Receive(p, header, incoming);
}

void TcpDemux::ReceiveIcmp(ns3::Ipv4Address icmp_source, std::uint8_t icmp_ttl,
                           std::uint8_t icmp_type, std::uint8_t icmp_code, std::uint32_t icmp_info,
                           ns3::Ipv4Address payload_source, ns3::Ipv4Address payload_destination,
                           const std::uint8_t payload[8]) {
  tcp_->ReceiveIcmp(icmp_source, icmp_ttl, icmp_type, icmp_code, icmp_info, payload_source,
                    payload_destination, payload);
}

void TcpDemux::ReceiveIcmp(ns3::Ipv6Address icmp_source, std::uint8_t icmp_ttl,
                           std::uint8_t icmp_type, std::uint8_t icmp_code, std::uint32_t icmp_info,
                           ns3::Ipv6Address payload_source, ns3::Ipv6Address payload_destination,
                           const std::uint8_t payload[8]) {
  tcp_->ReceiveIcmp(icmp_source, icmp_ttl, icmp_type, icmp_code, icmp_info, payload_source,
                    payload_destination, payload);
}

}  // namespace swarmlab::sim

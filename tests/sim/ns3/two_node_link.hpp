#pragma once
// The bench of the simulated sockets' tests: two nodes on one point-to-point link, ns-3's TCP
// configured as swarm-sim configures it (1,000-byte segments), and, as in swarm-sim's star,
// no queue disc: the device's drop-tail queue is the only one.
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "sim/ns3_headers.hpp"
#include "sim/tcp_config.hpp"

namespace swarmlab::sim {

struct TwoNodeLink {
  ns3::NodeContainer nodes;
  ns3::NetDeviceContainer devices;
  ns3::Ipv4InterfaceContainer interfaces;
};

/// Starts a new simulation with the link: `bps` and `delay` each way, and a queue of
/// `queue_bytes` (0: ns-3's default of 100 packets).
inline TwoNodeLink make_two_node_link(std::uint64_t bps, std::chrono::milliseconds delay,
                                      std::uint32_t queue_bytes = 0) {
  ns3::Simulator::Destroy();
  configure_ns3_tcp(1000, bps, delay, std::chrono::seconds(1));
  TwoNodeLink link;
  link.nodes.Create(2);
  ns3::PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(bps)));
  p2p.SetChannelAttribute("Delay", ns3::TimeValue(ns3::MilliSeconds(delay.count())));
  if (queue_bytes > 0) {
    p2p.SetQueue("ns3::DropTailQueue", "MaxSize",
                 ns3::StringValue(std::to_string(queue_bytes) + "B"));
  }
  link.devices = p2p.Install(link.nodes);
  ns3::InternetStackHelper stack;
  stack.Install(link.nodes);
  ns3::Ipv4AddressHelper addresses("10.1.1.0", "255.255.255.0");
  link.interfaces = addresses.Assign(link.devices);
  ns3::TrafficControlHelper().Uninstall(link.devices);
  return link;
}

/// Closes the sockets a test opened (null ones skipped) and ends the simulation.
inline void close_and_destroy(std::initializer_list<ns3::Ptr<ns3::Socket>> sockets) {
  for (const auto& socket : sockets)
    if (socket) socket->Close();
  ns3::Simulator::Destroy();
}

}  // namespace swarmlab::sim

#include "sim/star_topology.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace swarmlab::sim {

// The router forwards below IP, as the switch of a home network's ISP would: it reads the
// destination address, finds the access link by it (one hash lookup), and hands the packet
// to that link's device. ns-3's IPv4 forwarding would do the same at several times the cost:
// the node's protocol handlers (one per device, so a thousand at a 1,000-peer star) walked
// for every packet, the traffic-control layer on the way in and out, the header parsed, its
// TTL rewritten, the interface looked up by device. Packets go the same way, at the same
// times, but for the TTL, which nothing in the star reads.
class StarForwarder {
 public:
  explicit StarForwarder(StarTopology::Drops& drops) : drops_(drops) {}

  /// Packets for `dest` leave by `out` (a router device).
  void add_route(ns3::Ipv4Address dest, ns3::Ptr<ns3::PointToPointNetDevice> out) {
    // PointToPointHelper gives its devices flow control (a queue that stops when nearly full);
    // a device without it has no stopped state, and its queue drops what does not fit.
    auto flow = out->GetObject<ns3::NetDeviceQueueInterface>();
    routes_[dest.Get()] = Route{out, flow ? flow->GetTxQueue(0) : nullptr};
  }

  void receive(ns3::Ptr<ns3::NetDevice>, ns3::Ptr<const ns3::Packet> p, std::uint16_t protocol,
               const ns3::Address&, const ns3::Address&, ns3::NetDevice::PacketType) {
    // The device has taken off its PPP header: the IPv4 header comes first, its
    // destination address at bytes 16-19, in network order.
    std::uint8_t header[20];
    if (p->CopyData(header, sizeof header) != sizeof header) return;
    const auto dest = static_cast<std::uint32_t>(header[16]) << 24 |
                      static_cast<std::uint32_t>(header[17]) << 16 |
                      static_cast<std::uint32_t>(header[18]) << 8 | header[19];
    const auto it = routes_.find(dest);
    if (it == routes_.end()) return;  // nothing is addressed to the router or beyond the star
    const Route& route = it->second;
    // As the traffic-control layer does for a device without a queue disc: a device whose
    // queue has less than a packet's room left has stopped taking packets, and this one is
    // dropped (StarTopology counts it as a downlink drop either way).
    if (route.queue && route.queue->IsStopped()) {
      drops_.add(*p);
      return;
    }
    route.device->Send(p->Copy(), route.device->GetBroadcast(), protocol);
  }

 private:
  struct Route {
    ns3::Ptr<ns3::PointToPointNetDevice> device;
    ns3::Ptr<ns3::NetDeviceQueue> queue;
  };
  StarTopology::Drops& drops_;
  std::unordered_map<std::uint32_t, Route> routes_;
};

namespace {

std::string to_text(ns3::Ipv4Address a) {
  std::ostringstream s;
  a.Print(s);
  return s.str();
}

}  // namespace

std::size_t StarTopology::add(const AccessLink& link) {
  if (built_) throw std::logic_error("StarTopology::add after build");
  leaves_.push_back(Leaf{link, ns3::CreateObject<ns3::Node>(), {}, {}, {}, {}, false});
  return leaves_.size() - 1;
}

// 200 ms of queue at the link's rate (a home router's buffer; at least the bandwidth-delay
// product of the RTTs scenarios use), and never less than a few packets. With less, TCP
// cannot keep a link full (drop-tail losses halve the window before the queue absorbs a
// burst), and the ACKs and requests of a peer's downloads are dropped behind its uploads.
std::uint32_t StarTopology::queue_bytes(std::uint64_t bps) const {
  const double bytes = static_cast<double>(bps) / 8.0 * 0.2;
  return static_cast<std::uint32_t>(std::max(bytes, 4.0 * mtu_));
}

Duration StarTopology::longest_wait(std::uint64_t built_bps, std::uint64_t bps) const {
  const double bits = 8.0 * (static_cast<double>(queue_bytes(built_bps)) + mtu_);
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(bits / static_cast<double>(std::max<std::uint64_t>(bps, 1))));
}

StarTopology::StarTopology(std::uint32_t mtu)
    : mtu_(mtu), forwarder_(std::make_unique<StarForwarder>(down_drops_)) {
}

StarTopology::~StarTopology() = default;

void StarTopology::build() {
  if (built_) return;
  built_ = true;
  // The router has no IP stack: its forwarder takes every IPv4 packet off every device.
  router_ = ns3::CreateObject<ns3::Node>();
  uplink_.assign(leaves_.size(), Sent{});

  ns3::InternetStackHelper stack;
  ns3::Ipv4StaticRoutingHelper static_routing;
  stack.SetRoutingHelper(static_routing);
  for (auto& leaf : leaves_) stack.Install(leaf.node);

  const auto counter = [](Drops* drops) {
    return ns3::MakeBoundCallback(
        +[](Drops* d, ns3::Ptr<const ns3::Packet> p) { d->add(*p); }, drops);
  };
  const auto up_drop = counter(&up_drops_);
  const auto down_drop = counter(&down_drops_);
  // With no queue disc, a packet that finds its device's queue stopped (less than an MTU of
  // room) is dropped by the node's traffic-control layer, not by the queue: the leaves' own
  // packets here, the router's forwarded ones in StarForwarder.
  for (auto& leaf : leaves_) {
    leaf.node->GetObject<ns3::TrafficControlLayer>()->TraceConnectWithoutContext("TcDrop", up_drop);
  }
  ns3::PointToPointHelper p2p;
  p2p.SetDeviceAttribute("Mtu", ns3::UintegerValue(mtu_));
  ns3::TrafficControlHelper tc;
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    auto& leaf = leaves_[i];
    p2p.SetChannelAttribute("Delay", ns3::TimeValue(ns3::NanoSeconds(leaf.link.delay.count())));
    const auto devices = p2p.Install(leaf.node, router_);
    leaf.leaf_dev = ns3::DynamicCast<ns3::PointToPointNetDevice>(devices.Get(0));
    leaf.router_dev = ns3::DynamicCast<ns3::PointToPointNetDevice>(devices.Get(1));
    leaf.channel = ns3::DynamicCast<ns3::PointToPointChannel>(leaf.leaf_dev->GetChannel());
    leaf.leaf_dev->TraceConnectWithoutContext("PhyTxEnd",
                                              ns3::MakeBoundCallback(
                                                  +[](Sent* sent, ns3::Ptr<const ns3::Packet> p) {
                                                    sent->bytes += p->GetSize();
                                                    ++sent->packets;
                                                  },
                                                  &uplink_[i]));
    leaf.leaf_dev->GetQueue()->TraceConnectWithoutContext("Drop", up_drop);
    leaf.router_dev->GetQueue()->TraceConnectWithoutContext("Drop", down_drop);
    leaf.leaf_dev->SetDataRate(ns3::DataRate(leaf.link.up_bps));
    leaf.router_dev->SetDataRate(ns3::DataRate(leaf.link.down_bps));
    leaf.leaf_dev->GetQueue()->SetMaxSize(
        ns3::QueueSize(ns3::QueueSizeUnit::BYTES, queue_bytes(leaf.link.up_bps)));
    leaf.router_dev->GetQueue()->SetMaxSize(
        ns3::QueueSize(ns3::QueueSizeUnit::BYTES, queue_bytes(leaf.link.down_bps)));

    // Link i is the /30 10.a.b.c with i = a<<14 | b<<6 | c>>2: leaf .1; .2 stands for the
    // router, which has no address of its own, as the leaf's gateway.
    const auto net = static_cast<std::uint32_t>((10u << 24) | (i << 2));
    ns3::Ipv4AddressHelper addresses;
    addresses.SetBase(ns3::Ipv4Address(net), ns3::Ipv4Mask("255.255.255.252"));
    const auto ifaces = addresses.Assign(ns3::NetDeviceContainer(leaf.leaf_dev));
    // One FIFO per device is enough; the default queue discs add work per packet.
    tc.Uninstall(leaf.leaf_dev);
    leaf.address = to_text(ifaces.GetAddress(0));
    static_routing.GetStaticRouting(leaf.node->GetObject<ns3::Ipv4>())
        ->SetDefaultRoute(ns3::Ipv4Address(net + 2), 1);
    forwarder_->add_route(ifaces.GetAddress(0), leaf.router_dev);
    apply_loss(leaf);
  }
  router_->RegisterProtocolHandler(ns3::MakeCallback(&StarForwarder::receive, forwarder_.get()),
                                   ns3::Ipv4L3Protocol::PROT_NUMBER, nullptr);
}

std::uint64_t StarTopology::uplink_packets() const {
  std::uint64_t total = 0;
  for (const auto& sent : uplink_) total += sent.packets;
  return total;
}

std::string StarTopology::attach_host(std::size_t i, ns3::Ptr<ns3::NetDevice> device) {
  if (!built_) throw std::logic_error("StarTopology::attach_host before build");
  auto& leaf = leaves_.at(i);
  leaf.node->AddDevice(device);
  auto ip = leaf.node->GetObject<ns3::Ipv4>();
  const auto interface = ip->AddInterface(device);
  // Host link i is the /30 172.16.a.b with i = a<<6 | b>>2 (up to 2^18 hosts): leaf .1, host .2.
  const auto net = static_cast<std::uint32_t>((172u << 24) | (16u << 16) | (i << 2));
  const ns3::Ipv4Address leaf_side(net + 1), host_side(net + 2);
  ip->AddAddress(interface, ns3::Ipv4InterfaceAddress(leaf_side, ns3::Ipv4Mask("255.255.255.252")));
  ip->SetForwarding(interface, true);
  ip->SetUp(interface);
  forwarder_->add_route(host_side, leaf.router_dev);
  return to_text(host_side);
}

void StarTopology::apply_loss(Leaf& leaf) {
  const double rate = leaf.partitioned ? 1.0 : leaf.link.loss;
  for (auto& dev : {leaf.leaf_dev, leaf.router_dev}) {
    if (rate <= 0.0) {
      dev->SetReceiveErrorModel(nullptr);
      continue;
    }
    auto em = ns3::CreateObject<ns3::RateErrorModel>();
    em->SetUnit(ns3::RateErrorModel::ERROR_UNIT_PACKET);
    em->SetRate(rate);
    dev->SetReceiveErrorModel(em);
  }
}

void StarTopology::set_rates(std::size_t i, std::uint64_t up_bps, std::uint64_t down_bps) {
  auto& leaf = leaves_.at(i);
  leaf.link.up_bps = up_bps;
  leaf.link.down_bps = down_bps;
  leaf.leaf_dev->SetDataRate(ns3::DataRate(up_bps));
  leaf.router_dev->SetDataRate(ns3::DataRate(down_bps));
}

void StarTopology::set_delay(std::size_t i, Duration delay) {
  auto& leaf = leaves_.at(i);
  leaf.link.delay = delay;
  leaf.channel->SetAttribute("Delay", ns3::TimeValue(ns3::NanoSeconds(delay.count())));
}

void StarTopology::set_partitioned(std::size_t i, bool partitioned) {
  auto& leaf = leaves_.at(i);
  leaf.partitioned = partitioned;
  apply_loss(leaf);
}

}  // namespace swarmlab::sim

#pragma once
// The access-link model: every node (tracker or peer) has its own point-to-point link to
// one core router, with its own upload rate, download rate and one-way delay. Only the
// access links limit; the router forwards below IP by a table indexed by destination
// address (StarForwarder), so per-packet work does not grow with the number of nodes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/ns3_headers.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab::sim {

struct AccessLink {
  std::uint64_t up_bps = 8'000'000;
  std::uint64_t down_bps = 32'000'000;
  Duration delay = 10ms;
  double loss = 0.0;  // per-packet drop probability, each direction
};

class StarForwarder;

class StarTopology {
 public:
  /// `mtu`: bytes per packet on every access link.
  explicit StarTopology(std::uint32_t mtu);
  ~StarTopology();
  StarTopology(const StarTopology&) = delete;
  StarTopology& operator=(const StarTopology&) = delete;

  /// Adds a node with its access link; returns its index. Call build() once, after.
  std::size_t add(const AccessLink& link);
  void build();

  std::size_t size() const { return leaves_.size(); }
  ns3::Ptr<ns3::Node> node(std::size_t i) const { return leaves_[i].node; }
  /// The node's IPv4 address as text ("10.0.0.1").
  const std::string& address(std::size_t i) const { return leaves_[i].address; }
  const AccessLink& link(std::size_t i) const { return leaves_[i].link; }

  /// Puts a host behind leaf `i` (after build): `device` (a real network interface, in
  /// swarm-emu) joins the leaf's node on a /30 of its own, and the leaf forwards between it
  /// and its access link, so the host's packets cross the link as the leaf's own would.
  /// Returns the address the host must take; the leaf's side of the /30 is one below it.
  std::string attach_host(std::size_t i, ns3::Ptr<ns3::NetDevice> device);

  /// The longest a packet can wait on a link built at `built_bps` (its queue is sized then
  /// and stays so) while it runs at `bps`: a full queue, then its own serialisation.
  Duration longest_wait(std::uint64_t built_bps, std::uint64_t bps) const;

  void set_rates(std::size_t i, std::uint64_t up_bps, std::uint64_t down_bps);
  void set_delay(std::size_t i, Duration delay);
  /// Cuts the node off (every packet on its link is lost) or restores it.
  void set_partitioned(std::size_t i, bool partitioned);
  /// Bytes leaf `i` has put on its uplink so far, headers included (what the link carried,
  /// not what the swarm meant to send): the numerator of uplink utilisation.
  std::uint64_t uplink_bytes(std::size_t i) const { return uplink_.at(i).bytes; }
  /// Packets all leaves have put on their uplinks so far: every packet of the run once (each
  /// then crosses a downlink too). What ns-3's work grows with (bench/sim_scale.py).
  std::uint64_t uplink_packets() const;
  struct Drops {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    void add(const ns3::Packet& p) {
      ++packets;
      bytes += p.GetSize();
    }
  };
  /// Packets the access links' queues dropped (full), all links: on the way up (a leaf's own
  /// queue: its uploads compete) and on the way down (the router's queue towards a leaf: more
  /// senders converge on it than its downlink carries).
  const Drops& uplink_drops() const { return up_drops_; }
  const Drops& downlink_drops() const { return down_drops_; }
  Drops queue_drops() const {
    return {up_drops_.packets + down_drops_.packets, up_drops_.bytes + down_drops_.bytes};
  }

 private:
  struct Leaf {
    AccessLink link;
    ns3::Ptr<ns3::Node> node;
    ns3::Ptr<ns3::PointToPointNetDevice> leaf_dev, router_dev;
    ns3::Ptr<ns3::PointToPointChannel> channel;
    std::string address;
    bool partitioned = false;
  };
  void apply_loss(Leaf& leaf);
  std::uint32_t queue_bytes(std::uint64_t bps) const;

  std::uint32_t mtu_;
  ns3::Ptr<ns3::Node> router_;
  std::vector<Leaf> leaves_;
  bool built_ = false;
  // By leaf; sized once in build(), as the devices' traces hold the elements' addresses.
  struct Sent {
    std::uint64_t bytes = 0;
    std::uint64_t packets = 0;
  };
  std::vector<Sent> uplink_;
  Drops up_drops_, down_drops_;
  std::unique_ptr<StarForwarder> forwarder_;  // after down_drops_, which it counts into
};

}  // namespace swarmlab::sim

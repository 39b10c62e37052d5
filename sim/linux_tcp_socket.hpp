#pragma once
// ns-3 3.37's TCP socket with three of Linux's ways of finding and repairing losses, and the
// RTT samples Linux's HyStart takes (sim/linux_cubic.hpp), so that the simulated swarm loses
// and repairs packets as the real programs do (docs/emulation.md, "Where the worlds part"):
//
// - The tail loss probe (RFC 8985, section 7). A flight whose last segments are lost brings no
//   duplicate ACKs, and ns-3 3.37 waits for the retransmission timeout: the window falls to
//   one segment and everything in flight is sent again. Linux instead sends the flight's
//   newest segment again (or a new one, when one waits; this class always resends) after
//   about two round trips (or, when that is all that is out, once an ACK could no longer be
//   delayed): if it was the one lost, its acknowledgement ends the flight with the window
//   intact. Most of a swarm's flights are short (a request, a batch of HAVEs, one block), so
//   in a shared, full uplink queue most losses are tail losses.
// - Linux's retransmission timer. It restarts when the oldest unacknowledged segment is sent
//   again and at every ACK of new data. ns-3's keeps running from the last new ACK through a
//   fast retransmission and from the first partial ACK of a recovery on, so a retransmission
//   queued behind a full uplink timed out although it arrived. In fidelity/flash-crowd-small,
//   46 of 64 timeouts over three seeds were such (the next ACK echoed an earlier send).
//
// - RACK (RFC 8985, section 6), for the oldest segment. It is lost once a segment sent after it
//   has been delivered and it has been out for that one's round trip (plus, outside a
//   recovery, a quarter of the least round trip for reordering). ns-3 3.37 waits for three
//   segments delivered above a loss (or three duplicate ACKs), which a short flight never
//   brings, and cannot tell that a retransmission was lost in turn: both wait for the
//   timeout. Here a connection with SACKed data starts its fast recovery when the oldest
//   segment's time is up (the reordering timer), and a recovery sends its oldest segment
//   again once something sent after its retransmission has been delivered.
//
// What this does not add: RACK for segments other than the oldest (ns-3's three-segment rule
// still marks those); RACK on the probe's SACK (the probe is sent past SendDataPacket below,
// so its send time is not kept, and a flight whose last two segments were lost still ends in
// a timeout); RACK on connections no longer ESTABLISHED; F-RTO's undoing of a spurious
// timeout; and the reduction of the window after a loss the probe repaired.
//
// Sockets are made by make_tcp_socket(): ns-3's TcpL4Protocol only makes TcpSocketBase, and
// accepted connections are forks of their listener, so every socket of a simulated host is
// one of these.
#include <utility>
#include <vector>

#include "sim/ns3_headers.hpp"
#include "sim/tcp_demux.hpp"

namespace swarmlab::sim {

class LinuxTcpSocket : public ns3::TcpSocketBase {
 public:
  static ns3::TypeId GetTypeId();
  /// The "HyStartExit" trace's signature: `by_delay` when the RTT's rise ended slow start,
  /// false when an ACK train did.
  using HyStartExitCallback = void (*)(bool by_delay);
  LinuxTcpSocket() = default;
  LinuxTcpSocket(const LinuxTcpSocket& other);
  ~LinuxTcpSocket() override;
  /// TcpSocketBase answers with its own type, which would hide this one's trace source.
  ns3::TypeId GetInstanceTypeId() const override { return GetTypeId(); }

  /// The connection's IPv4 endpoint, for TcpDemux; null before it has one and once closed.
  ns3::Ipv4EndPoint* endpoint() const { return m_endPoint; }

 protected:
  ns3::Ptr<ns3::TcpSocketBase> Fork() override;
  std::uint32_t SendDataPacket(ns3::SequenceNumber32 seq, std::uint32_t max_size,
                               bool with_ack) override;
  void NewAck(const ns3::SequenceNumber32& ack, bool reset_rto) override;
  void ReceivedAck(ns3::Ptr<ns3::Packet> packet, const ns3::TcpHeader& header) override;
  void ReTxTimeout() override;
  /// Also hands LinuxCubic's HyStart the RTT sample Linux would take from this ACK.
  void EstimateRtt(const ns3::TcpHeader& header) override;
  void DoDispose() override;
  /// Also registers the connection with the node's TcpDemux once it names both ends.
  void DoForwardUp(ns3::Ptr<ns3::Packet> packet, const ns3::Address& from,
                   const ns3::Address& to) override;

 private:
  /// Gives the connection's ends to the node's TcpDemux, so that its segments skip ns-3's walk
  /// over all endpoints; forgets the previous ones.
  void Register();
  void Unregister();
  /// (Re)schedules the probe: two smoothed round trips after the last send or new ACK (plus
  /// a delayed-ACK allowance while at most a segment's worth is out), never after the RTO.
  void ArmProbe();
  /// Whether a probe may go now (and so be scheduled).
  bool MayProbe() const;
  /// The probe timer went off: probes if it is due, else waits until it is.
  void OnProbeTimer();
  void Probe();
  /// When the segment holding `seq` was sent, if once: zero when it was sent again or is not
  /// in the send history.
  ns3::Time FirstSentAt(ns3::SequenceNumber32 seq) const;
  /// Notes what `header` says was delivered (before TcpSocketBase forgets their send times).
  void NoteDelivered(const ns3::TcpHeader& header);
  /// In a recovery, marks the oldest segment lost again if its retransmission was.
  void ResendIfRetransmissionLost();
  /// (Re)schedules or cancels the reordering timer after an ACK.
  void ArmReorderTimer();
  void OnReorderTimer();

  ns3::TracedCallback<> probe_trace_;        // "TailLossProbe": a probe went out
  ns3::TracedCallback<bool> hystart_trace_;  // "HyStartExit": true when by the RTT's rise
  ns3::TracedCallback<> rack_trace_;         // "RackLoss": the timer started a recovery
  ns3::EventId probe_event_;
  ns3::EventId reorder_event_;
  // One transmission of a segment: when, a byte of it, and for a retransmission the highest
  // byte first sent before it.
  struct Send {
    ns3::Time at;
    ns3::SequenceNumber32 seq;
    bool again = false;
    ns3::SequenceNumber32 high{0};
    /// Whether this left after `other`.
    bool After(const Send& other) const;
  };
  // RACK's state: the newest-sent transmission known delivered, and its round trip.
  Send rack_{};
  ns3::Time rack_rtt_{};
  // Segments sent again and not yet acknowledged: where, how long, when last (TcpSocketBase's
  // history keeps only first sends).
  struct Resent {
    ns3::SequenceNumber32 seq;
    std::uint32_t size;
    ns3::Time at;
    ns3::SequenceNumber32 high;  // the highest byte sent before it (m_highTxMark)
  };
  std::vector<Resent> resent_;
  // What the receiver has said it holds above the cumulative ACK (SACK blocks, [begin, end)).
  std::vector<std::pair<ns3::SequenceNumber32, ns3::SequenceNumber32>> sacked_;
  ns3::Time probe_due_{};  // when the probe is due; zero: none armed
  bool probed_ = false;    // one probe per flight: until all sent before it is acknowledged
  ns3::SequenceNumber32 probe_end_{0};
  // The newest segment sent with new data: what a probe sends again.
  ns3::SequenceNumber32 last_seq_{0};
  std::uint32_t last_size_ = 0;

  // What TcpDemux knows this socket by (not copied to a fork).
  ns3::Ptr<TcpDemux> demux_;
  ns3::Ipv4EndPoint* registered_ = nullptr;
  std::uint16_t registered_port_ = 0;
  std::uint32_t registered_peer_ = 0;
  std::uint16_t registered_peer_port_ = 0;
};

/// A connected-to-nothing TCP socket of `node`, as TcpSocketFactory would make it, but with
/// Linux's ways above.
ns3::Ptr<ns3::Socket> make_tcp_socket(ns3::Ptr<ns3::Node> node);

}  // namespace swarmlab::sim

#pragma once
// ns-3's TCP socket with two of Linux's habits, so that the simulated swarm loses and repairs
// packets as the real programs do (docs/emulation.md, "Where the worlds part"):
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
// What this does not add: Linux's RACK, which would also repair earlier losses from the
// probe's SACK and notice a lost retransmission (ns-3 needs three duplicate ACKs, or the
// timer), F-RTO's undoing of a spurious timeout, and the reduction of the window after a loss
// the probe repaired.
//
// Sockets are made by make_tcp_socket(): ns-3's TcpL4Protocol only makes TcpSocketBase, and
// accepted connections are forks of their listener, so every socket of a simulated host is
// one of these.
#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

class TailProbingSocket : public ns3::TcpSocketBase {
 public:
  static ns3::TypeId GetTypeId();
  /// The "HyStartExit" trace's signature: `by_delay` when the RTT's rise ended slow start,
  /// false when an ACK train did.
  using HyStartExitCallback = void (*)(bool by_delay);
  TailProbingSocket() = default;
  TailProbingSocket(const TailProbingSocket& other);
  ~TailProbingSocket() override;
  /// TcpSocketBase answers with its own type, which would hide this one's trace source.
  ns3::TypeId GetInstanceTypeId() const override { return GetTypeId(); }

 protected:
  ns3::Ptr<ns3::TcpSocketBase> Fork() override;
  std::uint32_t SendDataPacket(ns3::SequenceNumber32 seq, std::uint32_t max_size,
                               bool with_ack) override;
  void NewAck(const ns3::SequenceNumber32& ack, bool reset_rto) override;
  void ReTxTimeout() override;
  /// Also hands LinuxCubic's HyStart the RTT sample Linux would take from this ACK.
  void EstimateRtt(const ns3::TcpHeader& header) override;
  void DoDispose() override;

 private:
  /// (Re)schedules the probe: two smoothed round trips after the last send or new ACK (plus
  /// a delayed-ACK allowance while at most a segment's worth is out), never after the RTO.
  void ArmProbe();
  /// Whether a probe may go now (and so be scheduled).
  bool MayProbe() const;
  /// The probe timer went off: probes if it is due, else waits until it is.
  void OnProbeTimer();
  void Probe();

  ns3::TracedCallback<> probe_trace_;        // "TailLossProbe": a probe went out
  ns3::TracedCallback<bool> hystart_trace_;  // "HyStartExit": true when by the RTT's rise
  ns3::EventId probe_event_;
  ns3::Time probe_due_{};  // when the probe is due; zero: none armed
  bool probed_ = false;    // one probe per flight: until all sent before it is acknowledged
  ns3::SequenceNumber32 probe_end_{0};
  // The newest segment sent with new data: what a probe sends again.
  ns3::SequenceNumber32 last_seq_{0};
  std::uint32_t last_size_ = 0;
};

/// A connected-to-nothing TCP socket of `node`, as TcpSocketFactory would make it, but probing
/// its tails.
ns3::Ptr<ns3::Socket> make_tcp_socket(ns3::Ptr<ns3::Node> node);

}  // namespace swarmlab::sim

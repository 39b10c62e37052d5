#include "sim/linux_tcp_socket.hpp"

#include <algorithm>

#include "sim/linux_cubic.hpp"

namespace swarmlab::sim {
namespace {
// Linux's TCP_RTO_MIN and TCP_TIMEOUT_MIN (2 jiffies), which its probe timer adds to 2 srtt.
const ns3::Time kLinuxRtoMin = ns3::MilliSeconds(200);
const ns3::Time kLinuxTimeoutMin = ns3::MilliSeconds(2);
}  // namespace

NS_OBJECT_ENSURE_REGISTERED(LinuxTcpSocket);

ns3::TypeId LinuxTcpSocket::GetTypeId() {
  static ns3::TypeId tid =
      ns3::TypeId("swarmlab::sim::LinuxTcpSocket")
          .SetParent<ns3::TcpSocketBase>()
          .AddConstructor<LinuxTcpSocket>()
          .AddTraceSource("TailLossProbe", "A tail loss probe was sent.",
                          ns3::MakeTraceSourceAccessor(&LinuxTcpSocket::probe_trace_),
                          "ns3::TracedCallback::Void")
          .AddTraceSource("HyStartExit",
                          "Slow start ended by HyStart: the RTT rose (true) or an ACK train.",
                          ns3::MakeTraceSourceAccessor(&LinuxTcpSocket::hystart_trace_),
                          "swarmlab::sim::LinuxTcpSocket::HyStartExitCallback")
          .AddTraceSource("RackLoss",
                          "RACK's reordering timer found the oldest segment lost and started a "
                          "fast recovery.",
                          ns3::MakeTraceSourceAccessor(&LinuxTcpSocket::rack_trace_),
                          "ns3::TracedCallback::Void");
  return tid;
}

// A fork starts its own flights: nothing of the listener's probe state carries over.
LinuxTcpSocket::LinuxTcpSocket(const LinuxTcpSocket& other) : ns3::TcpSocketBase(other) {
}

ns3::Ptr<ns3::TcpSocketBase> LinuxTcpSocket::Fork() {
  return ns3::CopyObject<LinuxTcpSocket>(this);
}

std::uint32_t LinuxTcpSocket::SendDataPacket(ns3::SequenceNumber32 seq, std::uint32_t max_size,
                                             bool with_ack) {
  // The newest segment is the last one that carried bytes never sent before: a new one, or a
  // retransmission that TcpTxBuffer filled up with unsent data.
  const ns3::SequenceNumber32 high = m_tcb->m_highTxMark.Get();
  const bool head_again = seq == m_txBuffer->HeadSequence() && seq < high;
  const std::uint32_t size = ns3::TcpSocketBase::SendDataPacket(seq, max_size, with_ack);
  // Linux restarts the retransmission timer whenever it sends the oldest unacknowledged
  // segment again (tcp_xmit_retransmit_queue). ns-3 leaves it running from the last new ACK,
  // so a fast retransmission that waits behind a full uplink queue has less than an RTO to be
  // acknowledged and times out although it arrives (docs/models.md, "TCP timeouts").
  if (head_again) {
    m_retxEvent.Cancel();
    m_retxEvent = ns3::Simulator::Schedule(m_rto, &LinuxTcpSocket::ReTxTimeout, this);
  }
  if (seq < high) {  // sent again: RACK needs the time of this send, not the first
    const ns3::Time now = ns3::Simulator::Now();
    auto same =
        std::find_if(resent_.begin(), resent_.end(), [&](const Resent& r) { return r.seq == seq; });
    if (same != resent_.end()) {
      same->size = size;
      same->at = now;
      same->high = high;
    } else {
      resent_.push_back({seq, size, now, high});
    }
  }
  if (m_tcb->m_highTxMark.Get() > high) {
    last_seq_ = seq;
    last_size_ = size;
  }
  ArmProbe();
  return size;
}

void LinuxTcpSocket::NewAck(const ns3::SequenceNumber32& ack, bool /*reset_rto*/) {
  // Every ACK of new data restarts the timer, as in Linux (tcp_ack re-arms it), the partial
  // ACKs of a recovery included. ns-3 restarts it only at the first of those (RFC 6582's
  // "impatient" timer, meant for recoveries without SACK), so a recovery that repairs several
  // losses one round trip apiece ends in a timeout.
  ns3::TcpSocketBase::NewAck(ack, true);
  // The probed flight is over once all of it is acknowledged (Linux's tlp_high_seq).
  if (probed_ && ack >= probe_end_) probed_ = false;
  ArmProbe();
}

// TcpSocketBase cancels its own timers when it goes; the probe and reordering timers are ours.
LinuxTcpSocket::~LinuxTcpSocket() {
  probe_event_.Cancel();
  reorder_event_.Cancel();
  Unregister();
}

void LinuxTcpSocket::DoForwardUp(ns3::Ptr<ns3::Packet> packet, const ns3::Address& from,
                                 const ns3::Address& to) {
  // A released socket can lose its last reference inside: the segment that ends its
  // connection frees the endpoint, and with it the callback that held the socket.
  const ns3::Ptr<LinuxTcpSocket> keep(this);
  if (m_endPoint != registered_) Register();
  ns3::TcpSocketBase::DoForwardUp(packet, from, to);
  if (m_endPoint == nullptr) Unregister();  // the segment ended the connection
}

void LinuxTcpSocket::Register() {
  Unregister();
  // A listener's endpoint matches any peer: its segments (SYNs) are TcpL4Protocol's to match.
  if (m_endPoint == nullptr || m_endPoint->GetPeerPort() == 0 ||
      m_endPoint->GetLocalAddress() == ns3::Ipv4Address::GetAny()) {
    return;
  }
  if (!demux_) demux_ = TcpDemux::of(GetNode());
  if (!demux_) return;
  registered_ = m_endPoint;
  registered_port_ = m_endPoint->GetLocalPort();
  registered_peer_ = m_endPoint->GetPeerAddress().Get();
  registered_peer_port_ = m_endPoint->GetPeerPort();
  demux_->add(registered_port_, registered_peer_, registered_peer_port_, this);
}

void LinuxTcpSocket::Unregister() {
  if (registered_ == nullptr) return;
  demux_->remove(registered_port_, registered_peer_, registered_peer_port_, this);
  registered_ = nullptr;
}

void LinuxTcpSocket::ReceivedAck(ns3::Ptr<ns3::Packet> packet, const ns3::TcpHeader& header) {
  NoteDelivered(header);
  ns3::TcpSocketBase::ReceivedAck(packet, header);
  ResendIfRetransmissionLost();
  ArmReorderTimer();
}

ns3::Time LinuxTcpSocket::FirstSentAt(ns3::SequenceNumber32 seq) const {
  for (const auto& sent : m_history) {
    if (seq < sent.seq) break;
    if (seq < sent.seq + ns3::SequenceNumber32(sent.count))
      return sent.retx ? ns3::Time{} : sent.time;
  }
  return ns3::Time{};
}

bool LinuxTcpSocket::Send::After(const Send& other) const {
  // Linux's tcp_rack_sent_after. Segments of one write leave at one instant, in order; a
  // retransmission at that instant left after the bytes first sent before it (up to `high`)
  // and before the rest: ns-3 may send new data on an ACK and then, on a timer of the same
  // instant, a retransmission.
  if (at != other.at) return at > other.at;
  if (!again && !other.again) return seq > other.seq;
  if (!again) return seq >= other.high;
  if (!other.again) return high > other.seq;
  return high != other.high ? high > other.high : seq > other.seq;
}

void LinuxTcpSocket::NoteDelivered(const ns3::TcpHeader& header) {
  // Linux's tcp_rack_advance, for what this ACK newly delivers: the bytes its cumulative ACK
  // newly covers and those its SACK blocks add to what the previous ACK's blocks held. SACK
  // blocks are repeated in every ACK; taken again, a block delivered long ago would count as
  // delivered now, after its segment was (needlessly) sent again, and make RACK call
  // retransmissions lost that are only queued. Of each run of new bytes, the last gives the
  // send time and round trip: segments leave in order.
  const ns3::Time now = ns3::Simulator::Now();
  auto note = [&](ns3::SequenceNumber32 seq) {
    Send sent{FirstSentAt(seq), seq};
    for (const auto& r : resent_) {
      // A retransmission's, unless acknowledged sooner than any round trip: then the ACK was
      // for its first send.
      if (r.seq <= seq && seq < r.seq + ns3::SequenceNumber32(r.size) &&
          now - r.at >= m_tcb->m_minRtt)
        sent = Send{r.at, seq, true, r.high};
    }
    if (sent.at.IsStrictlyPositive() && sent.After(rack_)) {
      rack_ = sent;
      rack_rtt_ = now - sent.at;
    }
  };
  // The highest byte of [begin, end) that the previous ACK's blocks did not hold, if any.
  auto newest_new = [&](ns3::SequenceNumber32 begin, ns3::SequenceNumber32 end) {
    for (bool moved = true; moved && begin < end;) {
      moved = false;
      for (const auto& [b, e] : sacked_) {
        if (b < end && end <= e) {
          end = b;
          moved = true;
        }
      }
    }
    return std::pair{end, begin < end};
  };
  const ns3::SequenceNumber32 ack = header.GetAckNumber();
  if (const auto [end, any] = newest_new(m_txBuffer->HeadSequence(), ack); any) note(end - 1);
  std::vector<std::pair<ns3::SequenceNumber32, ns3::SequenceNumber32>> blocks;
  if (auto option = header.GetOption(ns3::TcpOption::SACK)) {
    const auto sack = ns3::DynamicCast<const ns3::TcpOptionSack>(option);
    for (const auto& [begin, end] : sack->GetSackList()) {
      if (const auto [last, any] = newest_new(begin, end); any) note(last - 1);
      blocks.emplace_back(begin, end);
    }
  }
  // What the receiver holds above the ACK: the blocks just read, and those of before that
  // they neither repeat nor contain (a receiver reports only its latest few).
  const std::size_t reported = blocks.size();
  for (const auto& [b, e] : sacked_) {
    const bool contained = std::any_of(blocks.begin(), blocks.begin() + reported,
                                       [&](auto& n) { return n.first <= b && e <= n.second; });
    if (e > ack && !contained) blocks.emplace_back(std::max(b, ack), e);
  }
  sacked_ = std::move(blocks);
  std::erase_if(resent_,
                [&](const Resent& r) { return r.seq + ns3::SequenceNumber32(r.size) <= ack; });
}

void LinuxTcpSocket::ResendIfRetransmissionLost() {
  // RACK in a recovery (its reordering window is then zero): the oldest segment's last
  // retransmission is lost once something sent after it has been delivered. RACK's other
  // condition, that the retransmission has been out for that one's round trip, holds by then
  // (it left no later), so this acts on the ACK, without a timer. Marked lost, the segment is
  // sent again as the window allows; ns-3 would wait for the timeout, which half the
  // simulated timeouts did before.
  if (m_state != ESTABLISHED || m_tcb->m_congState != ns3::TcpSocketState::CA_RECOVERY ||
      !rack_.at.IsStrictlyPositive())
    return;
  const ns3::SequenceNumber32 head = m_txBuffer->HeadSequence();
  auto resent =
      std::find_if(resent_.begin(), resent_.end(), [&](const Resent& r) { return r.seq == head; });
  if (resent == resent_.end() || !rack_.After(Send{resent->at, head, true, resent->high})) return;
  m_txBuffer->MarkHeadAsLost();
  SendPendingData(m_connected);
}

void LinuxTcpSocket::ArmReorderTimer() {
  // Duplicate ACKs with SACKed data above the oldest segment, not yet enough for ns-3 to call
  // it lost (CA_DISORDER; recoveries and timeouts repair losses their own way).
  const bool waiting = m_state == ESTABLISHED &&
                       m_tcb->m_congState == ns3::TcpSocketState::CA_DISORDER &&
                       m_txBuffer->GetSacked() > 0;
  const ns3::Time head_sent = waiting ? FirstSentAt(m_txBuffer->HeadSequence()) : ns3::Time{};
  if (!head_sent.IsStrictlyPositive() || !rack_.at.IsStrictlyPositive() ||
      !rack_.After(Send{head_sent, m_txBuffer->HeadSequence()})) {
    reorder_event_.Cancel();
    return;
  }
  // Linux's reordering window while it has seen no reordering and fewer than three segments
  // are SACKed: a quarter of the least round trip, at most the smoothed one. (ns-3's least
  // round trip, m_minRtt, is the least smoothed one, not the least sample as in Linux.)
  const ns3::Time window = std::min(m_tcb->m_minRtt / 4, m_rtt->GetEstimate());
  const ns3::Time due = head_sent + rack_rtt_ + window;
  const ns3::Time now = ns3::Simulator::Now();
  reorder_event_.Cancel();
  reorder_event_ = ns3::Simulator::Schedule(std::max(due - now, ns3::Time{}),
                                            &LinuxTcpSocket::OnReorderTimer, this);
}

void LinuxTcpSocket::OnReorderTimer() {
  if (m_state != ESTABLISHED || m_tcb->m_congState != ns3::TcpSocketState::CA_DISORDER ||
      m_txBuffer->GetSacked() == 0 || (m_endPoint == nullptr && m_endPoint6 == nullptr))
    return;
  rack_trace_();
  // What three duplicate ACKs would have done: the oldest segment is marked lost and sent
  // again, and the window is cut as for any loss.
  EnterRecovery(0);
  SendPendingData(m_connected);
}

void LinuxTcpSocket::ReTxTimeout() {
  reorder_event_.Cancel();
  probe_event_.Cancel();
  probe_due_ = ns3::Time{};
  probed_ = false;  // what follows the timeout is a new flight
  ns3::TcpSocketBase::ReTxTimeout();
}

void LinuxTcpSocket::EstimateRtt(const ns3::TcpHeader& header) {
  // The sample Linux gives congestion control (tcp_clean_rtx_queue's ca_rtt_us): the time
  // since the newest segment this ACK covers was sent, and none when it covers one sent
  // again. ns-3's own sample, from the timestamp echo, is in whole milliseconds: too coarse
  // for HyStart's 4 ms threshold.
  const ns3::SequenceNumber32 ack = header.GetAckNumber();
  ns3::Time sample{};
  bool resent = false;
  for (const auto& sent : m_history) {
    if (sent.seq + ns3::SequenceNumber32(sent.count) > ack) break;
    resent |= sent.retx;
    sample = ns3::Simulator::Now() - sent.time;
  }
  ns3::TcpSocketBase::EstimateRtt(header);
  auto* cubic = dynamic_cast<LinuxCubic*>(ns3::PeekPointer(m_congestionControl));
  if (cubic == nullptr || resent || !sample.IsStrictlyPositive()) return;
  const auto exits = cubic->OnRttSample(m_tcb, ack, sample);
  if (exits.ack_train) hystart_trace_(false);
  if (exits.delay) hystart_trace_(true);
}

void LinuxTcpSocket::DoDispose() {
  probe_event_.Cancel();
  reorder_event_.Cancel();
  Unregister();
  ns3::TcpSocketBase::DoDispose();
}

bool LinuxTcpSocket::MayProbe() const {
  // Probes only in the open state (no SACKed or lost segment pending; Linux also in CWR), with
  // an RTT measured (Linux would use 1 s without one; ns-3 takes no sample from the
  // handshake), while the newest segment is wholly unacknowledged. Closing connections are not
  // probed: ns-3 sets FIN on a last segment sent again and changes state, and a reset one has
  // no endpoint left to send from.
  return !probed_ && m_state == ESTABLISHED && (m_endPoint != nullptr || m_endPoint6 != nullptr) &&
         m_tcb->m_congState == ns3::TcpSocketState::CA_OPEN && m_rtt->GetNSamples() > 0 &&
         last_size_ > 0 && m_txBuffer->HeadSequence() <= last_seq_ &&
         m_txBuffer->GetSacked() == 0 && m_txBuffer->GetLost() == 0;
}

void LinuxTcpSocket::ArmProbe() {
  probe_due_ = ns3::Time{};
  if (!MayProbe() || !m_retxEvent.IsRunning()) return;
  // Linux (tcp_schedule_loss_probe): 2 srtt, plus TCP_TIMEOUT_MIN (2 ms), or plus its minimum
  // RTO when a single segment is out (its ACK may be delayed); at the latest just before the
  // RTO would fire. Here the longer wait applies while at most a segment's worth is out, a
  // few small frames too: probed at 2 srtt, those are mostly still queued behind the uplink's
  // data, not lost, and ns-3 cannot undo what a needless probe's duplicate ACKs set off
  // (flash-crowd-small seed 1: 161 timeouts and ratio 1.276 against 102 and 1.248).
  const bool one_segment = m_txBuffer->BytesInFlight() <= m_tcb->m_segmentSize;
  ns3::Time pto = 2 * m_rtt->GetEstimate() + (one_segment ? kLinuxRtoMin : kLinuxTimeoutMin);
  const ns3::Time rto_left = ns3::Simulator::GetDelayLeft(m_retxEvent);
  if (rto_left <= ns3::MicroSeconds(1)) return;
  pto = std::min(pto, rto_left - ns3::MicroSeconds(1));
  // Rearmed at every send and ACK: a timer already set no later than the new time is kept
  // and goes off again when it finds it early, so ns-3 schedules one event per probe time
  // rather than one per segment (each cancelled event stays in its queue until due).
  const ns3::Time now = ns3::Simulator::Now();
  probe_due_ = now + pto;
  if (probe_event_.IsRunning() && now + ns3::Simulator::GetDelayLeft(probe_event_) <= probe_due_)
    return;
  probe_event_.Cancel();
  probe_event_ = ns3::Simulator::Schedule(pto, &LinuxTcpSocket::OnProbeTimer, this);
}

void LinuxTcpSocket::OnProbeTimer() {
  if (probe_due_.IsZero()) return;
  const ns3::Time now = ns3::Simulator::Now();
  if (now < probe_due_) {
    probe_event_ = ns3::Simulator::Schedule(probe_due_ - now, &LinuxTcpSocket::OnProbeTimer, this);
    return;
  }
  probe_due_ = ns3::Time{};
  Probe();
}

void LinuxTcpSocket::Probe() {
  if (!MayProbe()) return;
  probed_ = true;
  probe_end_ = m_tcb->m_highTxMark.Get();
  probe_trace_();
  // The newest segment again: if it was the one lost, its ACK ends the flight.
  ns3::TcpSocketBase::SendDataPacket(last_seq_, last_size_, true);
  // As after any transmission in Linux, the RTO counts from the probe. Where more than the
  // probed segment was lost, Linux would find the rest from the probe's SACK (RACK); this
  // socket keeps no send time for the probe (it bypasses SendDataPacket above), so its RACK
  // cannot, and like ns-3 3.37 it waits for this later timer. Keeping the earlier
  // one instead turns the probes that come just before it into timeouts all the same
  // (flash-crowd-small seed 1: 137 timeouts against 102).
  m_retxEvent.Cancel();
  m_retxEvent = ns3::Simulator::Schedule(m_rto, &LinuxTcpSocket::ReTxTimeout, this);
}

ns3::Ptr<ns3::Socket> make_tcp_socket(ns3::Ptr<ns3::Node> node) {
  auto tcp = node->GetObject<ns3::TcpL4Protocol>();
  ns3::TypeIdValue recovery;
  ns3::TypeIdValue rtt_type;
  tcp->GetAttribute("RecoveryType", recovery);
  tcp->GetAttribute("RttEstimatorType", rtt_type);
  ns3::ObjectFactory make;
  auto socket = ns3::CreateObject<LinuxTcpSocket>();
  socket->SetNode(node);
  socket->SetTcp(tcp);
  make.SetTypeId(rtt_type.Get());
  socket->SetRtt(make.Create<ns3::RttEstimator>());
  // ns-3's CUBIC with Linux's HyStart (sim/linux_cubic.hpp), fed by EstimateRtt above.
  socket->SetCongestionControlAlgorithm(ns3::CreateObject<LinuxCubic>());
  make.SetTypeId(recovery.Get());
  socket->SetRecoveryAlgorithm(make.Create<ns3::TcpRecoveryOps>());
  tcp->AddSocket(socket);
  TcpDemux::of(node);  // from the first segment on, so that every socket's is counted
  return socket;
}

}  // namespace swarmlab::sim

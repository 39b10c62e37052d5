#include "sim/tail_probing_socket.hpp"

#include <algorithm>

namespace swarmlab::sim {

NS_OBJECT_ENSURE_REGISTERED(TailProbingSocket);

ns3::TypeId TailProbingSocket::GetTypeId() {
  static ns3::TypeId tid =
      ns3::TypeId("swarmlab::sim::TailProbingSocket")
          .SetParent<ns3::TcpSocketBase>()
          .SetGroupName("Internet")
          .AddConstructor<TailProbingSocket>()
          .AddTraceSource("TailLossProbe", "A tail loss probe was sent.",
                          ns3::MakeTraceSourceAccessor(&TailProbingSocket::probe_trace_),
                          "ns3::TracedCallback::Void");
  return tid;
}

// A fork starts its own flights: nothing of the listener's probe state carries over.
TailProbingSocket::TailProbingSocket(const TailProbingSocket& other) : ns3::TcpSocketBase(other) {
}

ns3::Ptr<ns3::TcpSocketBase> TailProbingSocket::Fork() {
  return ns3::CopyObject<TailProbingSocket>(this);
}

std::uint32_t TailProbingSocket::SendDataPacket(ns3::SequenceNumber32 seq, std::uint32_t max_size,
                                                bool with_ack) {
  const bool fresh = seq >= m_tcb->m_highTxMark.Get();
  const std::uint32_t size = ns3::TcpSocketBase::SendDataPacket(seq, max_size, with_ack);
  if (fresh && size > 0) {
    last_seq_ = seq;
    last_size_ = size;
  }
  ArmProbe();
  return size;
}

void TailProbingSocket::NewAck(const ns3::SequenceNumber32& ack, bool reset_rto) {
  ns3::TcpSocketBase::NewAck(ack, reset_rto);
  probed_ = false;
  ArmProbe();
}

// TcpSocketBase cancels its own timers when it goes; the probe is ours.
TailProbingSocket::~TailProbingSocket() {
  probe_.Cancel();
}

void TailProbingSocket::ReTxTimeout() {
  probe_.Cancel();
  ns3::TcpSocketBase::ReTxTimeout();
}

void TailProbingSocket::DoDispose() {
  probe_.Cancel();
  ns3::TcpSocketBase::DoDispose();
}

void TailProbingSocket::ArmProbe() {
  probe_.Cancel();
  // Linux probes only in the open state, once per flight, with an RTT measured.
  if (probed_ || m_state != ESTABLISHED || m_tcb->m_congState != ns3::TcpSocketState::CA_OPEN ||
      !m_retxEvent.IsRunning() || last_size_ == 0 || m_txBuffer->HeadSequence() > last_seq_)
    return;
  const ns3::Time srtt = m_rtt->GetEstimate();
  if (srtt.IsZero()) return;
  // Linux (tcp_schedule_loss_probe): 2 srtt, plus its minimum RTO when one segment is out,
  // since its ACK may be delayed; at the latest when the RTO would fire.
  // The tx buffer's own count: TcpSocketBase::BytesInFlight() also rewrites m_bytesInFlight,
  // which the recovery in progress reads.
  const bool one_segment = m_txBuffer->BytesInFlight() <= m_tcb->m_segmentSize;
  ns3::Time pto = 2 * srtt + (one_segment ? m_minRto : ns3::MilliSeconds(2));
  const ns3::Time rto_left = ns3::Simulator::GetDelayLeft(m_retxEvent);
  if (rto_left <= ns3::MicroSeconds(1)) return;
  pto = std::min(pto, rto_left - ns3::MicroSeconds(1));
  probe_ = ns3::Simulator::Schedule(pto, &TailProbingSocket::Probe, this);
}

void TailProbingSocket::Probe() {
  if (m_state != ESTABLISHED || m_tcb->m_congState != ns3::TcpSocketState::CA_OPEN ||
      m_txBuffer->HeadSequence() > last_seq_ || m_txBuffer->BytesInFlight() == 0)
    return;
  probed_ = true;
  probe_trace_();
  // The newest segment again: its ACK says whether anything before it is missing.
  ns3::TcpSocketBase::SendDataPacket(last_seq_, last_size_, true);
  // As after any transmission in Linux, the RTO counts from the probe.
  m_retxEvent.Cancel();
  m_retxEvent = ns3::Simulator::Schedule(m_rto, &TailProbingSocket::ReTxTimeout, this);
}

ns3::Ptr<ns3::Socket> make_tcp_socket(ns3::Ptr<ns3::Node> node) {
  auto tcp = node->GetObject<ns3::TcpL4Protocol>();
  ns3::TypeIdValue congestion;
  ns3::TypeIdValue recovery;
  ns3::TypeIdValue rtt_type;
  tcp->GetAttribute("SocketType", congestion);
  tcp->GetAttribute("RecoveryType", recovery);
  tcp->GetAttribute("RttEstimatorType", rtt_type);
  ns3::ObjectFactory make;
  auto socket = ns3::CreateObject<TailProbingSocket>();
  socket->SetNode(node);
  socket->SetTcp(tcp);
  make.SetTypeId(rtt_type.Get());
  socket->SetRtt(make.Create<ns3::RttEstimator>());
  make.SetTypeId(congestion.Get());
  socket->SetCongestionControlAlgorithm(make.Create<ns3::TcpCongestionOps>());
  make.SetTypeId(recovery.Get());
  socket->SetRecoveryAlgorithm(make.Create<ns3::TcpRecoveryOps>());
  tcp->AddSocket(socket);
  return socket;
}

}  // namespace swarmlab::sim

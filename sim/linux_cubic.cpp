#include "sim/linux_cubic.hpp"

#include <algorithm>

namespace swarmlab::sim {
namespace {
// tcp_cubic.c's defaults: hystart_low_window, hystart_ack_delta_us, HYSTART_MIN_SAMPLES and
// HYSTART_DELAY_MIN/MAX.
constexpr std::uint32_t kLowWindow = 16;  // segments
const ns3::Time kAckDelta = ns3::MilliSeconds(2);
constexpr std::uint32_t kMinSamples = 8;
const ns3::Time kDelayMin = ns3::MilliSeconds(4);
const ns3::Time kDelayMax = ns3::MilliSeconds(16);
// hystart_ack_delay(): the time four GSO bursts of 64 KB take at the pacing rate, at most
// 1 ms, which it is at every rate below 2 Gbit/s (every rate a scenario uses).
const ns3::Time kAckDelay = ns3::MilliSeconds(1);
}  // namespace

NS_OBJECT_ENSURE_REGISTERED(LinuxCubic);

ns3::TypeId LinuxCubic::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("swarmlab::sim::LinuxCubic")
                               .SetParent<ns3::TcpCubic>()
                               .AddConstructor<LinuxCubic>();
  return tid;
}

// Attributes are set after the constructor runs, so ns-3's HyStart goes off here.
void LinuxCubic::NotifyConstructionCompleted() {
  ns3::TcpCubic::NotifyConstructionCompleted();
  SetAttribute("HyStart", ns3::BooleanValue(false));
}

ns3::Ptr<ns3::TcpCongestionOps> LinuxCubic::Fork() {
  return ns3::CopyObject<LinuxCubic>(this);
}

void LinuxCubic::CongestionStateSet(ns3::Ptr<ns3::TcpSocketState> tcb,
                                    const ns3::TcpSocketState::TcpCongState_t new_state) {
  ns3::TcpCubic::CongestionStateSet(tcb, new_state);
  // A timeout starts slow start over, and Linux (bictcp_reset) its HyStart with it.
  if (new_state == ns3::TcpSocketState::CA_LOSS) {
    found_ = false;
    delay_min_ = ns3::Time{};
    StartRound(*tcb);
  }
}

void LinuxCubic::StartRound(const ns3::TcpSocketState& tcb) {
  round_start_ = last_ack_ = ns3::Simulator::Now();
  round_end_ = tcb.m_highTxMark.Get();
  round_min_ = ns3::Time{};
  samples_ = 0;
}

LinuxCubic::Exits LinuxCubic::OnRttSample(ns3::Ptr<ns3::TcpSocketState> tcb,
                                          ns3::SequenceNumber32 ack, ns3::Time rtt) {
  Exits exits;
  if (delay_min_.IsZero() || rtt < delay_min_) delay_min_ = rtt;
  if (found_ || tcb->m_cWnd >= tcb->m_ssThresh) return exits;
  if (ack > round_end_) StartRound(*tcb);
  if (tcb->m_cWnd < kLowWindow * tcb->m_segmentSize) return exits;
  const ns3::Time now = ns3::Simulator::Now();
  // ACKs still arriving back to back half a minimum RTT after the round began: the window
  // already fills the path.
  if (now - last_ack_ <= kAckDelta) {
    last_ack_ = now;
    exits.ack_train = now - round_start_ > (delay_min_ + kAckDelay) / 2;
  }
  // The round's smallest RTT above the minimum by an eighth of it (4-16 ms): a queue is
  // building. Tested on the same sample even after an ACK train, as Linux does.
  if (round_min_.IsZero() || rtt < round_min_) round_min_ = rtt;
  if (samples_ < kMinSamples) {
    ++samples_;
  } else {
    exits.delay = round_min_ > delay_min_ + std::clamp(delay_min_ / 8, kDelayMin, kDelayMax);
  }
  if (exits.ack_train || exits.delay) {
    found_ = true;
    tcb->m_ssThresh = tcb->m_cWnd;
  }
  return exits;
}

}  // namespace swarmlab::sim

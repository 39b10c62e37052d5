#pragma once
// ns-3's CUBIC with the slow-start exit Linux's CUBIC has (HyStart, tcp_cubic.c), so that a
// simulated flow stops doubling its window when Linux's would: before it overflows the uplink
// queue, not after (docs/models.md, "Leaving slow start").
//
// ns-3 3.37 has HyStart too, but fed and tuned differently: it sees only the smoothed RTT
// (TcpSocketBase hands congestion control nothing else, from samples in whole milliseconds),
// and ends slow start when that exceeds
// the minimum by the minimum itself (at most HyStartDelayMax), i.e. at twice the path's RTT.
// Linux takes each ACK's own RTT sample and ends slow start once the smallest of a round's
// samples exceeds the minimum by an eighth of it (clamped to 4-16 ms): after a few
// milliseconds of queue. In a swarm's 200 ms uplink queues, ns-3's flows kept doubling into a
// full queue and lost packets in bursts.
//
// Everything else is ns-3's TcpCubic; its own HyStart is switched off. The RTT samples come
// from LinuxTcpSocket, which takes them from each ACK as Linux does.
#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

class LinuxCubic : public ns3::TcpCubic {
 public:
  static ns3::TypeId GetTypeId();
  LinuxCubic() = default;
  LinuxCubic(const LinuxCubic& other) = default;

  std::string GetName() const override { return "LinuxCubic"; }
  ns3::Ptr<ns3::TcpCongestionOps> Fork() override;
  void CongestionStateSet(ns3::Ptr<ns3::TcpSocketState> tcb,
                          const ns3::TcpSocketState::TcpCongState_t new_state) override;

  /// Which of HyStart's tests ended slow start on a sample, as Linux counts them (TcpExt's
  /// TCPHystartTrainDetect and TCPHystartDelayDetect): both can, on the same sample.
  struct Exits {
    bool ack_train = false;
    bool delay = false;
  };
  /// One RTT sample `rtt`, taken from the ACK of `ack` (cubictcp_acked and hystart_update).
  Exits OnRttSample(ns3::Ptr<ns3::TcpSocketState> tcb, ns3::SequenceNumber32 ack, ns3::Time rtt);

 protected:
  void NotifyConstructionCompleted() override;

 private:
  void StartRound(const ns3::TcpSocketState& tcb);

  bool found_ = false;         // slow start was ended: no more tests until a timeout
  ns3::Time delay_min_{};      // smallest RTT sample since the last timeout; zero: none yet
  ns3::Time round_start_{};    // when the current round (one window of data) began
  ns3::Time last_ack_{};       // the last ACK of the current train
  ns3::Time round_min_{};      // smallest sample of the round; zero: none yet
  std::uint32_t samples_ = 0;  // samples taken this round, up to kMinSamples
  ns3::SequenceNumber32 round_end_{0};
};

}  // namespace swarmlab::sim

#pragma once
// How a host hands its stream of virtual bytes to an ns-3 TCP socket: as the send buffer
// frees up, one write per segment TCP will send. Every byte is virtual, so frame boundaries
// do not matter here; what matters is that no segment spans two writes: ns-3 then merges the
// writes and allocates their bytes (about one byte of RAM per byte in flight). TCP cuts full
// segments from the first unsent byte, so each write ends where TCP's next cut falls: a tail
// shorter than a segment, if TCP has not sent it alone, is completed to a whole segment by
// the next write. Used by Ns3Host and by bench's playback of a run's traffic, which must
// put the same segments on the wire.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

class TcpStreamWriter {
 public:
  /// Stream bytes the host wrote and TCP has not taken yet.
  std::uint64_t unsent() const { return unsent_; }
  /// Stream bytes handed to TCP.
  std::uint64_t written() const { return written_; }
  /// Of those, sent at least once (TCP's highest sequence).
  std::uint64_t sent() const { return tcp_sent_; }

  void add(std::uint64_t bytes) { unsent_ += bytes; }
  /// What TCP has not taken is dropped (a reset close).
  void drop_unsent() { unsent_ = 0; }

  /// The socket's "HighestSequence" trace moved from `old_value` to `new_value`. False while
  /// nothing of ours was written (the SYN and SYN-ACK), true when sent() may have moved.
  bool on_highest_sequence(ns3::SequenceNumber32 old_value, ns3::SequenceNumber32 new_value) {
    if (written_ == 0) {
      tcp_base_ = new_value;  // before any data of ours
      return false;
    }
    if (!tcp_base_) tcp_base_ = old_value;
    tcp_sent_ = static_cast<std::uint64_t>(new_value - *tcp_base_);
    return true;
  }

  /// Hands TCP what its send buffer has room for. True when nothing is left unsent.
  bool pump(ns3::Socket& socket, std::uint32_t segment) {
    while (unsent_ > 0) {
      const std::uint64_t queued_in_tcp = written_ - std::min(written_, tcp_sent_);
      const auto to_cut = segment - static_cast<std::uint32_t>(queued_in_tcp % segment);
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(unsent_, to_cut));
      if (socket.GetTxAvailable() < n) return false;  // wait for room for the whole piece
      if (socket.Send(ns3::Create<ns3::Packet>(n)) < 0) return false;
      unsent_ -= n;
      written_ += n;
    }
    return true;
  }

 private:
  std::uint64_t unsent_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t tcp_sent_ = 0;
  std::optional<ns3::SequenceNumber32> tcp_base_;
};

}  // namespace swarmlab::sim

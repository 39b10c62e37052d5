#pragma once
// What Linux's TCP did in an emulated host, by its own counters (/proc/net/netstat and
// /proc/net/snmp, which are per network namespace). The simulation reports ns-3's side in
// run.json (tcp_timeouts, tcp_fast_recoveries, tcp_loss_probes); side by side they show where the
// two stacks part (docs/emulation.md, "What differs from the simulation").
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace swarmlab::emu {

struct TcpCounters {
  /// TcpExt.TCPTimeouts: expiries of the retransmission timer, repeats while backing off
  /// included.
  std::uint64_t timeouts = 0;
  /// TcpExt.TCPSpuriousRTOs: timeouts F-RTO found spurious afterwards, and undid.
  std::uint64_t spurious_timeouts = 0;
  /// TcpExt.TCPLossProbes: tail loss probes (RFC 8985), which recover a lost last segment
  /// without waiting for the timer.
  std::uint64_t loss_probes = 0;
  /// TcpExt.TCPHystartTrainDetect and TCPHystartDelayDetect: slow starts CUBIC's HyStart
  /// ended (ACKs arriving back to back for half a round trip; the RTT rising) before a loss.
  std::uint64_t hystart_train_exits = 0;
  std::uint64_t hystart_delay_exits = 0;
  /// TcpExt.TCPSackRecovery + TCPRenoRecovery: entries into fast recovery.
  std::uint64_t fast_recoveries = 0;
  /// Tcp.RetransSegs and Tcp.OutSegs.
  std::uint64_t retransmitted_segments = 0;
  std::uint64_t segments_sent = 0;

  TcpCounters& operator+=(const TcpCounters& o);
  nlohmann::json to_json() const;
};

/// Reads the counters from the text of /proc/net/netstat and /proc/net/snmp, in either order:
/// each "Prefix: name name ..." line is followed by "Prefix: value value ...". Lines that do
/// not pair up are skipped. Nothing when either file's part is missing (no TcpExt.TCPTimeouts
/// or no Tcp.OutSegs): a count the text lacks must not pass for a count of zero.
std::optional<TcpCounters> parse_tcp_counters(std::string_view text);

}  // namespace swarmlab::emu

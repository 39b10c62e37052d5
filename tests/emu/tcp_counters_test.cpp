#include "emu/tcp_counters.hpp"

#include <gtest/gtest.h>

namespace swarmlab::emu {
namespace {

// As the kernel prints them (fields shortened; the order and the pairing are what matter).
constexpr const char* kNetstat =
    "TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes TCPSackRecovery TCPRenoRecovery "
    "TCPSpuriousRTOs\n"
    "TcpExt: 0 7 124 186 2 5\n"
    "IpExt: InNoRoutes InOctets\n"
    "IpExt: 0 123456789\n";
constexpr const char* kSnmp =
    "Ip: Forwarding DefaultTTL\n"
    "Ip: 2 64\n"
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens OutSegs RetransSegs\n"
    "Tcp: 1 200 120000 -1 12 137550 1136\n";

TEST(TcpCounters, ReadsTheKernelsPairsOfLines) {
  const auto c = parse_tcp_counters(std::string(kNetstat) + kSnmp);
  EXPECT_EQ(c.timeouts, 7u);
  EXPECT_EQ(c.loss_probes, 124u);
  EXPECT_EQ(c.fast_recoveries, 188u);  // SACK and Reno recoveries
  EXPECT_EQ(c.spurious_timeouts, 5u);
  EXPECT_EQ(c.segments_sent, 137550u);  // after MaxConn's -1
  EXPECT_EQ(c.retransmitted_segments, 1136u);
}

TEST(TcpCounters, EitherFileAloneOrInAnyOrder) {
  EXPECT_EQ(parse_tcp_counters(kSnmp).retransmitted_segments, 1136u);
  EXPECT_EQ(parse_tcp_counters(kSnmp).timeouts, 0u);
  const auto c = parse_tcp_counters(std::string(kSnmp) + kNetstat);
  EXPECT_EQ(c.timeouts, 7u);
  EXPECT_EQ(c.segments_sent, 137550u);
}

TEST(TcpCounters, LinesThatDoNotPairUpAreSkipped) {
  // A header without its values, values without a header, a count mismatch, garbage: none of
  // it may shift the pairing of what follows.
  const auto c = parse_tcp_counters(
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "Tcp: 1 2\n"
      "garbage\n"
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "TcpExt: 3\n"
      "TcpExt: 9 9\n"
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "TcpExt: 4 5");  // no final newline
  EXPECT_EQ(c.timeouts, 4u);
  EXPECT_EQ(c.loss_probes, 5u);
  EXPECT_EQ(parse_tcp_counters("").segments_sent, 0u);
}

TEST(TcpCounters, SumOverHosts) {
  auto total = parse_tcp_counters(kNetstat);
  total += parse_tcp_counters(std::string(kNetstat) + kSnmp);
  EXPECT_EQ(total.timeouts, 14u);
  EXPECT_EQ(total.segments_sent, 137550u);
  const auto j = total.to_json();
  EXPECT_EQ(j.at("loss_probes"), 248u);
  EXPECT_EQ(j.at("retransmitted_segments"), 1136u);
}

}  // namespace
}  // namespace swarmlab::emu

#include "emu/tcp_counters.hpp"

#include <gtest/gtest.h>

#include <string>

namespace swarmlab::emu {
namespace {

// As the kernel prints them (fields shortened; the order and the pairing are what matter).
constexpr const char* kNetstat =
    "TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes TCPSackRecovery TCPRenoRecovery "
    "TCPSpuriousRTOs TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect\n"
    "TcpExt: 0 7 124 186 2 5 3 480 11\n"
    "IpExt: InNoRoutes InOctets\n"
    "IpExt: 0 123456789\n";
constexpr const char* kSnmp =
    "Ip: Forwarding DefaultTTL\n"
    "Ip: 2 64\n"
    "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens OutSegs RetransSegs\n"
    "Tcp: 1 200 120000 -1 12 137550 1136\n";

TEST(TcpCounters, ReadsTheKernelsPairsOfLines) {
  const auto c = parse_tcp_counters(std::string(kNetstat) + kSnmp);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->timeouts, 7u);
  EXPECT_EQ(c->loss_probes, 124u);
  EXPECT_EQ(c->fast_recoveries, 188u);  // SACK and Reno recoveries
  EXPECT_EQ(c->spurious_timeouts, 5u);
  EXPECT_EQ(c->hystart_train_exits, 3u);
  EXPECT_EQ(c->hystart_delay_exits, 11u);
  EXPECT_EQ(c->segments_sent, 137550u);  // after MaxConn's -1
  EXPECT_EQ(c->retransmitted_segments, 1136u);
  // The other order reads the same.
  const auto d = parse_tcp_counters(std::string(kSnmp) + kNetstat);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->timeouts, 7u);
  EXPECT_EQ(d->segments_sent, 137550u);
}

TEST(TcpCounters, EitherFileMissingIsNoCountAtAll) {
  // Zero timeouts read from nothing would pass for a TCP that never timed out.
  EXPECT_FALSE(parse_tcp_counters(kSnmp));
  EXPECT_FALSE(parse_tcp_counters(kNetstat));
  EXPECT_FALSE(parse_tcp_counters(""));
  // A kernel without some of the other counters still has these two.
  const auto c =
      parse_tcp_counters("TcpExt: TCPTimeouts\nTcpExt: 3\nTcp: OutSegs RetransSegs\nTcp: 10 1\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->loss_probes, 0u);
  EXPECT_EQ(c->timeouts, 3u);
}

TEST(TcpCounters, LinesThatDoNotPairUpAreSkipped) {
  // A header without its values (followed by another prefix, by the same header again, by too
  // few values), values without a header, garbage, a value line whose first word is not
  // wholly a number: none of it is read, and none of it shifts the pairing of what follows.
  const auto c = parse_tcp_counters(
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "Tcp: 1 2\n"
      "garbage\n"
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "TcpExt: 3\n"
      "TcpExt: 9 9\n"
      "Tcp: OutSegs RetransSegs\n"
      "Tcp: 12abc 1\n"
      "Tcp: OutSegs RetransSegs\n"
      "Tcp: 20 2\n"
      "TcpExt: TCPTimeouts TCPLossProbes\n"
      "TcpExt: 4 5");  // no final newline
  ASSERT_TRUE(c);
  EXPECT_EQ(c->timeouts, 4u);
  EXPECT_EQ(c->loss_probes, 5u);
  EXPECT_EQ(c->segments_sent, 20u);
  EXPECT_EQ(c->retransmitted_segments, 2u);
}

TEST(TcpCounters, SumOverHosts) {
  const auto one = parse_tcp_counters(std::string(kNetstat) + kSnmp);
  ASSERT_TRUE(one);
  TcpCounters total = *one;
  total += *one;
  EXPECT_EQ(total.timeouts, 14u);
  EXPECT_EQ(total.segments_sent, 275100u);
  const auto j = total.to_json();
  EXPECT_EQ(j.at("loss_probes"), 248u);
  EXPECT_EQ(j.at("retransmitted_segments"), 2272u);
}

}  // namespace
}  // namespace swarmlab::emu

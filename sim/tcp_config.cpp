#include "sim/tcp_config.hpp"

#include <algorithm>

#include "sim/event_heap_scheduler.hpp"
#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

// Segments fill the simulated MTU, and buffers cover the largest bandwidth-delay product
// without growing far past it (ns-3's buffer bookkeeping costs grow with the window).
void configure_ns3_tcp(std::uint32_t segment, std::uint64_t fastest, Duration slowest_delay,
                       Duration longest_life) {
  const double rtt = 4.0 * to_seconds(slowest_delay) + 0.01;  // two access links, both ways
  const double bdp = static_cast<double>(fastest) / 8.0 * rtt;
  const auto buffer = static_cast<std::uint32_t>(
      std::clamp(1.5 * bdp, std::max(65536.0, 8.0 * segment), 4.0 * 1024 * 1024));
  ns3::Config::SetDefault("ns3::TcpSocket::SegmentSize", ns3::UintegerValue(segment));
  ns3::Config::SetDefault("ns3::TcpSocket::SndBufSize", ns3::UintegerValue(buffer));
  // The receive buffer is twice the send buffer and a segment: ns-3 3.37 crashes (a null tx
  // item in TcpRateLinux::SkbSent, ns-3 issue 991, fixed in 3.41) when a sender with unsent
  // data has sent exactly the peer's advertised window while a segment is SACKed. The window
  // is the receive buffer less unread bytes, at most a send buffer since every host reads all
  // it gets (sockets it closed included: Ns3Host drops what they receive), so it then always
  // exceeds what a sender can hold. Senders are still bounded by SndBufSize: rates and memory
  // do not change.
  ns3::Config::SetDefault("ns3::TcpSocket::RcvBufSize", ns3::UintegerValue(2 * buffer + segment));
  ns3::Config::SetDefault("ns3::Ipv4::WeakEsModel", ns3::BooleanValue(false));
  // Linux's retransmission timeout, srtt + max(200 ms, 4 rttvar), rather than ns-3's
  // max(200 ms, srtt + 4 rttvar): ClockGranularity is the floor of the variance term, as
  // tcp_rto_min is in Linux. A segment that waited in a full 200 ms uplink queue
  // (star_topology.cpp) otherwise outlives a timer armed when the queue was short, and
  // ns-3 3.37 has no F-RTO (RFC 5682) to recognise the timeout as spurious as Linux would:
  // the window falls to one segment and everything in flight is sent again. flash-crowd-small
  // had 1,009 timeouts with ns-3's formula, 161 with Linux's (docs/models.md, "TCP timeouts").
  ns3::Config::SetDefault("ns3::TcpSocketBase::MinRto", ns3::TimeValue(ns3::MilliSeconds(200)));
  ns3::Config::SetDefault("ns3::TcpSocketBase::ClockGranularity",
                          ns3::TimeValue(ns3::MilliSeconds(200)));
  ns3::Config::SetDefault("ns3::TcpSocket::DelAckTimeout", ns3::TimeValue(ns3::MilliSeconds(40)));
  // No zero-window probes within a run. ns-3 3.37 arms the persist timer whenever a segment
  // arrives advertising a zero window, even when the sender has nothing left to send, and
  // TcpSocketBase::PersistTimeout then dereferences the missing tx item (SIGSEGV in
  // TcpTxItem::GetPacketCopy). The zero windows came from sockets a host had closed and no
  // longer read (a 300-peer flash crowd with crashes, a partition and a tracker restart,
  // tests/sim/flash_crowd_300.json, crashed on one); those are now read to the end, so this is
  // a second line of defence.
  // A connection that did stall would be dropped by the peers' own stall timeouts.
  ns3::Config::SetDefault("ns3::TcpSocket::PersistTimeout", ns3::TimeValue(ns3::Seconds(3600)));
  // TIME_WAIT lasts 2 MSL: twice the longest a segment can live in this star (a full queue
  // and the delay on each of the two access links it crosses; 0.4-2 s in the shipped
  // scenarios), rather than ns-3's 240 s (Linux: 60 s), so old duplicates are still absorbed.
  // ns-3 keeps every endpoint of a node, TIME_WAIT ones included, in one list that each
  // arriving segment scans: a 1,000-peer flash crowd, where Busy refusals close thousands of
  // connections a second, spent a third of its time in that scan with TIME_WAIT at 240 s, and
  // a quarter with it at 4 s. At least a second: a FIN sent again after a lost last ACK (an
  // RTO of 200 ms or more, then doubled) still finds the endpoint rather than a reset. At most
  // ns-3's own 120 s, for links of a few kbit/s.
  ns3::Config::SetDefault("ns3::TcpSocketBase::MaxSegLifetime",
                          ns3::DoubleValue(std::clamp(to_seconds(longest_life), 1.0, 120.0)));
}

void configure_ns3_run(std::uint32_t segment, std::uint64_t fastest_bps, Duration slowest_delay,
                       Duration longest_life, std::uint64_t run) {
  configure_ns3_tcp(segment, fastest_bps, slowest_delay, longest_life);
  ns3::RngSeedManager::SetSeed(1);
  ns3::RngSeedManager::SetRun(run);
  use_event_heap_scheduler();
}

}  // namespace swarmlab::sim

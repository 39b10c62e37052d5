#pragma once
// TCP as every simulated host uses it, set as ns-3 defaults before any socket exists: the
// swarm simulation and the raw ns-3 baseline of bench/ configure it the same way.
#include <cstdint>

#include "swarmlab/time.hpp"

namespace swarmlab::sim {

/// IP and TCP headers with the timestamp and SACK options: a packet's bytes less its segment.
inline constexpr std::uint32_t kTcpIpHeaderBytes = 80;

/// Segments of `segment` bytes; buffers sized to the largest bandwidth-delay product of a
/// star whose fastest access link runs at `fastest_bps` and whose slowest has one-way delay
/// `slowest_delay`; no segment lives in the star longer than `longest_life` (TIME_WAIT lasts
/// twice that).
void configure_ns3_tcp(std::uint32_t segment, std::uint64_t fastest_bps, Duration slowest_delay,
                       Duration longest_life);

/// All of a swarm run's ns-3 setup: TCP as above, ns-3's random streams at `run`, and our
/// event queue. bench's playback of a run's traffic calls it with the values the run did.
void configure_ns3_run(std::uint32_t segment, std::uint64_t fastest_bps, Duration slowest_delay,
                       Duration longest_life, std::uint64_t run);

}  // namespace swarmlab::sim

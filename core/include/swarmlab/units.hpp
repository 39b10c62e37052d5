#pragma once
// Human units for scenario files and flags: sizes, rates, durations.
// Every error quotes the text it could not read.
#include <cstdint>
#include <string>
#include <string_view>

#include "swarmlab/error.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab {

/// Bytes. Accepts B, KB/MB/GB/TB (powers of 1000) and KiB/MiB/GiB/TiB (powers of 1024);
/// a bare number is bytes. Fractions are allowed ("1.5GiB") if the result is whole.
Result<std::uint64_t> parse_size(std::string_view text);

/// Bits per second. Accepts bps/Kbps/Mbps/Gbps (bits) and B/s, KB/s, MB/s, GB/s, KiB/s,
/// MiB/s, GiB/s (bytes). A bare number is an error: rates must say their unit.
Result<std::uint64_t> parse_rate(std::string_view text);

/// Accepts ns, us, ms, s, min, h (e.g. "20ms", "1.5s", "2h"). A bare number is an error.
Result<Duration> parse_duration(std::string_view text);

std::string format_size(std::uint64_t bytes);     // "64 MiB", "1.5 GiB", "900 B"
std::string format_rate(double bits_per_second);  // "8 Mbps"
std::string format_duration(Duration d);          // "1.234 s", "20 ms", "2 h 3 min"

}  // namespace swarmlab

#pragma once
// Time in core is always passed in by the driver; nothing here reads a clock.
#include <chrono>
#include <cstdint>

namespace swarmlab {

/// A span of time. Nanosecond resolution, 64-bit: ~292 years of range.
using Duration = std::chrono::nanoseconds;
/// A point in time, measured from the driver's epoch (process start, simulation start, 0 in tests).
using Time = std::chrono::nanoseconds;

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""us;

/// Seconds as a double, the unit of every metrics record.
inline double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace swarmlab

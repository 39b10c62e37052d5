#pragma once
// Time in core is always passed in by the driver; nothing here reads a clock.
#include <chrono>
#include <cstdint>

namespace swarmlab {

/// A span of time. Nanosecond resolution, 64-bit: ~292 years of range.
using Duration = std::chrono::nanoseconds;

/// The clock of a node's inputs. It has no now(): the driver says what time it is, from its
/// own epoch (process start, simulation start, 0 in tests).
struct DriverClock {
  using rep = Duration::rep;
  using period = Duration::period;
  using duration = Duration;
  using time_point = std::chrono::time_point<DriverClock>;
  static constexpr bool is_steady = true;
};

/// A point in time. Time - Time is a Duration, Time + Duration a Time; Time + Time does not
/// compile.
using Time = DriverClock::time_point;

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""us;

/// Seconds as a double, the unit of every metrics record.
inline double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}
/// Seconds since the driver's epoch.
inline double to_seconds(Time t) {
  return to_seconds(t.time_since_epoch());
}

inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

/// The time `since` after the driver's epoch.
constexpr Time time_at(Duration since) {
  return Time(since);
}

}  // namespace swarmlab

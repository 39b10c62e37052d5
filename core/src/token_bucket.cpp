#include "swarmlab/token_bucket.hpp"

#include <algorithm>

namespace swarmlab {

std::optional<Time> TokenBucket::wait_until(Time now, std::uint64_t bps, Duration burst) {
  limited_ = bps != 0;
  if (!limited_) {
    tokens_ = 0;
    at_ = now;
    return std::nullopt;
  }
  const double rate = static_cast<double>(bps) / 8;  // bytes/s
  tokens_ = std::min(rate * to_seconds(burst), tokens_ + rate * to_seconds(now - at_));
  at_ = now;
  if (tokens_ >= 0) return std::nullopt;
  const auto wait =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / rate));
  return now + std::max(wait, Duration(1));
}

}  // namespace swarmlab

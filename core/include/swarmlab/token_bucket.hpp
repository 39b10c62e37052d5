#pragma once
// A token bucket that paces bytes to a rate: whether the next send may start now, and if not,
// when. One send is never split: it may put the bucket in debt, and the next waits until the
// debt is paid. Used for upload limits (UploadServer) and download limits (Download).
#include <cstdint>
#include <optional>

#include "swarmlab/time.hpp"

namespace swarmlab {

class TokenBucket {
 public:
  /// Refilled at `bps` bits/s, holding at most `burst` of it: nullopt if a send may start at
  /// `now`, else the time it may. bps = 0 means no limit (and an empty bucket, so a limit set
  /// later starts from nothing rather than from the debt of unlimited sending).
  std::optional<Time> wait_until(Time now, std::uint64_t bps, Duration burst);
  /// `bytes` were sent (after a wait_until that let them): counted only under a limit.
  void take(std::uint64_t bytes) {
    if (limited_) tokens_ -= static_cast<double>(bytes);
  }

 private:
  double tokens_ = 0;     // bytes that may go now; negative: in debt
  Time at_{};             // when tokens_ was last brought up to date
  bool limited_ = false;  // the last wait_until had a limit
};

}  // namespace swarmlab

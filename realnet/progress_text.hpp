#pragma once
// Download progress as a bar (terminals) or as a plain line (logs and pipes).
#include <optional>
#include <string>

#include "swarmlab/event.hpp"

namespace swarmlab::realnet {

struct ProgressView {
  std::string file;
  std::uint64_t bytes = 0, total_bytes = 0;
  std::uint32_t chunks = 0, total_chunks = 0;
  double rate_bps = 0;
  std::uint32_t sources = 0;
  static ProgressView from(const Event& download_progress);
  std::optional<double> eta_seconds() const;
};

/// "[##########..........]  50%  32.0/64.0 MiB  98.5 MiB/s  ETA 1s  3 sources"
std::string progress_bar(const ProgressView& p, int width = 24);
/// "video.mkv: 50% (32.0 MiB of 64.0 MiB), 98.5 MiB/s, ETA 1s, 3 sources"
std::string progress_line(const ProgressView& p);

}  // namespace swarmlab::realnet

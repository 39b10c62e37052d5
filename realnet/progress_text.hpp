#pragma once
// Download progress as a bar (terminals) or as a plain line (logs and pipes).
#include <optional>
#include <string>

#include "swarmlab/notice.hpp"

namespace swarmlab::realnet {

/// Seconds left at the recent rate; nullopt before there is a rate.
std::optional<double> eta_seconds(const DownloadProgress& p);
/// "[##########..........]  50%  32.0/64.0 MiB  98.5 MiB/s  ETA 1s  3 sources"
std::string progress_bar(const DownloadProgress& p, int width = 24);
/// "video.mkv: 50% (32.0 MiB of 64.0 MiB), 98.5 MiB/s, ETA 1s, 3 sources"
std::string progress_line(const DownloadProgress& p);

}  // namespace swarmlab::realnet

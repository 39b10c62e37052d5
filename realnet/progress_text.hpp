#pragma once
// Download progress as a bar (terminals) or as a plain line (logs and pipes).
#include <optional>
#include <string>
#include <vector>

#include "swarmlab/chunk_set.hpp"
#include "swarmlab/notice.hpp"

namespace swarmlab::realnet {

/// Seconds left at the recent rate; nullopt before there is a rate.
std::optional<double> eta_seconds(const DownloadProgress& p);
/// "[##########..........]  50%  32.0/64.0 MiB  98.5 MiB/s  ETA 1s  3 sources"
std::string progress_bar(const DownloadProgress& p, int width = 24);
/// "video.mkv: 50% (32.0 MiB of 64.0 MiB), 98.5 MiB/s, ETA 1s, 3 sources"
std::string progress_line(const DownloadProgress& p);
/// The prompt's live status for the running downloads in at most `width` columns: one is
/// "video.mkv [####....]  50%  ..." (shorter forms when narrow), several are
/// "a.iso 50% 2.0 MiB/s · b.bin 12% 0.5 MiB/s".
std::string prompt_status(const std::vector<DownloadProgress>& downloads, std::size_t width);
/// Which chunks are held, `width` characters for the whole file: '#' every chunk of that
/// stretch held, '+' some, '.' none.
std::string chunk_strip(const ChunkSet& held, std::size_t width);

}  // namespace swarmlab::realnet

#include "realnet/progress_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "swarmlab/units.hpp"

namespace swarmlab::realnet {
namespace {
std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}
std::string rate(double bps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB/s", bps / 8.0 / (1024.0 * 1024.0));
  return buf;
}
std::string eta(const DownloadProgress& p) {
  const auto e = eta_seconds(p);
  return e ? format_duration(from_seconds(std::ceil(*e))) : "--";
}
}  // namespace

std::optional<double> eta_seconds(const DownloadProgress& p) {
  if (p.rate_bps <= 0 || p.total_bytes < p.bytes) return std::nullopt;
  return static_cast<double>(p.total_bytes - p.bytes) * 8.0 / p.rate_bps;
}

std::string progress_bar(const DownloadProgress& p, int width) {
  const double frac =
      p.total_bytes == 0 ? 0.0 : static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes);
  const int filled = static_cast<int>(frac * width);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(width - filled), '.') + "]";
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3.0f%%", frac * 100);
  return bar + " " + pct + "  " + mib(p.bytes) + "/" + mib(p.total_bytes) + " MiB  " +
         rate(p.rate_bps) + "  ETA " + eta(p) + "  " + std::to_string(p.sources) +
         (p.sources == 1 ? " source" : " sources");
}

std::string progress_line(const DownloadProgress& p) {
  const double frac =
      p.total_bytes == 0 ? 0.0 : static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%.0f%%", frac * 100);
  return p.file + ": " + pct + " (" + mib(p.bytes) + " MiB of " + mib(p.total_bytes) + " MiB), " +
         rate(p.rate_bps) + ", ETA " + eta(p) + ", " + std::to_string(p.sources) +
         (p.sources == 1 ? " source" : " sources");
}

namespace {
std::string percent(const DownloadProgress& p) {
  const double frac =
      p.total_bytes == 0 ? 0.0 : static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%.0f%%", frac * 100);
  return pct;
}
// Cut to `width` columns (names are ASCII-safe enough here: a cut never splits the "..."),
// marking the cut.
std::string fit(std::string text, std::size_t width) {
  if (text.size() <= width) return text;
  if (width <= 3) return text.substr(0, width);
  return text.substr(0, width - 3) + "...";
}
}  // namespace

std::string prompt_status(const std::vector<DownloadProgress>& downloads, std::size_t width) {
  if (downloads.empty()) return "";
  if (downloads.size() == 1) {
    const auto& p = downloads.front();
    for (const int bar : {24, 12}) {
      auto full = p.file + " " + progress_bar(p, bar);
      if (full.size() <= width) return full;
    }
    const auto compact = p.file + " " + percent(p) + " " + rate(p.rate_bps) + " ETA " + eta(p);
    if (compact.size() <= width) return compact;
    return fit(p.file + " " + percent(p), width);
  }
  std::string out;
  for (const auto& p : downloads) {
    out += (out.empty() ? "" : " | ") + p.file + " " + percent(p) + " " + rate(p.rate_bps);
  }
  return fit(out, width);
}

std::string chunk_strip(const ChunkSet& held, std::size_t width) {
  const std::size_t n = held.size();
  if (n == 0 || width == 0) return "";
  width = std::min(width, n);
  std::string strip;
  for (std::size_t c = 0; c < width; ++c) {
    const std::size_t from = c * n / width, to = (c + 1) * n / width;
    std::size_t have = 0;
    for (std::size_t i = from; i < to; ++i) have += held.contains(static_cast<std::uint32_t>(i));
    strip += have == to - from ? '#' : have > 0 ? '+' : '.';
  }
  return strip;
}

}  // namespace swarmlab::realnet

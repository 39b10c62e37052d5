#include "realnet/progress_text.hpp"

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
std::string eta(const ProgressView& p) {
  const auto e = p.eta_seconds();
  return e ? format_duration(from_seconds(std::ceil(*e))) : "--";
}
}  // namespace

ProgressView ProgressView::from(const Event& e) {
  ProgressView p;
  p.file = e.fields.value("file", "");
  p.bytes = e.fields.value("bytes", std::uint64_t{0});
  p.total_bytes = e.fields.value("total_bytes", std::uint64_t{0});
  p.chunks = e.fields.value("chunks", 0U);
  p.total_chunks = e.fields.value("total_chunks", 0U);
  p.rate_bps = e.fields.value("rate_bps", 0.0);
  p.sources = e.fields.value("sources", 0U);
  return p;
}

std::optional<double> ProgressView::eta_seconds() const {
  if (rate_bps <= 0 || total_bytes < bytes) return std::nullopt;
  return static_cast<double>(total_bytes - bytes) * 8.0 / rate_bps;
}

std::string progress_bar(const ProgressView& p, int width) {
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

std::string progress_line(const ProgressView& p) {
  const double frac =
      p.total_bytes == 0 ? 0.0 : static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%.0f%%", frac * 100);
  return p.file + ": " + pct + " (" + mib(p.bytes) + " MiB of " + mib(p.total_bytes) + " MiB), " +
         rate(p.rate_bps) + ", ETA " + eta(p) + ", " + std::to_string(p.sources) +
         (p.sources == 1 ? " source" : " sources");
}

}  // namespace swarmlab::realnet

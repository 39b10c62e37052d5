#include "swarmlab/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace swarmlab {
namespace {

struct Unit {
  std::string_view suffix;
  double factor;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad(std::string_view what, std::string_view text, std::string_view hint) {
  return make_error(ErrorCode::InvalidArgument, "bad " + std::string(what) + " \"" +
                                                    std::string(text) + "\": " + std::string(hint));
}

// Splits "12.5MiB" into 12.5 and "MiB". The number must be finite and non-negative.
bool split_number(std::string_view s, double& number, std::string_view& suffix) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, number);
  if (ec != std::errc() || ptr != s.data() + i || !std::isfinite(number) || number < 0) {
    return false;
  }
  suffix = trim(s.substr(i));
  return true;
}

template <std::size_t N>
Result<double> parse_with_units(std::string_view what, std::string_view text,
                                const std::array<Unit, N>& units, bool bare_allowed,
                                std::string_view hint) {
  const auto s = trim(text);
  double number = 0;
  std::string_view suffix;
  if (!split_number(s, number, suffix))
    return bad(what, text, "expected a number, " + std::string(hint));
  if (suffix.empty()) {
    if (bare_allowed) return number;
    return bad(what, text, "missing unit, " + std::string(hint));
  }
  for (const auto& u : units) {
    if (suffix == u.suffix) return number * u.factor;
  }
  return bad(what, text, "unknown unit \"" + std::string(suffix) + "\", " + std::string(hint));
}

constexpr double kKi = 1024.0;

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  static constexpr std::array<Unit, 9> units{{{"B", 1},
                                              {"KB", 1e3},
                                              {"MB", 1e6},
                                              {"GB", 1e9},
                                              {"TB", 1e12},
                                              {"KiB", kKi},
                                              {"MiB", kKi * kKi},
                                              {"GiB", kKi * kKi * kKi},
                                              {"TiB", kKi * kKi * kKi * kKi}}};
  auto r = parse_with_units("size", text, units, true, "e.g. \"512KiB\", \"100MiB\", \"1GB\"");
  if (!r) return r.error();
  const double v = *r;
  if (v > 9.0e18) return bad("size", text, "too large");
  if (v != std::floor(v)) return bad("size", text, "not a whole number of bytes");
  return static_cast<std::uint64_t>(v);
}

Result<std::uint64_t> parse_rate(std::string_view text) {
  static constexpr std::array<Unit, 12> units{{{"bps", 1},
                                               {"Kbps", 1e3},
                                               {"Mbps", 1e6},
                                               {"Gbps", 1e9},
                                               {"B/s", 8},
                                               {"KB/s", 8e3},
                                               {"MB/s", 8e6},
                                               {"GB/s", 8e9},
                                               {"KiB/s", 8 * kKi},
                                               {"MiB/s", 8 * kKi * kKi},
                                               {"GiB/s", 8 * kKi * kKi * kKi},
                                               {"kbps", 1e3}}};
  auto r = parse_with_units("rate", text, units, false, "e.g. \"8Mbps\", \"1Gbps\", \"100KB/s\"");
  if (!r) return r.error();
  if (*r < 1 || *r > 1.0e15) return bad("rate", text, "out of range (1 bps to 1 Pbps)");
  return static_cast<std::uint64_t>(std::llround(*r));
}

Result<Duration> parse_duration(std::string_view text) {
  static constexpr std::array<Unit, 7> units{
      {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"min", 60e9}, {"m", 60e9}, {"h", 3600e9}}};
  auto r = parse_with_units("duration", text, units, false, "e.g. \"20ms\", \"30s\", \"2h\"");
  if (!r) return r.error();
  if (*r > 9.0e18) return bad("duration", text, "too long");
  return Duration(static_cast<std::int64_t>(std::llround(*r)));
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> names{"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  std::size_t i = 0;
  while (v >= 1024.0 && i + 1 < names.size()) {
    v /= 1024.0;
    ++i;
  }
  char buf[32];
  if (i == 0 || v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, names[i].data());
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, names[i].data());
  }
  return buf;
}

std::string format_rate(double bps) {
  static constexpr std::array<std::string_view, 4> names{"bps", "Kbps", "Mbps", "Gbps"};
  std::size_t i = 0;
  while (bps >= 1000.0 && i + 1 < names.size()) {
    bps /= 1000.0;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, bps == std::floor(bps) ? "%.0f %s" : "%.1f %s", bps,
                names[i].data());
  return buf;
}

std::string format_duration(Duration d) {
  const double s = to_seconds(d);
  char buf[48];
  if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  } else if (s < 1.0) {
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  } else if (s < 120.0) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s < 7200.0) {
    std::snprintf(buf, sizeof buf, "%.0f min %.0f s", std::floor(s / 60), std::fmod(s, 60.0));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f h %.0f min", std::floor(s / 3600),
                  std::floor(std::fmod(s, 3600.0) / 60));
  }
  return buf;
}

}  // namespace swarmlab

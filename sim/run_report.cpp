#include "sim/run_report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "swarmlab/units.hpp"

namespace swarmlab::sim {

std::string clock_text(double s) {
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  }
  return buf;
}

ProgressDisplay::ProgressDisplay(bool quiet, std::string clock_name)
    : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), clock_name_(std::move(clock_name)) {
}

void ProgressDisplay::operator()(const Progress& p) {
  if (quiet_) return;
  if (p.wall_s - last_ < (tty_ ? 0.2 : 5.0)) return;
  last_ = p.wall_s;
  const double by_time = p.stop_time_s > 0 ? p.sim_time_s / p.stop_time_s : 0.0;
  const double by_peers = p.leechers > 0 ? static_cast<double>(p.done) / p.leechers : 0.0;
  // Bytes verified lead: in a flash crowd nearly every peer finishes in the last seconds.
  const double frac = std::clamp(std::max({by_time, by_peers, p.verified_fraction}), 0.0, 1.0);
  const std::string eta = frac > 0.01 ? clock_text(p.wall_s * (1 - frac) / frac) : "?";
  char line[256];
  std::snprintf(line, sizeof line, "%s %s / %s · %u/%u peers done · wall %s · ETA %s",
                clock_name_.c_str(), clock_text(p.sim_time_s).c_str(),
                clock_text(p.stop_time_s).c_str(), p.done, p.leechers, clock_text(p.wall_s).c_str(),
                eta.c_str());
  if (tty_) {
    const int width = 24;
    const int filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), frac * 100, line);
  } else {
    std::fprintf(stderr, "progress: %s\n", line);
  }
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressDisplay::finish() {
  if (drawn_ && tty_) std::fprintf(stderr, "\r\033[K");
}

void print_summary(const nlohmann::json& s, const nlohmann::json& run, const std::string& out) {
  const auto& dt = s["download_time_s"];
  auto num = [](const nlohmann::json& v, const char* fmt) {
    if (!v.is_number()) return std::string("-");
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v.get<double>());
    return std::string(buf);
  };
  std::printf("Scenario %s (seed %llu): %u of %u leechers completed by t=%s",
              s["scenario"].get<std::string>().c_str(),
              static_cast<unsigned long long>(s["seed"].get<std::uint64_t>()),
              s["completed"].get<unsigned>(), s["leechers"].get<unsigned>(),
              clock_text(s["end_time_s"].get<double>()).c_str());
  // Leechers that never finished because they crashed or left are counted apart from the rest.
  std::string gone;
  for (const auto& [key, word] :
       {std::pair{"crashed_unfinished", "crashed"}, std::pair{"left_unfinished", "left"}}) {
    const auto n = s.value(key, 0u);
    if (n > 0) gone += "; " + std::to_string(n) + " " + word + " before finishing";
  }
  std::printf("%s (%s wall).\n", gone.c_str(),
              clock_text(run["wall_time_s"].get<double>()).c_str());
  if (dt["count"].get<int>() > 0) {
    std::printf("  download time   mean %s s · median %s s · p95 %s s · max %s s\n",
                num(dt["mean"], "%.2f").c_str(), num(dt["median"], "%.2f").c_str(),
                num(dt["p95"], "%.2f").c_str(), num(dt["max"], "%.2f").c_str());
  }
  std::printf("  served by       origin seeds %s of bytes, peers the rest\n",
              num(s["bytes_served"]["origin_share"].get<double>() * 100, "%.1f%%").c_str());
  const auto& kr = s["kumar_ross"];
  std::printf("  Kumar-Ross      T_min %s s, last completion / T_min = %s%s\n",
              num(kr["t_min_s"], "%.2f").c_str(), num(kr["ratio"], "%.3f").c_str(),
              kr["assumptions_hold"].get<bool>() ? "" : "  (bound's assumptions do not hold here)");
  if (const auto& u = s["uplinks"]; u.is_object() && u["wire_bytes"].get<std::uint64_t>() > 0) {
    std::printf(
        "  uplinks         %s of their capacity used, %s bytes on the wire per verified byte\n",
        num(u["utilisation"].get<double>() * 100, "%.1f%%").c_str(),
        num(u["wire_per_verified_byte"], "%.3f").c_str());
  }
  if (const auto& f = s["first_copy"]; f.is_object() && f["out_s"].is_number()) {
    std::printf(
        "  first copy      every chunk reached a leecher at t=%s s (%s x the file's time "
        "through the origin uplinks, counted from the first arrival); origin uplinks %s used "
        "until then\n",
        num(f["out_s"], "%.2f").c_str(),
        f["ratio"].is_number() ? num(f["ratio"], "%.2f").c_str() : "-",
        f["origin_utilisation"].is_number()
            ? num(f["origin_utilisation"].get<double>() * 100, "%.1f%%").c_str()
            : "(not measured)");
  }
  if (const auto& q = s["qiu_srikant"]; q.is_object()) {
    std::printf(
        "  fluid model     mean download %s s (model %s s), leechers %s (%s), seeds %s (%s)\n",
        num(q["measured"]["mean_download_s"], "%.1f").c_str(),
        num(q["model"]["mean_download_s"], "%.1f").c_str(),
        num(q["measured"]["mean_leechers"], "%.1f").c_str(),
        num(q["model"]["mean_leechers"], "%.1f").c_str(),
        num(q["measured"]["mean_seeds"], "%.1f").c_str(),
        num(q["model"]["mean_seeds"], "%.1f").c_str());
    if (const auto& m = q["model"];
        m.value("finite_mean_download_s", nlohmann::json()).is_number()) {
      std::printf(
          "                  with the origin seeds' upload, over this run's arrivals: mean "
          "download %s s\n",
          num(m["finite_mean_download_s"], "%.1f").c_str());
    }
  }
  std::printf(
      "  failures        %u download failures (%u attempts retried), %u verification "
      "failures\n",
      s["download_failures"].get<unsigned>(), s["download_retries"].get<unsigned>(),
      s["verification_failures"].get<unsigned>());
  if (const auto& w = run.find("wire"); w != run.end() && w->is_object()) {
    // An emulated run: the programs' outcome and what the ns-3 wire cost.
    const auto& files = run["files"];
    std::printf("  files           %u of %u downloaded files identical to the source\n",
                files["identical"].get<unsigned>(), files["checked"].get<unsigned>());
    std::printf(
        "  wire            %.1f s of CPU, at most %.1f ms behind real time; programs %.1f s "
        "of CPU\n",
        (*w)["cpu_s"].get<double>(), (*w)["max_lag_ms"].get<double>(),
        run["programs_cpu_s"].get<double>());
  } else {
    std::printf(
        "  simulator       %.0f events/s, %s simulated per wall second\n",
        run["ns3_events_per_wall_s"].get<double>(),
        format_size(static_cast<std::uint64_t>(run["simulated_bytes_per_wall_s"].get<double>()))
            .c_str());
  }
  std::printf("Run folder: %s\n", out.c_str());
}

}  // namespace swarmlab::sim

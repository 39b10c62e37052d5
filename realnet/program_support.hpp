#pragma once
// What both programs share: logging set-up, signal handling and clean shutdown.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

#include "realnet/asio.hpp"

namespace swarmlab::realnet {

/// Levelled logging to stderr (coloured on a terminal) and, with a path, to a file with
/// timestamps. Returns false with a message on a bad level name.
inline bool setup_logging(const std::string& level, const std::string& file, std::string& error) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    error = "unknown log level \"" + level + "\" (trace, debug, info, warn, error, off)";
    return false;
  }
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%^%l%$: %v");
  sinks.push_back(console);
  if (!file.empty()) {
    try {
      auto f = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
      f->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
      sinks.push_back(f);
    } catch (const spdlog::spdlog_ex& e) {
      error = std::string("cannot open log file: ") + e.what();
      return false;
    }
  }
  auto logger = std::make_shared<spdlog::logger>("swarmlab", sinks.begin(), sinks.end());
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace swarmlab::realnet

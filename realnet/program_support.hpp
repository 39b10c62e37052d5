#pragma once
// What both programs share: logging set-up, signal handling and clean shutdown.
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>

#include "realnet/asio.hpp"
#include "realnet/line_writer.hpp"

namespace swarmlab::realnet {

/// Log lines to a descriptor through a LineWriter: when stderr is a pipe or file, logging
/// never holds up the thread that logs. Lines beyond a backlog nobody reads are skipped
/// (and counted in the output).
class LineWriterSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LineWriterSink(int fd)
      : writer_(fd, {.max_pending = 1 << 20, .drain_timeout = std::chrono::seconds(5)}) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    std::string_view line(text.data(), text.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    writer_.write(line, /*skippable=*/true);
  }
  void flush_() override {}

 private:
  LineWriter writer_;
};

/// Levelled logging to stderr (coloured on a terminal) and, with a path, to a file with
/// timestamps. Returns false with a message on a bad level name.
inline bool setup_logging(const std::string& level, const std::string& file, std::string& error) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    error = "unknown log level \"" + level + "\" (trace, debug, info, warn, error, off)";
    return false;
  }
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::sink_ptr console;
  if (::isatty(STDERR_FILENO) != 0) {
    console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    console = std::make_shared<LineWriterSink>(STDERR_FILENO);
  }
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

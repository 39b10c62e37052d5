#pragma once
// What both programs share: logging set-up, signal handling and clean shutdown.
#include <fcntl.h>
#include <malloc.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>

#include "realnet/asio.hpp"
#include "realnet/asio_host.hpp"
#include "realnet/line_writer.hpp"

namespace swarmlab::realnet {

/// Log lines to a descriptor through a LineWriter: logging never holds up the thread that
/// logs, whether stderr is a pipe nobody reads or the log file is on a busy disk. Lines
/// beyond a backlog that is not being written are skipped (and counted in the output).
class LineWriterSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// `owned`: close `fd` once everything is written.
  LineWriterSink(int fd, bool owned)
      : writer_(
            fd,
            {.max_pending = 1 << 20, .drain_timeout = std::chrono::seconds(5), .close_fd = owned}) {
  }

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

/// Large buffers (frames, chunks) come from mmap and go back to the system when freed.
/// glibc would otherwise raise its mmap threshold after the first large free and serve later
/// ones from the heap, which keeps memory resident long after a burst of big frames (a
/// hostile one, or a busy minute) is over. Reuse in steady state is the buffer pool's job.
inline void return_large_buffers_to_the_system() {
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

/// `--epoch NS`: the CLOCK_MONOTONIC time, in nanoseconds, at which the program's clock (and
/// its events' `t`) reads 0, so that several programs' events share one timeline (swarm-emu
/// gives every process it starts the same one). 0: when the program started. An epoch in the
/// future is refused: times before it would be negative.
inline bool apply_epoch(std::uint64_t epoch_ns, AsioHost& host, std::string& error) {
  if (epoch_ns == 0) return true;
  const std::chrono::steady_clock::time_point epoch{std::chrono::nanoseconds(epoch_ns)};
  if (epoch > std::chrono::steady_clock::now()) {
    error = "--epoch " + std::to_string(epoch_ns) + " is in the future (CLOCK_MONOTONIC now is " +
            std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count()) +
            " ns)";
    return false;
  }
  host.set_epoch(epoch);
  return true;
}

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
    console = std::make_shared<LineWriterSink>(STDERR_FILENO, /*owned=*/false);
  }
  console->set_pattern("%^%l%$: %v");
  sinks.push_back(console);
  if (!file.empty()) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      error = "cannot open log file " + file + ": " + std::strerror(errno);
      return false;
    }
    auto f = std::make_shared<LineWriterSink>(fd, /*owned=*/true);
    f->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    sinks.push_back(f);
  }
  auto logger = std::make_shared<spdlog::logger>("swarmlab", sinks.begin(), sinks.end());
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return true;
}

/// The console's log lines through `print` while it takes them (returns true), else to
/// stderr as before: at a readline prompt a line written straight to stderr lands on the
/// prompt and the half-typed command, which Terminal::print lifts and puts back. `print` runs
/// on the thread that logs (all logging here is on the io_context thread).
class PrintingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  PrintingSink(std::function<bool(const std::string&)> print, spdlog::sink_ptr otherwise)
      : print_(std::move(print)), otherwise_(std::move(otherwise)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    std::string line(text.data(), text.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!print_(line)) otherwise_->log(msg);
  }
  void flush_() override { otherwise_->flush(); }

 public:
  const spdlog::sink_ptr& otherwise() const { return otherwise_; }

 private:
  std::function<bool(const std::string&)> print_;
  spdlog::sink_ptr otherwise_;
};

/// Where a terminal keeps its history: $SWARMLAB_HISTORY_DIR (empty: nowhere), else $HOME.
inline std::string history_path(const std::string& program) {
  const char* dir = std::getenv("SWARMLAB_HISTORY_DIR");
  if (dir == nullptr) dir = std::getenv("HOME");
  if (dir == nullptr || *dir == '\0') return "";
  return std::string(dir) + "/.swarm-" + program + "_history";
}

/// Puts a PrintingSink in front of the console sink that setup_logging made.
inline void print_console_log_through(std::function<bool(const std::string&)> print) {
  auto& sinks = spdlog::default_logger()->sinks();
  if (sinks.empty()) return;
  auto sink = std::make_shared<PrintingSink>(std::move(print), sinks.front());
  sink->set_pattern("%l: %v");
  sinks.front() = sink;
}

/// Undoes print_console_log_through: the console sink logs to stderr again.
inline void give_back_console_log() {
  auto& sinks = spdlog::default_logger()->sinks();
  if (sinks.empty()) return;
  if (auto* p = dynamic_cast<PrintingSink*>(sinks.front().get())) sinks.front() = p->otherwise();
}

}  // namespace swarmlab::realnet

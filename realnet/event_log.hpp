#pragma once
// Metrics events as JSON Lines (`--events FILE`), the same schema the simulator writes.
//
// Lines are written by a thread of the log's own (a LineWriter): an append to a file can
// wait for a long time while the disk is busy (the kernel's flusher holds the file's last
// page locked while the device throttles it), and the thread that records events is the
// one that moves every chunk.
#include <memory>
#include <string>

#include "realnet/line_writer.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/event.hpp"

namespace swarmlab::realnet {

class EventLog {
 public:
  /// Opens (truncates) `path`. Errors: IoError naming the path.
  static Result<std::unique_ptr<EventLog>> open(const std::string& path);
  /// Writes every line recorded so far, then closes the file.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  /// Queues one line; it reaches the file within moments, so a killed process leaves a
  /// readable log missing at most its last few events.
  void write(const Event& e);

 private:
  explicit EventLog(int fd) : writer_(fd, {.close_fd = true}) {}

  LineWriter writer_;
};

}  // namespace swarmlab::realnet

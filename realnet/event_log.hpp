#pragma once
// Metrics events as JSON Lines (`--events FILE`), the same schema the simulator writes.
//
// Lines are written and flushed by a thread of the log's own: an append to a file can wait
// for a long time while the disk is busy (the kernel's flusher holds the file's last page
// locked while the device throttles it), and the thread that records events is the one that
// moves every chunk.
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

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
  /// Queues one line; it reaches the file (flushed) within moments, so a killed process
  /// leaves a readable log missing at most its last few events.
  void write(const Event& e);

 private:
  explicit EventLog(std::FILE* f);
  void run(const std::stop_token& stop);

  std::FILE* file_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::string pending_;  // whole lines, in order
  std::jthread writer_;  // last: starts after, and stops before, what it uses
};

}  // namespace swarmlab::realnet

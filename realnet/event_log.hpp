#pragma once
// Metrics events as JSON Lines (`--events FILE`), the same schema the simulator writes.
#include <cstdio>
#include <memory>
#include <string>

#include "swarmlab/error.hpp"
#include "swarmlab/event.hpp"

namespace swarmlab::realnet {

class EventLog {
 public:
  /// Opens (truncates) `path`. Errors: IoError naming the path.
  static Result<std::unique_ptr<EventLog>> open(const std::string& path);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  /// One line per event, flushed at once: a killed process leaves a readable log.
  void write(const Event& e);

 private:
  explicit EventLog(std::FILE* f) : file_(f) {}
  std::FILE* file_;
};

}  // namespace swarmlab::realnet

#include "realnet/event_log.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

namespace swarmlab::realnet {

Result<std::unique_ptr<EventLog>> EventLog::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return make_error(ErrorCode::IoError,
                      "cannot write events to " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<EventLog>(new EventLog(f));
}

EventLog::~EventLog() {
  std::fclose(file_);
}

void EventLog::write(const Event& e) {
  const auto line = e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fputs(line.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

}  // namespace swarmlab::realnet

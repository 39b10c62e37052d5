#include "realnet/event_log.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace swarmlab::realnet {

Result<std::unique_ptr<EventLog>> EventLog::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::IoError,
                      "cannot write events to " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<EventLog>(new EventLog(fd));
}

EventLog::~EventLog() = default;  // the writer drains every queued line, then closes the file

void EventLog::write(const Event& e) {
  writer_.write(e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace swarmlab::realnet

#include "realnet/event_log.hpp"

#include <cerrno>
#include <cstring>

namespace swarmlab::realnet {

Result<std::unique_ptr<EventLog>> EventLog::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return make_error(ErrorCode::IoError,
                      "cannot write events to " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<EventLog>(new EventLog(f));
}

EventLog::EventLog(std::FILE* f)
    : file_(f), writer_([this](const std::stop_token& stop) { run(stop); }) {
}

EventLog::~EventLog() {
  writer_.request_stop();
  writer_.join();  // the writer drains what is pending before it returns
  std::fclose(file_);
}

void EventLog::write(const Event& e) {
  auto line = e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  {
    std::lock_guard lock(mutex_);
    pending_ += line;
  }
  wake_.notify_one();
}

void EventLog::run(const std::stop_token& stop) {
  std::string batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      const bool more = wake_.wait(lock, stop, [this] { return !pending_.empty(); });
      if (!more && pending_.empty()) return;  // stopped, and nothing left to write
      batch.swap(pending_);
    }
    std::fwrite(batch.data(), 1, batch.size(), file_);
    std::fflush(file_);
    batch.clear();
  }
}

}  // namespace swarmlab::realnet

#include "emu/event_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace swarmlab::emu {

bool parse_event_line(const std::string& line, Event& out) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  const auto t = j.find("t");
  const auto node = j.find("node");
  const auto type = j.find("type");
  if (t == j.end() || !t->is_number() || node == j.end() || !node->is_string() || type == j.end() ||
      !type->is_string())
    return false;
  out.time = time_at(from_seconds(t->get<double>()));
  out.node = node->get<std::string>();
  out.type = type->get<std::string>();
  j.erase("t");
  j.erase("node");
  j.erase("type");
  out.fields = std::move(j);
  return true;
}

EventTail::~EventTail() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<Event> EventTail::read_new() {
  std::vector<Event> events;
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return events;  // not written yet
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < offset_) {
    // Truncated under us: a new file by the same name. Start it from the top.
    offset_ = 0;
    partial_.clear();
  }
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::pread(fd_, buf, sizeof buf, static_cast<off_t>(offset_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial_.append(buf, static_cast<std::size_t>(n));
    offset_ += static_cast<std::uint64_t>(n);
  }
  std::size_t start = 0;
  for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
    const std::string line = partial_.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    Event e;
    if (parse_event_line(line, e)) {
      events.push_back(std::move(e));
    } else {
      ++bad_lines_;
    }
  }
  partial_.erase(0, start);
  return events;
}

}  // namespace swarmlab::emu

#include "emu/event_tail.hpp"

#include <fstream>

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

std::vector<Event> EventTail::read_new() {
  std::vector<Event> events;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return events;
  in.seekg(0, std::ios::end);
  if (static_cast<std::uint64_t>(in.tellg()) < offset_) {
    // Truncated under us: a new file by the same name. Start it from the top.
    offset_ = 0;
    partial_.clear();
  }
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  offset_ += data.size();
  partial_ += data;
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

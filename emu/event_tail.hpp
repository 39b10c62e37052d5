#pragma once
// Follows a program's events file (--events, JSON Lines) while the program writes it: each
// call returns the events of the lines completed since the last.
#include <cstdint>
#include <string>
#include <vector>

#include "swarmlab/event.hpp"

namespace swarmlab::emu {

/// One line of an events file back into an Event; false if it is not one.
bool parse_event_line(const std::string& line, Event& out);

class EventTail {
 public:
  explicit EventTail(std::string path) : path_(std::move(path)) {}
  EventTail(const EventTail&) = delete;
  EventTail& operator=(const EventTail&) = delete;
  ~EventTail();
  /// Events of the lines completed since the last call (none if the file does not exist yet).
  std::vector<Event> read_new();
  /// Lines that were not events (a program killed mid-line leaves at most one).
  std::uint64_t bad_lines() const { return bad_lines_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;  // kept open once the file exists: a poll is then one read, not an open
  std::uint64_t offset_ = 0;
  std::string partial_;
  std::uint64_t bad_lines_ = 0;
};

}  // namespace swarmlab::emu

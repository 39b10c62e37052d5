#include "swarmlab/error.hpp"

#include <array>
#include <utility>

namespace swarmlab {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 25> kNames{{
    {ErrorCode::AlreadyConnected, "AlreadyConnected"},
    {ErrorCode::TrackerNotConnected, "TrackerNotConnected"},
    {ErrorCode::InProgress, "InProgress"},
    {ErrorCode::ServerRunning, "ServerRunning"},
    {ErrorCode::DownloadIncomplete, "DownloadIncomplete"},
    {ErrorCode::MalformedFrame, "MalformedFrame"},
    {ErrorCode::FrameTooLarge, "FrameTooLarge"},
    {ErrorCode::UnknownMessage, "UnknownMessage"},
    {ErrorCode::MissingField, "MissingField"},
    {ErrorCode::WrongType, "WrongType"},
    {ErrorCode::OutOfRange, "OutOfRange"},
    {ErrorCode::BadName, "BadName"},
    {ErrorCode::BadUtf8, "BadUtf8"},
    {ErrorCode::BadChunkSet, "BadChunkSet"},
    {ErrorCode::VersionMismatch, "VersionMismatch"},
    {ErrorCode::NotRegistered, "NotRegistered"},
    {ErrorCode::Refused, "Refused"},
    {ErrorCode::NameTaken, "NameTaken"},
    {ErrorCode::NotFound, "NotFound"},
    {ErrorCode::Busy, "Busy"},
    {ErrorCode::HashMismatch, "HashMismatch"},
    {ErrorCode::IoError, "IoError"},
    {ErrorCode::InvalidArgument, "InvalidArgument"},
    {ErrorCode::Timeout, "Timeout"},
    {ErrorCode::Closed, "Closed"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "Unknown";
}

ErrorCode error_code_from_string(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return ErrorCode::InvalidArgument;
}

std::string Error::describe() const {
  std::string out(to_string(code));
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace swarmlab

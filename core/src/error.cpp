#include "swarmlab/error.hpp"

#include <array>
#include <utility>

namespace swarmlab {
namespace {
struct Name {
  ErrorCode code;
  std::string_view name;   // on the wire and in event logs
  std::string_view human;  // for people, when the error carries no message
};
constexpr std::array<Name, 25> kNames{{
    {ErrorCode::AlreadyConnected, "AlreadyConnected", "already connected"},
    {ErrorCode::TrackerNotConnected, "TrackerNotConnected", "not connected to the tracker"},
    {ErrorCode::InProgress, "InProgress", "already in progress"},
    {ErrorCode::ServerRunning, "ServerRunning", "already running"},
    {ErrorCode::DownloadIncomplete, "DownloadIncomplete", "the download is incomplete"},
    {ErrorCode::MalformedFrame, "MalformedFrame", "malformed frame"},
    {ErrorCode::FrameTooLarge, "FrameTooLarge", "frame too large"},
    {ErrorCode::UnknownMessage, "UnknownMessage", "unknown message"},
    {ErrorCode::MissingField, "MissingField", "a field is missing"},
    {ErrorCode::WrongType, "WrongType", "a field has the wrong type"},
    {ErrorCode::OutOfRange, "OutOfRange", "a value is out of range"},
    {ErrorCode::BadName, "BadName", "not a valid name"},
    {ErrorCode::BadUtf8, "BadUtf8", "not valid UTF-8"},
    {ErrorCode::BadChunkSet, "BadChunkSet", "not a valid chunk set"},
    {ErrorCode::VersionMismatch, "VersionMismatch", "protocol version mismatch"},
    {ErrorCode::NotRegistered, "NotRegistered", "not registered with the tracker"},
    {ErrorCode::Refused, "Refused", "refused"},
    {ErrorCode::NameTaken, "NameTaken", "the name is taken"},
    {ErrorCode::NotFound, "NotFound", "not found"},
    {ErrorCode::Busy, "Busy", "busy; try again later"},
    {ErrorCode::HashMismatch, "HashMismatch", "the content does not match its hashes"},
    {ErrorCode::IoError, "IoError", "input/output error"},
    {ErrorCode::InvalidArgument, "InvalidArgument", "invalid argument"},
    {ErrorCode::Timeout, "Timeout", "timed out"},
    {ErrorCode::Closed, "Closed", "the connection closed"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) {
  for (const auto& n : kNames) {
    if (n.code == code) return n.name;
  }
  return "Unknown";
}

ErrorCode error_code_from_string(std::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.code;
  }
  return ErrorCode::InvalidArgument;
}

// The message alone: the code's name is for programs (it travels in ERROR frames and event
// logs), and a person reading "NotFound: cannot open x" learns nothing more from it.
std::string Error::describe() const {
  if (!message.empty()) return message;
  for (const auto& n : kNames) {
    if (n.code == code) return std::string(n.human);
  }
  return "unknown error";
}

}  // namespace swarmlab

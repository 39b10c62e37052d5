#pragma once
// Errors travel as values (code + message), never as exceptions out of a node.
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace swarmlab {

enum class ErrorCode {
  // Errors of the original design, kept recognisable.
  AlreadyConnected,
  TrackerNotConnected,
  InProgress,
  ServerRunning,
  DownloadIncomplete,
  // Protocol and validation errors.
  MalformedFrame,
  FrameTooLarge,
  UnknownMessage,
  MissingField,
  WrongType,
  OutOfRange,
  BadName,
  BadUtf8,
  BadChunkSet,
  VersionMismatch,
  NotRegistered,
  Refused,
  NameTaken,
  NotFound,
  Busy,
  HashMismatch,
  IoError,
  InvalidArgument,
  Timeout,
  Closed,
};

/// The stable wire/CLI name of a code, e.g. "DownloadIncomplete".
std::string_view to_string(ErrorCode code);
/// Parses a wire name back; unknown names map to InvalidArgument.
ErrorCode error_code_from_string(std::string_view name);

struct Error {
  ErrorCode code;
  std::string message;

  /// For people: the message ("3 of 128 chunks have no online owner"), or what the code means.
  std::string describe() const;
  friend bool operator==(const Error&, const Error&) = default;
};

/// A value or an Error. Small on purpose: std::expected is C++23.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation with no value: empty means success.
struct Status {
  Status() = default;
  Status(Error e) : error_(std::move(e)), failed_(true) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::InvalidArgument, {}};
  bool failed_ = false;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace swarmlab

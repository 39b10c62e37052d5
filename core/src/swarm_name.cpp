#include "swarmlab/swarm_name.hpp"

#include <string>

namespace swarmlab {

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      cp = cp << 6 | (byte(i + k) & 0x3F);
    }
    static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status validate_swarm_name(std::string_view name, std::string_view field) {
  const std::string f(field);
  if (name.empty()) return make_error(ErrorCode::BadName, f + ": must not be empty");
  if (name.size() > kMaxNameBytes) {
    return make_error(ErrorCode::BadName, f + ": " + std::to_string(name.size()) +
                                              " bytes, more than the limit of 255");
  }
  if (!is_valid_utf8(name)) return make_error(ErrorCode::BadUtf8, f + ": not valid UTF-8");
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '/' || ch == '\\') {
      return make_error(ErrorCode::BadName, f + ": must not contain a path separator");
    }
    if (c < 0x20 || c == 0x7F) {
      return make_error(ErrorCode::BadName, f + ": must not contain NUL or control characters");
    }
  }
  if (name.find("..") != std::string_view::npos || name == ".") {
    return make_error(ErrorCode::BadName, f + ": must not contain \"..\" or be \".\"");
  }
  return {};
}

}  // namespace swarmlab

#pragma once
// Rules for the names files have in the swarm. A name is never a path: it is matched only
// against files a peer published or downloaded, and must not look like a path either.
#include <string_view>

#include "swarmlab/error.hpp"

namespace swarmlab {

constexpr std::size_t kMaxNameBytes = 255;

/// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

/// OK for 1..255 bytes of UTF-8 without '/', '\\', NUL, control characters, or "..".
/// `field` names the offending field in the error ("name", "file.name", ...).
Status validate_swarm_name(std::string_view name, std::string_view field = "name");

}  // namespace swarmlab

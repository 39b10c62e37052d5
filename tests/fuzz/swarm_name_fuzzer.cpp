// File names as they arrive in every message. Invariant: a name accepted is valid UTF-8,
// non-empty, and cannot be used as a path (no separator, no "..", no control character).
#include <string_view>

#include "fuzz_check.hpp"
#include "swarmlab/swarm_name.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view name(reinterpret_cast<const char*>(data), size);
  const bool utf8 = is_valid_utf8(name);
  if (!validate_swarm_name(name).ok()) return 0;
  FUZZ_CHECK(utf8, "an accepted name is not UTF-8");
  FUZZ_CHECK(!name.empty() && name != ".", "an accepted name is empty or \".\"");
  FUZZ_CHECK(name.find("..") == std::string_view::npos, "an accepted name holds \"..\"");
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(ch != '/' && ch != '\\', "an accepted name holds a path separator");
    FUZZ_CHECK(c >= 0x20 && c != 0x7F, "an accepted name holds a control character");
  }
  return 0;
}

// Sizes, rates and durations as scenario files and flags give them. Invariants: no crash, no
// undefined arithmetic (UBSan), and what parses formats to text without throwing.
#include <string>

#include "fuzz_check.hpp"
#include "swarmlab/units.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto s = parse_size(text)) FUZZ_CHECK(!format_size(*s).empty(), "a size with no text");
  if (auto r = parse_rate(text)) {
    FUZZ_CHECK(!format_rate(static_cast<double>(*r)).empty(), "a rate with no text");
  }
  if (auto d = parse_duration(text)) {
    FUZZ_CHECK(d->count() >= 0, "a negative duration");
    FUZZ_CHECK(!format_duration(*d).empty(), "a duration with no text");
  }
  return 0;
}

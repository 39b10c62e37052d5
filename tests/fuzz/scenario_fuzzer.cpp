// Scenario files: a user's text, with // comments and overrides. Invariants: no crash, and a
// refusal always says where and why.
#include <string>

#include "fuzz_check.hpp"
#include "sim/scenario.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto s = sim::parse_scenario(text);
  if (!s) FUZZ_CHECK(!s.error().message.empty(), "a scenario refused without a reason");
  return 0;
}

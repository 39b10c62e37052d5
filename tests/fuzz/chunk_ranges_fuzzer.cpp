// Chunk-range text ("0-5,7,9-12"), as peers send it to the tracker and each other.
// Invariants: what parses formats back to text that parses to the same ranges; a set built
// from it against a file of N chunks holds exactly the indices the ranges name.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "fuzz_check.hpp"
#include "swarmlab/chunk_set.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto chunk_count = in.ConsumeIntegralInRange<std::uint32_t>(0, 1u << 20);
  const std::string text = in.ConsumeRemainingBytesAsString();
  auto ranges = parse_chunk_ranges(text);
  auto set = ChunkSet::parse(text, chunk_count);
  if (!ranges) {
    FUZZ_CHECK(!set.ok(), "a set parses from text whose ranges do not");
    return 0;
  }
  auto again = parse_chunk_ranges(format_chunk_ranges(*ranges));
  FUZZ_CHECK(again.ok() && *again == *ranges, "ranges do not survive format and parse");
  std::uint64_t named = 0;
  bool inside = true;
  for (const auto& r : *ranges) {
    FUZZ_CHECK(r.first <= r.last, "a range that ends before it starts");
    named += std::uint64_t{r.last} - r.first + 1;
    inside = inside && r.last < chunk_count;
  }
  FUZZ_CHECK(set.ok() == inside, "a set refuses ranges inside the file, or takes others");
  if (set.ok()) {
    FUZZ_CHECK(set->count() == named, "a set holds other than the indices named");
    FUZZ_CHECK(set->size() == chunk_count, "a set of the wrong size");
  }
  return 0;
}

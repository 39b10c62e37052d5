#include "swarmlab/chunk_picker.hpp"

#include <string>

namespace swarmlab {

std::string_view to_string(ChunkStrategy s) {
  switch (s) {
    case ChunkStrategy::RarestFirst:
      return "rarest-first";
    case ChunkStrategy::Random:
      return "random";
    case ChunkStrategy::Sequential:
      return "sequential";
  }
  return "?";
}

Result<ChunkStrategy> parse_chunk_strategy(std::string_view text) {
  for (auto s : {ChunkStrategy::RarestFirst, ChunkStrategy::Random, ChunkStrategy::Sequential}) {
    if (text == to_string(s)) return s;
  }
  return make_error(ErrorCode::InvalidArgument,
                    "unknown chunk strategy \"" + std::string(text) +
                        "\" (expected rarest-first, random or sequential)");
}

std::optional<std::uint32_t> pick_chunk(ChunkStrategy strategy,
                                        std::span<const std::uint32_t> candidates,
                                        std::span<const std::uint32_t> owners, Rng& rng) {
  if (candidates.empty()) return std::nullopt;
  switch (strategy) {
    case ChunkStrategy::Sequential:
      return candidates.front();
    case ChunkStrategy::Random:
      return candidates[rng.below(candidates.size())];
    case ChunkStrategy::RarestFirst:
      break;
  }
  // One pass: keep the rarest so far; among equals, reservoir-sample so each is equally likely.
  std::uint32_t best = candidates.front();
  std::uint32_t best_owners = UINT32_MAX;
  std::uint64_t ties = 0;
  for (const auto c : candidates) {
    const std::uint32_t n = c < owners.size() ? owners[c] : 0;
    if (n < best_owners) {
      best = c;
      best_owners = n;
      ties = 1;
    } else if (n == best_owners && rng.below(++ties) == 0) {
      best = c;
    }
  }
  return best;
}

}  // namespace swarmlab

#pragma once
// Which chunk to request next (docs/architecture.md, Scheduling).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "swarmlab/error.hpp"
#include "swarmlab/rng.hpp"

namespace swarmlab {

enum class ChunkStrategy { RarestFirst, Random, Sequential };

std::string_view to_string(ChunkStrategy s);
/// "rarest-first", "random", "sequential".
Result<ChunkStrategy> parse_chunk_strategy(std::string_view text);

/// Picks one of `candidates` (ascending chunk indexes that some free source can serve).
/// `owners[i]` is how many known owners chunk i has. rarest-first takes the fewest owners,
/// breaking ties uniformly at random; random is uniform; sequential takes the lowest index.
/// A download does rarest-first with RarestFirstIndex instead, which need not look at every
/// chunk; this scan is the rule's plain statement, and the index's tests hold it to it.
std::optional<std::uint32_t> pick_chunk(ChunkStrategy strategy,
                                        std::span<const std::uint32_t> candidates,
                                        std::span<const std::uint32_t> owners, Rng& rng);

}  // namespace swarmlab

#pragma once
// Which owner to request a chunk from (docs/architecture.md, Scheduling).
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "swarmlab/error.hpp"
#include "swarmlab/rng.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab {

enum class PeerStrategy { LowestRtt, Fastest, Random };

std::string_view to_string(PeerStrategy s);
/// "lowest-rtt", "fastest", "random".
Result<PeerStrategy> parse_peer_strategy(std::string_view text);

/// What the picker may know of an eligible source (one with a free request slot).
struct SourceCandidate {
  std::optional<Duration> srtt;  // smoothed round-trip time, if measured
  double throughput = 0;         // observed bytes per second, 0 if not yet observed
};

/// Index into `candidates`. lowest-rtt: smallest srtt (unmeasured last); fastest: highest
/// throughput, where unobserved sources count as fastest so that each gets tried; random:
/// uniform. Ties are broken uniformly at random.
std::optional<std::size_t> pick_source(PeerStrategy strategy,
                                       std::span<const SourceCandidate> candidates, Rng& rng);

}  // namespace swarmlab

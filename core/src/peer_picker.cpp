#include "swarmlab/peer_picker.hpp"

#include <string>

namespace swarmlab {

std::string_view to_string(PeerStrategy s) {
  switch (s) {
    case PeerStrategy::LowestRtt:
      return "lowest-rtt";
    case PeerStrategy::Fastest:
      return "fastest";
    case PeerStrategy::Random:
      return "random";
  }
  return "?";
}

Result<PeerStrategy> parse_peer_strategy(std::string_view text) {
  for (auto s : {PeerStrategy::LowestRtt, PeerStrategy::Fastest, PeerStrategy::Random}) {
    if (text == to_string(s)) return s;
  }
  return make_error(ErrorCode::InvalidArgument, "unknown peer strategy \"" + std::string(text) +
                                                    "\" (expected lowest-rtt, fastest or random)");
}

std::optional<std::size_t> pick_source(PeerStrategy strategy,
                                       std::span<const SourceCandidate> candidates, Rng& rng) {
  if (candidates.empty()) return std::nullopt;
  if (strategy == PeerStrategy::Random) return rng.below(candidates.size());
  // Score so that smaller is better, then take the minimum with random tie-breaks.
  auto score = [&](const SourceCandidate& c) -> double {
    if (strategy == PeerStrategy::LowestRtt) {
      return c.srtt ? to_seconds(*c.srtt) : 1e18;
    }
    return c.throughput > 0 ? -c.throughput : -1e18;
  };
  std::size_t best = 0;
  double best_score = score(candidates[0]);
  std::uint64_t ties = 1;
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    const double s = score(candidates[i]);
    if (s < best_score) {
      best = i;
      best_score = s;
      ties = 1;
    } else if (s == best_score && rng.below(++ties) == 0) {
      best = i;
    }
  }
  return best;
}

}  // namespace swarmlab

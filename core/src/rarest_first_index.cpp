#include "swarmlab/rarest_first_index.hpp"

namespace swarmlab {
namespace {
// Order within a bucket does not matter: the last entry takes the removed one's place.
void drop(std::vector<std::uint32_t>& bucket, std::size_t at) {
  bucket[at] = bucket.back();
  bucket.pop_back();
}
}  // namespace

void RarestFirstIndex::rebuild(std::span<const std::uint32_t> owners,
                               const std::function<bool(std::uint32_t)>& needed) {
  buckets_.clear();
  for (std::uint32_t i = 0; i < owners.size(); ++i) {
    if (owners[i] == 0 || !needed(i)) continue;
    if (owners[i] >= buckets_.size()) buckets_.resize(owners[i] + 1);
    buckets_[owners[i]].push_back(i);
  }
}

std::size_t RarestFirstIndex::size() const {
  std::size_t n = 0;
  for (const auto& bucket : buckets_) n += bucket.size();
  return n;
}

std::optional<std::uint32_t> RarestFirstIndex::pick(
    const std::function<Verdict(std::uint32_t)>& verdict, Rng& rng) {
  // Enough probes to find one of the common case's many askable chunks; few enough that a
  // bucket of mostly unaskable chunks soon goes to the scan.
  constexpr int kProbes = 8;
  for (auto& bucket : buckets_) {
    // Each probe is uniform over the bucket, so the first that may be asked for is uniform
    // over the askable ones: the same choice as the scan below, which breaks ties uniformly.
    for (int probe = 0; probe < kProbes && !bucket.empty(); ++probe) {
      const auto at = static_cast<std::size_t>(rng.below(bucket.size()));
      const auto chunk = bucket[at];
      const auto v = verdict(chunk);
      if (v == Verdict::Ask) return chunk;
      if (v == Verdict::Drop) drop(bucket, at);
    }
    std::vector<std::uint32_t> askable;
    for (std::size_t at = 0; at < bucket.size();) {
      const auto chunk = bucket[at];
      const auto v = verdict(chunk);
      if (v == Verdict::Drop) {
        drop(bucket, at);  // the last entry moved here: look at this place again
        continue;
      }
      if (v == Verdict::Ask) askable.push_back(chunk);
      ++at;
    }
    if (!askable.empty()) return askable[rng.below(askable.size())];
  }
  return std::nullopt;
}

}  // namespace swarmlab

#include "swarmlab/rarest_first_index.hpp"

namespace swarmlab {

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

}  // namespace swarmlab

#pragma once
// The chunks a download may still ask for, grouped by how many sources hold them, so that a
// rarest-first pick looks at the rarest few rather than scanning the whole file each time.
// A scan per request costs O(chunks) per chunk: at 16,384 chunks (an 8 GiB file) it took half
// of a loopback download's CPU, all of it on the network thread.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "swarmlab/rng.hpp"

namespace swarmlab {

class RarestFirstIndex {
 public:
  /// What pick() may do with a chunk it looks at.
  enum class Verdict {
    Ask,   // it can be requested now
    Skip,  // not now (in flight, or no free source holds it), maybe later
    Drop,  // never again (it is held): forget it
  };

  /// Starts over: `owners[i]` sources hold chunk i, and `needed(i)` says whether chunk i is
  /// still to be fetched. Chunks without owners are left out: nobody can be asked for them.
  void rebuild(std::span<const std::uint32_t> owners,
               const std::function<bool(std::uint32_t)>& needed);

  /// A chunk that `verdict` says to Ask for, among those with the fewest owners that have any
  /// such chunk, each of them equally likely; none if no chunk may be asked for. In a large
  /// bucket a few random probes usually find one at once, and it is scanned only when they
  /// miss; a small one is scanned at once.
  /// (A template: it runs for every request, and the verdict is called for many chunks.)
  template <typename VerdictOf>
  std::optional<std::uint32_t> pick(VerdictOf&& verdict, Rng& rng);

  /// Chunks still indexed (those dropped by pick() no longer count).
  std::size_t size() const;

 private:
  // Order within a bucket does not matter: the last entry takes the removed one's place.
  static void drop(std::vector<std::uint32_t>& bucket, std::size_t at) {
    bucket[at] = bucket.back();
    bucket.pop_back();
  }

  std::vector<std::vector<std::uint32_t>> buckets_;  // by owner count; [0] stays empty
};

template <typename VerdictOf>
std::optional<std::uint32_t> RarestFirstIndex::pick(VerdictOf&& verdict, Rng& rng) {
  // Enough probes to find one of the common case's many askable chunks; few enough that a
  // bucket of mostly unaskable chunks soon goes to the scan.
  constexpr std::size_t kProbes = 8;
  for (auto& bucket : buckets_) {
    // Each probe is uniform over the bucket, so the first that may be asked for is uniform
    // over the askable ones: the same choice as the scan below, which breaks ties uniformly.
    // A bucket no larger than the probes goes straight to the scan: it looks at each chunk
    // once, and draws once. (In a large swarm owner counts spread the chunks over hundreds
    // of small buckets, and a source with nothing for us was probed 8 times in each.)
    for (std::size_t probe = 0; probe < kProbes && bucket.size() > kProbes; ++probe) {
      const auto at = static_cast<std::size_t>(rng.below(bucket.size()));
      const auto chunk = bucket[at];
      const Verdict v = verdict(chunk);
      if (v == Verdict::Ask) return chunk;
      if (v == Verdict::Drop) drop(bucket, at);
    }
    std::vector<std::uint32_t> askable;
    for (std::size_t at = 0; at < bucket.size();) {
      const auto chunk = bucket[at];
      const Verdict v = verdict(chunk);
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

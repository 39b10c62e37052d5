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
  /// such chunk, each of them equally likely; none if no chunk may be asked for. A few random
  /// probes usually find one at once; a bucket is scanned only when they miss.
  std::optional<std::uint32_t> pick(const std::function<Verdict(std::uint32_t)>& verdict, Rng& rng);

  /// Chunks still indexed (those dropped by pick() no longer count).
  std::size_t size() const;

 private:
  std::vector<std::vector<std::uint32_t>> buckets_;  // by owner count; [0] stays empty
};

}  // namespace swarmlab

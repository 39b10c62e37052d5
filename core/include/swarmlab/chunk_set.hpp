#pragma once
// A set of chunk indexes of one file, as a bitset, with the compact range form used on the
// wire and in tables: "0-1601,1700,1702-1800".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "swarmlab/error.hpp"

namespace swarmlab {

/// An inclusive range of chunk indexes, the unit of the compact form.
struct ChunkRange {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  friend bool operator==(const ChunkRange&, const ChunkRange&) = default;
};

/// Most ranges one chunk set may carry; bounds the work a message can cause.
constexpr std::size_t kMaxRanges = 1U << 16;

/// Parses "0-5,7,9-12" without knowing the file: ascending, non-overlapping, at most
/// kMaxRanges ranges. `field` names the field in errors.
Result<std::vector<ChunkRange>> parse_chunk_ranges(std::string_view text,
                                                   std::string_view field = "chunks");
std::string format_chunk_ranges(const std::vector<ChunkRange>& ranges);
/// `ranges` cut into pieces of at most `per_piece` ranges, in order: a chunk set too
/// fragmented for one message travels in several.
std::vector<std::vector<ChunkRange>> split_ranges(const std::vector<ChunkRange>& ranges,
                                                  std::size_t per_piece);

class ChunkSet {
 public:
  ChunkSet() = default;
  explicit ChunkSet(std::uint32_t chunk_count);
  static ChunkSet full(std::uint32_t chunk_count);

  /// Parses the range form against a file of `chunk_count` chunks.
  static Result<ChunkSet> parse(std::string_view text, std::uint32_t chunk_count);
  /// Builds the set from validated ranges; fails if any index is outside the file.
  static Result<ChunkSet> from_ranges(const std::vector<ChunkRange>& ranges,
                                      std::uint32_t chunk_count);

  std::uint32_t size() const { return size_; }    // chunks in the file
  std::uint32_t count() const { return count_; }  // chunks in the set
  bool empty() const { return count_ == 0; }
  bool complete() const { return count_ == size_; }
  bool contains(std::uint32_t index) const;
  void insert(std::uint32_t index);
  void erase(std::uint32_t index);
  void insert_all(const ChunkSet& other);
  /// True if this set holds some chunk that `other` does not.
  bool has_any_missing_from(const ChunkSet& other) const;
  /// Adds 1 to counts[i] for every i in the set (counts must have size() entries).
  void add_to_counts(std::vector<std::uint32_t>& counts) const;

  /// Indexes in ascending order.
  std::vector<std::uint32_t> indexes() const;
  /// Compact range form; "" for the empty set.
  std::string to_ranges() const;
  std::vector<ChunkRange> ranges() const;

  friend bool operator==(const ChunkSet& a, const ChunkSet& b) {
    return a.size_ == b.size_ && a.words_ == b.words_;
  }

 private:
  std::vector<std::uint64_t> words_;
  std::uint32_t size_ = 0;
  std::uint32_t count_ = 0;
};

}  // namespace swarmlab

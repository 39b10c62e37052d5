#include "swarmlab/chunk_set.hpp"

#include <algorithm>
#include <bit>
#include <charconv>

namespace swarmlab {

Result<std::vector<ChunkRange>> parse_chunk_ranges(std::string_view text, std::string_view field) {
  auto fail = [&](const std::string& why) {
    const std::string shown =
        text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text);
    return make_error(ErrorCode::BadChunkSet,
                      std::string(field) + ": chunk set \"" + shown + "\": " + why);
  };
  std::vector<ChunkRange> out;
  std::int64_t last_end = -1;
  std::size_t pos = 0;
  auto read_number = [&](std::uint32_t& value) {
    const char* begin = text.data() + pos;
    const char* end = text.data() + text.size();
    if (begin == end || *begin < '0' || *begin > '9') return false;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc()) return false;
    pos += static_cast<std::size_t>(ptr - begin);
    return true;
  };
  while (pos < text.size()) {
    if (out.size() == kMaxRanges) return fail("more than 65536 ranges");
    ChunkRange r;
    if (!read_number(r.first))
      return fail("expected a chunk index at offset " + std::to_string(pos));
    r.last = r.first;
    if (pos < text.size() && text[pos] == '-') {
      ++pos;
      if (!read_number(r.last))
        return fail("expected a range end at offset " + std::to_string(pos));
      if (r.last < r.first) {
        return fail("range " + std::to_string(r.first) + "-" + std::to_string(r.last) +
                    " is reversed");
      }
    }
    if (static_cast<std::int64_t>(r.first) <= last_end) {
      return fail("ranges overlap or are not ascending at index " + std::to_string(r.first));
    }
    last_end = r.last;
    out.push_back(r);
    if (pos < text.size()) {
      if (text[pos] != ',') return fail("unexpected character at offset " + std::to_string(pos));
      ++pos;
      if (pos == text.size()) return fail("trailing comma");
    }
  }
  return out;
}

std::vector<std::vector<ChunkRange>> split_ranges(const std::vector<ChunkRange>& ranges,
                                                  std::size_t per_piece) {
  std::vector<std::vector<ChunkRange>> pieces;
  for (std::size_t i = 0; i < ranges.size(); i += per_piece) {
    const auto end = std::min(ranges.size(), i + per_piece);
    pieces.emplace_back(ranges.begin() + static_cast<std::ptrdiff_t>(i),
                        ranges.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return pieces;
}

std::string format_chunk_ranges(const std::vector<ChunkRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(r.first);
    if (r.last > r.first) {
      out += '-';
      out += std::to_string(r.last);
    }
  }
  return out;
}

ChunkSet::ChunkSet(std::uint32_t chunk_count)
    : words_((static_cast<std::size_t>(chunk_count) + 63) / 64, 0), size_(chunk_count) {
}

ChunkSet ChunkSet::full(std::uint32_t chunk_count) {
  ChunkSet s(chunk_count);
  for (std::uint32_t i = 0; i < chunk_count; ++i) s.insert(i);
  return s;
}

Result<ChunkSet> ChunkSet::from_ranges(const std::vector<ChunkRange>& ranges,
                                       std::uint32_t chunk_count) {
  ChunkSet set(chunk_count);
  for (const auto& r : ranges) {
    if (r.last >= chunk_count || r.first > r.last) {
      return make_error(ErrorCode::BadChunkSet, "chunk index " + std::to_string(r.last) +
                                                    " is out of range (file has " +
                                                    std::to_string(chunk_count) + " chunks)");
    }
    for (std::uint32_t i = r.first; i <= r.last; ++i) set.insert(i);
  }
  return set;
}

Result<ChunkSet> ChunkSet::parse(std::string_view text, std::uint32_t chunk_count) {
  auto ranges = parse_chunk_ranges(text);
  if (!ranges) return ranges.error();
  return from_ranges(*ranges, chunk_count);
}

bool ChunkSet::contains(std::uint32_t index) const {
  return index < size_ && (words_[index / 64] >> (index % 64) & 1U) != 0;
}

void ChunkSet::insert(std::uint32_t index) {
  if (index >= size_ || contains(index)) return;
  words_[index / 64] |= std::uint64_t{1} << (index % 64);
  ++count_;
}

void ChunkSet::erase(std::uint32_t index) {
  if (!contains(index)) return;
  words_[index / 64] &= ~(std::uint64_t{1} << (index % 64));
  --count_;
}

void ChunkSet::insert_all(const ChunkSet& other) {
  for (std::size_t w = 0; w < words_.size() && w < other.words_.size(); ++w) {
    words_[w] |= other.words_[w];
  }
  count_ = 0;
  for (auto w : words_) count_ += static_cast<std::uint32_t>(std::popcount(w));
}

bool ChunkSet::has_any_missing_from(const ChunkSet& other) const {
  for (std::size_t w = 0; w < words_.size(); ++w) {
    const std::uint64_t theirs = w < other.words_.size() ? other.words_[w] : 0;
    if ((words_[w] & ~theirs) != 0) return true;
  }
  return false;
}

void ChunkSet::add_to_counts(std::vector<std::uint32_t>& counts) const {
  for (std::size_t w = 0; w < words_.size(); ++w) {
    std::uint64_t bits = words_[w];
    while (bits != 0) {
      ++counts[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))];
      bits &= bits - 1;
    }
  }
}

std::vector<std::uint32_t> ChunkSet::indexes() const {
  std::vector<std::uint32_t> out;
  out.reserve(count_);
  for (std::size_t w = 0; w < words_.size(); ++w) {
    std::uint64_t bits = words_[w];
    while (bits != 0) {
      const int b = std::countr_zero(bits);
      out.push_back(static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(b)));
      bits &= bits - 1;
    }
  }
  return out;
}

namespace {
// The first index in [from, size) whose bit is `value`, or size; a word at a time, so that
// listing the ranges of a large, mostly empty or mostly full set costs words, not bits.
std::uint64_t find_next(const std::vector<std::uint64_t>& words, std::uint64_t size,
                        std::uint64_t from, bool value) {
  while (from < size) {
    const std::uint64_t w = words[from / 64];
    const std::uint64_t bits = (value ? w : ~w) >> (from % 64);
    if (bits != 0) return std::min(size, from + static_cast<std::uint64_t>(std::countr_zero(bits)));
    from = (from / 64 + 1) * 64;
  }
  return size;
}
}  // namespace

std::vector<ChunkRange> ChunkSet::ranges() const {
  std::vector<ChunkRange> out;
  if (count_ == 0) return out;  // a new member of a swarm: listed often, holds nothing
  for (std::uint64_t i = find_next(words_, size_, 0, true); i < size_;) {
    const std::uint64_t end = find_next(words_, size_, i, false);
    out.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(end - 1)});
    i = find_next(words_, size_, end, true);
  }
  return out;
}

std::string ChunkSet::to_ranges() const {
  return format_chunk_ranges(ranges());
}

}  // namespace swarmlab

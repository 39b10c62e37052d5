#include "swarmlab/chunk_set.hpp"

#include <gtest/gtest.h>

namespace swarmlab {
namespace {

TEST(ChunkSet, InsertEraseCount) {
  ChunkSet s(130);
  EXPECT_TRUE(s.empty());
  s.insert(0);
  s.insert(64);
  s.insert(129);
  s.insert(129);
  s.insert(500);  // out of range: ignored
  EXPECT_EQ(s.count(), 3u);
  EXPECT_TRUE(s.contains(64));
  EXPECT_FALSE(s.contains(65));
  s.erase(64);
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.indexes(), (std::vector<std::uint32_t>{0, 129}));
  EXPECT_TRUE(ChunkSet::full(130).complete());
}

TEST(ChunkSet, RangeFormIsCompact) {
  auto s = ChunkSet::full(1602);
  EXPECT_EQ(s.to_ranges(), "0-1601");
  ChunkSet t(20);
  for (std::uint32_t i : {0u, 1u, 2u, 5u, 7u, 8u, 19u}) t.insert(i);
  EXPECT_EQ(t.to_ranges(), "0-2,5,7-8,19");
  auto back = ChunkSet::parse(t.to_ranges(), 20);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, t);
  EXPECT_TRUE(ChunkSet::parse("", 20)->empty());
}

TEST(ChunkSet, RangesAgreeWithTheBitsAcrossWordBoundaries) {
  // ranges() skips whole words; compare it with a bit-by-bit walk on sets of every shape.
  std::uint64_t seed = 42;
  auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(seed >> 33);
  };
  for (const std::uint32_t size : {1u, 63u, 64u, 65u, 127u, 128u, 129u, 1000u, 4097u}) {
    for (int shape = 0; shape < 40; ++shape) {
      ChunkSet s(size);
      const std::uint32_t density = next() % 5;  // empty, sparse, half, dense, full
      for (std::uint32_t i = 0; i < size; ++i) {
        if (density == 4 || (density > 0 && next() % 4 < density)) s.insert(i);
      }
      std::vector<ChunkRange> expected;
      for (std::uint32_t i = 0; i < size; ++i) {
        if (!s.contains(i)) continue;
        if (!expected.empty() && expected.back().last + 1 == i) {
          expected.back().last = i;
        } else {
          expected.push_back({i, i});
        }
      }
      const auto got = s.ranges();
      ASSERT_EQ(got.size(), expected.size()) << "size " << size << " shape " << shape;
      for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k].first, expected[k].first);
        EXPECT_EQ(got[k].last, expected[k].last);
      }
    }
  }
}

TEST(ChunkSet, RejectsBadSets) {
  const std::pair<const char*, const char*> cases[] = {
      {"0-5,3-8", "overlap"}, {"5,2", "ascending"},  {"0-20", "out of range"},
      {"3-1", "reversed"},    {"1,,2", "expected"},  {"1,", "trailing"},
      {"a", "expected"},      {"1;2", "unexpected"}, {"99999999999", "expected"},
      {"5,5", "overlap"},
  };
  for (const auto& [text, why] : cases) {
    auto r = ChunkSet::parse(text, 20);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::BadChunkSet);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << text << ": " << r.error().message;
  }
}

TEST(ChunkSet, RangeCountIsBounded) {
  std::string many;
  for (std::uint32_t i = 0; i < kMaxRanges + 1; ++i) {
    if (i) many += ',';
    many += std::to_string(2 * i);
  }
  auto r = parse_chunk_ranges(many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("65536"), std::string::npos);
}

}  // namespace
}  // namespace swarmlab

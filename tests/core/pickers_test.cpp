#include <gtest/gtest.h>

#include <map>

#include "swarmlab/chunk_picker.hpp"
#include "swarmlab/peer_picker.hpp"

namespace swarmlab {
namespace {

TEST(ChunkPicker, RarestFirstTakesFewestOwners) {
  Rng rng(1);
  const std::vector<std::uint32_t> owners{5, 3, 1, 4, 1, 9};
  const std::vector<std::uint32_t> candidates{0, 1, 2, 3, 4, 5};
  std::map<std::uint32_t, int> seen;
  for (int i = 0; i < 1000; ++i)
    ++seen[*pick_chunk(ChunkStrategy::RarestFirst, candidates, owners, rng)];
  // Only the two chunks with one owner, each about half of the time.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[2], 400);
  EXPECT_GT(seen[4], 400);
}

TEST(ChunkPicker, OnlyCandidatesArePicked) {
  Rng rng(2);
  const std::vector<std::uint32_t> owners{1, 1, 7, 7};
  const std::vector<std::uint32_t> candidates{2, 3};
  for (int i = 0; i < 100; ++i) {
    const auto c = *pick_chunk(ChunkStrategy::RarestFirst, candidates, owners, rng);
    EXPECT_TRUE(c == 2 || c == 3);
  }
  EXPECT_FALSE(pick_chunk(ChunkStrategy::Random, {}, owners, rng).has_value());
}

TEST(ChunkPicker, SequentialAndRandom) {
  Rng rng(3);
  const std::vector<std::uint32_t> owners(10, 1);
  const std::vector<std::uint32_t> candidates{4, 6, 8};
  EXPECT_EQ(*pick_chunk(ChunkStrategy::Sequential, candidates, owners, rng), 4u);
  std::map<std::uint32_t, int> seen;
  for (int i = 0; i < 900; ++i) ++seen[*pick_chunk(ChunkStrategy::Random, candidates, owners, rng)];
  for (auto c : candidates) EXPECT_GT(seen[c], 220) << c;
}

TEST(PeerPicker, LowestRttFastestRandom) {
  Rng rng(4);
  std::vector<SourceCandidate> c{{50ms, 1e6}, {5ms, 1e5}, {std::nullopt, 0}, {20ms, 5e6}};
  EXPECT_EQ(*pick_source(PeerStrategy::LowestRtt, c, rng), 1u);
  // An unobserved source counts as fastest, so it gets tried.
  EXPECT_EQ(*pick_source(PeerStrategy::Fastest, c, rng), 2u);
  c[2].throughput = 1;
  EXPECT_EQ(*pick_source(PeerStrategy::Fastest, c, rng), 3u);
  std::map<std::size_t, int> seen;
  for (int i = 0; i < 800; ++i) ++seen[*pick_source(PeerStrategy::Random, c, rng)];
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_FALSE(pick_source(PeerStrategy::LowestRtt, {}, rng).has_value());
}

TEST(Strategies, NamesRoundTripAndBadNamesAreExplained) {
  for (auto s : {ChunkStrategy::RarestFirst, ChunkStrategy::Random, ChunkStrategy::Sequential}) {
    EXPECT_EQ(*parse_chunk_strategy(to_string(s)), s);
  }
  for (auto s : {PeerStrategy::LowestRtt, PeerStrategy::Fastest, PeerStrategy::Random}) {
    EXPECT_EQ(*parse_peer_strategy(to_string(s)), s);
  }
  auto bad = parse_chunk_strategy("rarest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("rarest-first"), std::string::npos);
}

TEST(Rng, DeterministicAndUniformEnough) {
  Rng a(99), b(99);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  std::array<int, 7> hist{};
  for (int i = 0; i < 7000; ++i) ++hist[a.below(7)];
  for (int h : hist) EXPECT_NEAR(h, 1000, 150);
}

}  // namespace
}  // namespace swarmlab

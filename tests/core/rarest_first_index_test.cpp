// RarestFirstIndex: the fewest-owned askable chunk, ties broken uniformly, held chunks
// forgotten, and a pick that does not look at every chunk when most may be asked for.
#include "swarmlab/rarest_first_index.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <set>

#include "swarmlab/chunk_picker.hpp"

namespace swarmlab {
namespace {

using Verdict = RarestFirstIndex::Verdict;

auto all_needed = [](std::uint32_t) { return true; };
auto ask_all = [](std::uint32_t) { return Verdict::Ask; };

// 3,000 picks must land on exactly `expected` (three chunks), each about a third of the time.
void expect_uniform(RarestFirstIndex& index, const std::function<Verdict(std::uint32_t)>& verdict,
                    Rng rng, std::initializer_list<std::uint32_t> expected) {
  std::map<std::uint32_t, int> seen;
  for (int i = 0; i < 3000; ++i) ++seen[*index.pick(verdict, rng)];
  ASSERT_EQ(seen.size(), expected.size());
  for (auto c : expected) {
    EXPECT_GT(seen[c], 850) << c;
    EXPECT_LT(seen[c], 1150) << c;
  }
}

TEST(RarestFirstIndex, PicksAmongTheFewestOwnedUniformly) {
  const std::vector<std::uint32_t> owners{3, 1, 2, 1, 0, 1};
  RarestFirstIndex index;
  index.rebuild(owners, all_needed);
  EXPECT_EQ(index.size(), 5U) << "chunk 4 has no owner: nobody can be asked for it";
  expect_uniform(index, ask_all, Rng(5), {1, 3, 5});
}

TEST(RarestFirstIndex, GoesToTheNextCountWhenNoRarestChunkMayBeAsked) {
  const std::vector<std::uint32_t> owners{3, 1, 2, 1};
  RarestFirstIndex index;
  index.rebuild(owners, all_needed);
  Rng rng(1);
  auto rare_busy = [](std::uint32_t c) { return c == 1 || c == 3 ? Verdict::Skip : Verdict::Ask; };
  for (int i = 0; i < 50; ++i) EXPECT_EQ(*index.pick(rare_busy, rng), 2U);
  auto nothing = [](std::uint32_t) { return Verdict::Skip; };
  EXPECT_FALSE(index.pick(nothing, rng).has_value());
  EXPECT_EQ(index.size(), 4U) << "skipped chunks stay for later";
}

TEST(RarestFirstIndex, ChunksNotNeededOrDroppedAreNeverOfferedAgain) {
  const std::vector<std::uint32_t> owners{1, 1, 1, 1};
  RarestFirstIndex index;
  index.rebuild(owners, [](std::uint32_t c) { return c != 0; });
  Rng rng(3);
  std::set<std::uint32_t> looked_at;
  auto held_1 = [&](std::uint32_t c) {
    looked_at.insert(c);
    return c == 1 ? Verdict::Drop : Verdict::Skip;
  };
  EXPECT_FALSE(index.pick(held_1, rng).has_value());
  EXPECT_EQ(looked_at, (std::set<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(index.size(), 2U);
  looked_at.clear();
  for (int i = 0; i < 20; ++i) {
    const auto c = index.pick(
        [&](std::uint32_t x) {
          looked_at.insert(x);
          return Verdict::Ask;
        },
        rng);
    EXPECT_TRUE(c == 2U || c == 3U);
  }
  EXPECT_EQ(looked_at.count(1), 0U);
}

TEST(RarestFirstIndex, FewAskableInABigBucketAreStillChosenUniformly) {
  std::vector<std::uint32_t> owners(200, 1);
  RarestFirstIndex index;
  index.rebuild(owners, all_needed);
  auto three = [](std::uint32_t c) { return c % 70 == 5 ? Verdict::Ask : Verdict::Skip; };
  expect_uniform(index, three, Rng(11), {5, 75, 145});
}

TEST(RarestFirstIndex, APickLooksAtAFewChunksNotTheWholeFile) {
  // What makes downloads of many chunks scale: with most chunks askable, a pick is a probe
  // or two, where a scan would look at all 100,000.
  std::vector<std::uint32_t> owners(100000, 1);
  RarestFirstIndex index;
  index.rebuild(owners, all_needed);
  Rng rng(2);
  std::size_t looks = 0;
  auto mostly = [&](std::uint32_t c) {
    ++looks;
    return c % 4 == 0 ? Verdict::Skip : Verdict::Ask;
  };
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(index.pick(mostly, rng).has_value());
  EXPECT_LT(looks, 2000U);
}

TEST(RarestFirstIndex, SmallBucketsAreLookedAtOnceAndDrawOnce) {
  // A large swarm spreads a file's chunks over many owner counts, a few chunks each. A
  // source that holds nothing askable then costs one look per chunk and no random draws,
  // and a pick in a small bucket draws once, uniformly.
  std::vector<std::uint32_t> owners(300);
  for (std::uint32_t c = 0; c < owners.size(); ++c) owners[c] = 1 + c / 3;  // 100 buckets of 3
  RarestFirstIndex index;
  index.rebuild(owners, all_needed);
  Rng rng(7);
  const Rng before = rng;
  std::size_t looks = 0;
  auto nothing = [&](std::uint32_t) {
    ++looks;
    return Verdict::Skip;
  };
  EXPECT_FALSE(index.pick(nothing, rng).has_value());
  EXPECT_EQ(looks, owners.size());
  EXPECT_EQ(Rng(rng).next(), Rng(before).next()) << "no draws when nothing may be asked for";

  auto last_bucket = [](std::uint32_t c) { return c >= 297 ? Verdict::Ask : Verdict::Skip; };
  expect_uniform(index, last_bucket, Rng(9), {297, 298, 299});
  looks = 0;
  auto one = [&](std::uint32_t c) {
    ++looks;
    return c == 150 ? Verdict::Ask : Verdict::Skip;
  };
  Rng once(3);
  const Rng start = once;
  EXPECT_EQ(index.pick(one, once), 150U);
  EXPECT_EQ(looks, 153U) << "each chunk of the rarer buckets and of chunk 150's, once";
  Rng expected = start;
  expected.below(1);
  EXPECT_EQ(once.next(), expected.next()) << "one draw, for the pick";
}

TEST(RarestFirstIndex, ChoosesWhatThePlainScanChooses) {
  // On random files: the chunks the index offers over many picks are exactly those that
  // pick_chunk's scan of every askable chunk offers.
  Rng setup(42);
  for (int file = 0; file < 40; ++file) {
    std::vector<std::uint32_t> owners(60);
    for (auto& o : owners) o = static_cast<std::uint32_t>(setup.below(5));
    std::vector<bool> askable(owners.size());
    std::vector<std::uint32_t> candidates;
    for (std::uint32_t c = 0; c < owners.size(); ++c) {
      askable[c] = setup.below(3) != 0;
      if (askable[c] && owners[c] > 0) candidates.push_back(c);
    }
    RarestFirstIndex index;
    index.rebuild(owners, all_needed);
    Rng a(file), b(file);
    std::set<std::uint32_t> by_index, by_scan;
    for (int i = 0; i < 400; ++i) {
      const auto x =
          index.pick([&](std::uint32_t c) { return askable[c] ? Verdict::Ask : Verdict::Skip; }, a);
      const auto y = pick_chunk(ChunkStrategy::RarestFirst, candidates, owners, b);
      ASSERT_EQ(x.has_value(), y.has_value());
      if (x) by_index.insert(*x);
      if (y) by_scan.insert(*y);
    }
    EXPECT_EQ(by_index, by_scan) << "file " << file;
  }
}

}  // namespace
}  // namespace swarmlab

// Blocks within chunks, on the fake network: a chunk assembled from several owners, a source
// lost mid-chunk costing only its blocks in flight, a liar among several senders found out,
// and uploads paced to a rate limit.
#include <gtest/gtest.h>

#include <set>

#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {
namespace {

constexpr std::uint32_t kBlock = kTestChunk / 4;

void small_blocks(PeerConfig& c) {
  c.download.block_size = kBlock;
  c.download.peer_strategy = PeerStrategy::Random;  // spread the blocks over both seeds
}

/// The senders named by a chunk_received record: its "sources" when there were several.
std::set<std::string> senders(const Event& e) {
  std::set<std::string> out;
  if (e.fields.contains("sources")) {
    for (const auto& [id, bytes] : e.fields["sources"].items()) out.insert(id);
  } else {
    out.insert(e.fields["from"].get<std::string>());
  }
  return out;
}

TEST(BlockTransfer, BlocksOfOneChunkComeFromTwoOwners) {
  Swarm s(11);
  const auto bytes = random_bytes(8 * kTestChunk, 31);
  auto a = s.add_peer("a", {2e6, 2e6, 5ms});
  auto b = s.add_peer("b", {2e6, 2e6, 5ms});
  auto d = s.add_peer("d", {1e6, 100e6, 5ms}, small_blocks);
  ASSERT_TRUE(s.wait_online({a, b, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  std::size_t mixed = 0;
  for (const auto& e : s.received_by("d", "f")) {
    const auto from = senders(e);
    mixed += from.size() > 1;
    if (e.fields.contains("sources")) {
      std::uint64_t total = 0;
      for (const auto& [id, n] : e.fields["sources"].items()) total += n.get<std::uint64_t>();
      EXPECT_EQ(total, kTestChunk) << "the senders' shares add up to the chunk";
    }
  }
  EXPECT_GT(mixed, 0u) << "some chunk was assembled from blocks of both seeds";
}

TEST(BlockTransfer, ASourceLostMidChunkCostsOnlyItsBlocksInFlight) {
  // One chunk, four blocks. a is slow and the only owner until b publishes; a vanishes after
  // two of its blocks are in, and the chunk is completed from b with those two kept.
  Swarm s(12);
  const auto bytes = random_bytes(kTestChunk, 32);
  auto a = s.add_peer("a", {40e3, 40e3, 5ms});
  auto b = s.add_peer("b", {4e6, 4e6, 5ms});
  auto d = s.add_peer("d", {4e6, 4e6, 5ms}, [](PeerConfig& c) {
    c.download.block_size = kBlock;
    c.download.first_refresh = 200ms;
    c.download.refresh_interval = 200ms;
  });
  ASSERT_TRUE(s.wait_online({a, b, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  // A block takes about 0.8 s on a's 40 kbit/s link: after 2 s, two are in.
  s.net.run_for(2s);
  ASSERT_EQ(s.chunks_have(d, "f"), 0u);
  s.net.crash(a, /*silent=*/false);
  ASSERT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto got = s.received_by("d", "f");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].fields.contains("sources")) << got[0].fields.dump();
  EXPECT_EQ(got[0].fields["sources"]["a"], 2 * kBlock) << "a's two blocks were kept";
  EXPECT_EQ(got[0].fields["sources"]["b"], 2 * kBlock);
}

TEST(BlockTransfer, ALiarAmongSeveralSendersIsFoundOutAndTheFileIsRight) {
  // c serves corrupt bytes. A chunk with blocks from c and an honest seed fails its SHA-256
  // without saying who lied; its next copy comes whole from one source, so c collects strikes
  // and is banned, and the file ends up right.
  Swarm s(13);
  const auto bytes = random_bytes(16 * kTestChunk, 33);
  auto a = s.add_peer("a", {2e6, 2e6, 5ms});
  auto c = s.add_peer("c", {2e6, 2e6, 5ms});
  auto d = s.add_peer("d", {1e6, 100e6, 5ms}, small_blocks);
  ASSERT_TRUE(s.wait_online({a, c, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(c, "f", bytes)), nullptr);
  s.net.store(c).corrupt_reads = true;
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto bans = s.net.records_of("peer_banned");
  ASSERT_EQ(bans.size(), 1u);
  EXPECT_EQ(bans[0].fields["peer"], "c");
  for (const auto& e : s.received_by("d", "f")) {
    EXPECT_EQ(senders(e).count("c"), 0u) << "no verified chunk has bytes from the liar";
  }
}

TEST(BlockTransfer, UploadsArePacedToTheRateLimit) {
  // A 10 Mbit/s seed limited to 1 Mbit/s: 16 chunks take as long as 1 Mbit/s allows.
  Swarm s(14);
  const std::uint32_t n = 16;
  const auto bytes = random_bytes(n * kTestChunk, 34);
  auto a = s.add_peer("a", {10e6, 10e6, 2ms},
                      [](PeerConfig& c) { c.upload.rate_limit_bps = 1'000'000; });
  auto d =
      s.add_peer("d", {10e6, 10e6, 2ms}, [](PeerConfig& c) { c.download.block_size = kBlock; });
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  const auto got = s.received_by("d", "f");
  ASSERT_EQ(got.size(), n);
  // From the first chunk in to the last: n - 1 chunks at the limit (the burst allowance and the
  // first chunk's blocks may leave early).
  const double took = to_seconds(got.back().time - got.front().time);
  const double at_limit = (n - 1) * kTestChunk * 8 / 1e6;
  EXPECT_GT(took, 0.9 * at_limit) << "took " << took << " s";
  EXPECT_LT(took, 1.2 * at_limit) << "took " << took << " s";
}

}  // namespace
}  // namespace swarmlab::testing

// Many peers at once: a flash crowd on the fake network, and its determinism.
#include <gtest/gtest.h>

#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {
namespace {

struct CrowdResult {
  std::string log;  // SHA-256 of the event log
  std::size_t completed = 0;
  std::size_t identical = 0;
  double last_done = 0;
  std::uint64_t from_seed = 0, from_peers = 0;
};

CrowdResult flash_crowd(std::uint64_t seed, int leechers) {
  Swarm s(seed);
  const auto bytes = random_bytes(32 * kTestChunk, 99);
  auto origin = s.add_peer("seed", {10e6, 10e6, 5ms});
  EXPECT_TRUE(s.wait_online({origin}));
  EXPECT_NE(as<PublishDone>(s.publish(origin, "crowd.bin", bytes)), nullptr);
  std::vector<HostId> peers;
  for (int i = 0; i < leechers; ++i) {
    peers.push_back(s.add_peer("p" + std::to_string(i), {10e6, 10e6, 5ms}));
  }
  s.net.run_until([&] { return s.net.count_records("tracker_connected") == peers.size() + 1; });
  for (auto h : peers) s.start_download(h, "crowd.bin", "/dl/crowd.bin");
  s.net.run_until([&] {
    return s.net.count_records("download_completed") + s.net.count_records("download_failed") ==
           peers.size();
  });
  CrowdResult r;
  r.log = to_hex(sha256(s.net.records_jsonl()));
  for (const auto& e : s.net.records_of("download_completed")) {
    ++r.completed;
    r.last_done = std::max(r.last_done, to_seconds(e.time));
  }
  for (auto h : peers)
    r.identical +=
        s.net.store(h).file("/dl/crowd.bin") && *s.net.store(h).file("/dl/crowd.bin") == bytes;
  for (const auto& e : s.net.records_of("chunk_received")) {
    (e.fields["from"] == "seed" ? r.from_seed : r.from_peers) +=
        e.fields["bytes"].get<std::uint64_t>();
  }
  return r;
}

TEST(Swarm, FlashCrowdOf200CompletesDeterministically) {
  const auto a = flash_crowd(7, 199);
  EXPECT_EQ(a.completed, 199u);
  EXPECT_EQ(a.identical, 199u);
  // Peers must carry most of the load: the seed alone could serve 199 copies of 512 KiB at
  // 10 Mbps only in ~83 s.
  EXPECT_GT(a.from_peers, 4 * a.from_seed);
  EXPECT_LT(a.last_done, 40.0);
  const auto b = flash_crowd(7, 199);
  EXPECT_EQ(a.log, b.log) << "same seed, different event log";
}

TEST(Swarm, TheSeedMatters) {
  const auto a = flash_crowd(7, 20);
  const auto b = flash_crowd(8, 20);
  EXPECT_EQ(a.completed, 20u);
  EXPECT_EQ(b.completed, 20u);
  EXPECT_NE(a.log, b.log);
}

}  // namespace
}  // namespace swarmlab::testing

namespace swarmlab::testing {
namespace {

TEST(Swarm, FastLeechersStartingTogetherServeEachOther) {
  // A LAN: downloads take about a second, so sources must be discovered early.
  Swarm s(3);
  const auto bytes = random_bytes(512 * kTestChunk, 5);
  LinkSpec lan{1e9, 1e9, 100us};
  auto origin = s.add_peer("seed", {300e6, 1e9, 100us});
  std::vector<HostId> leechers;
  for (int i = 0; i < 4; ++i) leechers.push_back(s.add_peer("l" + std::to_string(i), lan));
  ASSERT_TRUE(s.wait_online({origin, leechers[0], leechers[1], leechers[2], leechers[3]}));
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  for (auto h : leechers) s.start_download(h, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.net.count_records("download_completed") == 4; }));
  std::uint64_t from_peers = 0, total = 0;
  for (const auto& e : s.net.records_of("chunk_received")) {
    total += e.fields["bytes"].get<std::uint64_t>();
    if (e.fields["from"] != "seed") from_peers += e.fields["bytes"].get<std::uint64_t>();
  }
  EXPECT_GT(from_peers, total / 4)
      << "leechers served " << from_peers << " of " << total << " bytes";
}

}  // namespace
}  // namespace swarmlab::testing

namespace swarmlab::testing {
namespace {

TEST(Swarm, AnOwnerServesAtMostItsLimitAndOthersGetTheFileElsewhere) {
  // The seed serves one downloader at a time; the other two are told Busy, find the first
  // one as an owner and finish from it (or from the seed later).
  Swarm s(4);
  const auto bytes = random_bytes(64 * kTestChunk, 8);
  auto origin =
      s.add_peer("seed", {10e6, 10e6, 5ms}, [](PeerConfig& c) { c.upload.max_connections = 1; });
  std::vector<HostId> leechers;
  for (int i = 0; i < 3; ++i) {
    leechers.push_back(s.add_peer("l" + std::to_string(i), {10e6, 10e6, 5ms}));
  }
  ASSERT_TRUE(s.wait_online({origin, leechers[0], leechers[1], leechers[2]}));
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  for (auto h : leechers) s.start_download(h, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.net.count_records("download_completed") == 3; }));
  std::size_t refused = 0;
  for (const auto& e : s.net.records_of("source_failed")) {
    if (e.fields["reason"].get<std::string>().find("already serving 1 downloaders") !=
        std::string::npos)
      ++refused;
  }
  EXPECT_GE(refused, 2u) << "two of the three first connections to the seed are refused";
  for (auto h : leechers) {
    ASSERT_NE(s.net.store(h).file("/dl/f"), nullptr);
    EXPECT_EQ(*s.net.store(h).file("/dl/f"), bytes);
  }
}

}  // namespace
}  // namespace swarmlab::testing

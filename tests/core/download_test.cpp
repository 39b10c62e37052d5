// Downloads on the fake network: the seed's behaviours and every fault, with outcomes
// asserted on the bytes, the event log and the tracker's view.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "support/probe_node.hpp"
#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {
namespace {

std::set<std::string> senders(const std::vector<Event>& received) {
  std::set<std::string> out;
  for (const auto& e : received) out.insert(e.fields["from"].get<std::string>());
  return out;
}

// Two owners, `a` and `b` (10 Mbit/s up, `b` `b_delay` away), of a 64-chunk file "f", and a
// downloader `d` set up by `tweak`: all online, the file published by both, `d` not started.
struct TwoOwners {
  Swarm s;
  std::vector<std::uint8_t> bytes;
  HostId a, b, d;
  TwoOwners(std::uint64_t bytes_seed, Duration b_delay,
            const std::function<void(PeerConfig&)>& tweak)
      : bytes(random_bytes(64 * kTestChunk, bytes_seed)),
        a(s.add_peer("a", {10e6, 100e6, 1ms})),
        b(s.add_peer("b", {10e6, 100e6, b_delay})),
        d(s.add_peer("d", {100e6, 100e6, 1ms}, tweak)) {
    EXPECT_TRUE(s.wait_online({a, b, d}));
    EXPECT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
    EXPECT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  }
  /// Downloads "f" to the end and checks the bytes.
  void finish() {
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
    EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  }
};

TEST(Download, FromOneSourceBytesIdentical) {
  Swarm s;
  auto a = s.add_peer("a");
  auto b = s.add_peer("b");
  ASSERT_TRUE(s.wait_online({a, b}));
  const auto bytes = random_bytes(37 * kTestChunk + 999, 11);
  ASSERT_NE(as<PublishDone>(s.publish(a, "video.mkv", bytes)), nullptr);
  s.start_download(b, "video.mkv", "/home/b/video.mkv");
  const auto done = s.wait_download(b, "video.mkv");
  ASSERT_TRUE(done);
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  // The original design's sentence, then size, time and mean rate (fake clock: exact).
  EXPECT_EQ(describe(done),
            "File video.mkv successfully downloaded to /home/b/video.mkv. 593.0 KiB in 88.0 ms "
            "(6.6 MiB/s).");
  const auto* got = s.net.store(b).file("/home/b/video.mkv");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, bytes);
  EXPECT_EQ(s.received_by("b", "video.mkv").size(), 38u);
  // b is now a source of every chunk, and its connections to a are closed.
  s.net.run_for(1s);
  const auto info = s.trk().chunk_info();
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[1].peer_id, "b");
  EXPECT_EQ(info[1].chunks.to_ranges(), "0-37");
  EXPECT_EQ(s.net.open_connections(), 4u);  // both ends of the two tracker sessions, nothing else
}

TEST(Download, ChunksArriveFromAllThreeSources) {
  Swarm s;
  const auto bytes = random_bytes(60 * kTestChunk, 12);
  std::vector<HostId> seeds;
  for (const char* id : {"s1", "s2", "s3"}) seeds.push_back(s.add_peer(id));
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({seeds[0], seeds[1], seeds[2], d}));
  for (auto h : seeds) ASSERT_NE(as<PublishDone>(s.publish(h, "iso", bytes)), nullptr);
  s.start_download(d, "iso", "/dl/iso");
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(d, "iso")), nullptr);
  EXPECT_EQ(*s.net.store(d).file("/dl/iso"), bytes);
  const auto from = senders(s.received_by("d", "iso"));
  EXPECT_EQ(from, (std::set<std::string>{"s1", "s2", "s3"}));
}

TEST(Download, RarestChunksAreFetchedFirst) {
  // Two seeds hold every chunk; two more peers hold only chunk 7 (a partial copy they resume
  // over a very slow downlink, so they barely change the picture while d downloads). Chunk 7
  // has 4 owners, every other chunk 2: rarest-first, one request at a time, takes 7 last.
  auto order = [](ChunkStrategy strategy) {
    Swarm s;
    const std::uint32_t n = 20;
    const auto bytes = random_bytes(n * kTestChunk, 13);
    // The seeds serve what is asked, in the order asked (no spreading of first copies).
    auto serve_as_asked = [](PeerConfig& c) { c.upload.spread_first_copies = false; };
    auto s1 = s.add_peer("s1", {}, serve_as_asked);
    auto s2 = s.add_peer("s2", {}, serve_as_asked);
    auto p1 = s.add_peer("p1", {100e6, 10e3, 1ms});
    auto p2 = s.add_peer("p2", {100e6, 10e3, 1ms});
    EXPECT_TRUE(s.wait_online({s1, s2, p1, p2}));
    EXPECT_NE(as<PublishDone>(s.publish(s1, "data", bytes)), nullptr);
    EXPECT_NE(as<PublishDone>(s.publish(s2, "data", bytes)), nullptr);
    const auto info = s.peer(s1).held_files().at(0).info;
    ChunkSet only_7(n);
    only_7.insert(7);
    for (auto p : {p1, p2}) {
      s.net.store(p).put_partial("/dl/data", info, bytes, only_7);
      s.start_download(p, "data", "/dl/data");
    }
    // Their tracker replies crawl in over the slow downlinks; wait until both re-announced.
    EXPECT_TRUE(s.net.run_until([&] { return s.net.records_of("download_resumed").size() == 2; }));
    s.net.run_for(100ms);
    EXPECT_EQ(s.trk().chunk_info().size(), 4u);
    auto d = s.add_peer("d", {}, [&](PeerConfig& c) {
      c.download.max_inflight_total = 1;
      c.download.chunk_strategy = strategy;
    });
    EXPECT_TRUE(s.wait_online({d}));
    s.start_download(d, "data", "/dl/d");
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(d, "data")), nullptr);
    std::vector<std::uint32_t> indexes;
    for (const auto& e : s.received_by("d", "data"))
      indexes.push_back(e.fields["index"].get<std::uint32_t>());
    EXPECT_EQ(indexes.size(), n);
    return indexes;
  };
  const auto rarest = order(ChunkStrategy::RarestFirst);
  ASSERT_FALSE(rarest.empty());
  EXPECT_EQ(rarest.back(), 7u);
  const auto sequential = order(ChunkStrategy::Sequential);
  ASSERT_EQ(sequential.size(), 20u);
  EXPECT_EQ(sequential[7], 7u);  // the contrast: without rarity, 7 comes in index order
}

TEST(Download, LowestRttPrefersTheLowDelayPeer) {
  auto share_of_fast = [](PeerStrategy strategy) {
    Swarm s;
    const auto bytes = random_bytes(60 * kTestChunk, 14);
    auto fast = s.add_peer("fast");
    auto slow1 = s.add_peer("slow1", {}, [](PeerConfig& c) { c.upload.reply_delay = 40ms; });
    auto slow2 = s.add_peer("slow2", {}, [](PeerConfig& c) { c.upload.reply_delay = 40ms; });
    auto d = s.add_peer("d", {}, [&](PeerConfig& c) {
      c.download.peer_strategy = strategy;
      c.download.max_inflight_per_peer = 2;
      c.download.max_inflight_total = 2;
    });
    EXPECT_TRUE(s.wait_online({fast, slow1, slow2, d}));
    for (auto h : {fast, slow1, slow2})
      EXPECT_NE(as<PublishDone>(s.publish(h, "f", bytes)), nullptr);
    s.start_download(d, "f", "/dl/f");
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
    EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
    const auto got = s.received_by("d", "f");
    const auto from_fast = std::count_if(got.begin(), got.end(),
                                         [](const Event& e) { return e.fields["from"] == "fast"; });
    return static_cast<double>(from_fast) / static_cast<double>(got.size());
  };
  const double lowest = share_of_fast(PeerStrategy::LowestRtt);
  const double random = share_of_fast(PeerStrategy::Random);
  EXPECT_GT(lowest, 0.9);
  // Random still favours the fast peer a little (its slots free up sooner), but far less.
  EXPECT_GT(lowest, random + 0.2) << "random gave the fast peer " << random;
}

TEST(Download, SourceCrashMidDownloadCompletesFromOthers) {
  Swarm s;
  const auto bytes = random_bytes(80 * kTestChunk, 15);
  LinkSpec slow{8e6, 8e6, 2ms};
  auto a = s.add_peer("a", slow);
  auto b = s.add_peer("b", slow);
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({a, b, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 20; }));
  s.net.crash(a);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  EXPECT_GE(s.net.records_of("source_failed").size(), 1u);
}

TEST(Download, SilentlyDeadSourceIsDroppedAfterTheStallTimeout) {
  Swarm s;
  const auto bytes = random_bytes(80 * kTestChunk, 16);
  LinkSpec slow{8e6, 8e6, 2ms};
  auto a = s.add_peer("a", slow);
  auto b = s.add_peer("b", slow);
  // Without end-game or request timeout, so that only the stall timeout can rescue the
  // chunks asked of a.
  auto d = s.add_peer("d", {}, [](PeerConfig& c) {
    c.download.end_game = false;
    c.download.request_timeout = std::chrono::hours(1);
  });
  ASSERT_TRUE(s.wait_online({a, b, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 20; }));
  s.net.crash(a, /*silent=*/true);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto failed = s.net.records_of("source_failed");
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(failed[0].fields["reason"], "no answer to ping");
}

TEST(Download, RequestsToASilentSourceAreAskedElsewhereBeforeTheStallTimeout) {
  Swarm s;
  const auto bytes = random_bytes(80 * kTestChunk, 16);
  LinkSpec slow{8e6, 8e6, 2ms};
  auto a = s.add_peer("a", slow);
  auto b = s.add_peer("b", slow);
  auto d = s.add_peer("d", {}, [](PeerConfig& c) { c.download.end_game = false; });
  ASSERT_TRUE(s.wait_online({a, b, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 20; }));
  const Time silenced = s.net.now();
  s.net.crash(a, /*silent=*/true);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto timed_out = s.net.records_of("requests_timed_out");
  ASSERT_FALSE(timed_out.empty());
  EXPECT_EQ(timed_out[0].fields["peer"], "a");
  // b alone carries the rest at its link's rate; nobody waited for the 20 s stall timeout.
  EXPECT_LT(s.net.now() - silenced, PeerConfig{}.download.stall_timeout);
}

TEST(Download, PauseKeepsWhatIsVerifiedAndResumeFetchesOnlyTheRest) {
  Swarm s;
  const std::uint32_t n = 64;
  const auto bytes = random_bytes(n * kTestChunk, 24);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = s.add_peer("d");
  auto e = s.add_peer("e");
  ASSERT_TRUE(s.wait_online({a, d, e}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  EXPECT_EQ(s.peer(d).stop_download(s.net.now(), "f", false).error().code, ErrorCode::NotFound);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 16; }));
  ASSERT_TRUE(s.peer(d).stop_download(s.net.now(), "f", false).ok());
  s.net.run_for(5s);
  // Paused: nothing more arrives, nothing is told as a failure, the status says so.
  const auto kept = s.net.store(d).partial_chunks("/dl/f").count();
  EXPECT_GE(kept, 16u);
  EXPECT_LT(kept, n);
  EXPECT_EQ(s.count_notices<DownloadFailed>(d), 0u);
  ASSERT_EQ(s.peer(d).downloads().size(), 1u);
  EXPECT_EQ(s.peer(d).downloads()[0].phase, Download::Phase::Stopped);
  // ... and its chunks are still offered: e can fetch them from d too.
  const auto& held = s.peer(d).held_files();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].have.count(), kept);
  // Resumed: only what was missing is fetched.
  const auto written_before = s.net.store(d).chunks_written;
  ASSERT_TRUE(s.peer(d).download(s.net.now(), "f", "/dl/f").ok());
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
  EXPECT_EQ(s.net.store(d).chunks_written - written_before, n - kept);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  // A cancel also stops offering what was fetched.
  s.start_download(e, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(e, "f") >= 8; }));
  ASSERT_TRUE(s.peer(e).stop_download(s.net.now(), "f", true).ok());
  s.net.run_for(5s);
  EXPECT_TRUE(s.peer(e).held_files().empty());
  for (const auto& f : s.trk().files()) EXPECT_EQ(f.owners, 2u) << "e is no longer an owner";
  EXPECT_EQ(s.count_notices<DownloadFailed>(e), 0u);
}

TEST(Download, APausedDownloadCanBeCancelledAndIsNoLongerOffered) {
  Swarm s;
  const auto bytes = random_bytes(64 * kTestChunk, 26);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 8; }));
  ASSERT_TRUE(s.peer(d).stop_download(s.net.now(), "f", false).ok());
  EXPECT_EQ(s.peer(d).stop_download(s.net.now(), "f", false).error().code, ErrorCode::NotFound);
  ASSERT_TRUE(s.peer(d).stop_download(s.net.now(), "f", true).ok());
  s.net.run_for(2s);
  EXPECT_TRUE(s.peer(d).held_files().empty());
  EXPECT_GE(s.net.store(d).partial_chunks("/dl/f").count(), 8u);  // nothing deleted
}

TEST(Download, ADownloadRateLimitHoldsTheDownloadToIt) {
  auto finish = [](std::uint64_t limit) {
    Swarm s;
    const auto bytes = random_bytes(128 * kTestChunk, 25);  // 2 MiB
    auto a = s.add_peer("a", {100e6, 100e6, 2ms});
    auto d = s.add_peer("d", {100e6, 100e6, 2ms},
                        [&](PeerConfig& c) { c.download.rate_limit_bps = limit; });
    EXPECT_TRUE(s.wait_online({a, d}));
    EXPECT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
    const Time start = s.net.now();
    s.start_download(d, "f", "/dl/f");
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
    EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
    return to_seconds(s.net.now() - start);
  };
  const double free = finish(0);
  const double limited = finish(4'000'000);  // 2 MiB at 4 Mbit/s: 4.2 s
  EXPECT_LT(free, 1.0);
  EXPECT_GT(limited, 4.2 * 0.9);
  EXPECT_LT(limited, 4.2 * 1.15);
}

TEST(Download, OnlySourceCrashGivesDownloadIncompleteThenResumes) {
  Swarm s;
  const std::uint32_t n = 64;
  const auto bytes = random_bytes(n * kTestChunk, 17);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = s.add_peer("d", {}, [](PeerConfig& c) { c.download_retries = 0; });
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 16; }));
  s.net.crash(a);
  const auto failed = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadFailed>(failed), nullptr) << describe(failed);
  EXPECT_EQ(as<DownloadFailed>(failed)->error.code, ErrorCode::DownloadIncomplete);
  const auto msg = describe(failed);
  EXPECT_NE(msg.find("chunks have no online owner"), std::string::npos) << msg;
  const auto kept = s.net.store(d).partial_chunks("/dl/f").count();
  EXPECT_GE(kept, 16u);
  EXPECT_LT(kept, n);
  EXPECT_NE(msg.find(std::to_string(n - kept) + " of " + std::to_string(n)), std::string::npos)
      << msg;
  EXPECT_EQ(s.net.store(d).file("/dl/f"), nullptr);  // nothing half-written at the destination
  s.net.run_for(1s);
  EXPECT_TRUE(s.trk().files().empty()) << "the file should be delisted";
  // The source comes back; downloading again fetches only what is missing.
  s.restart_peer(a);
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  const auto written_before = s.net.store(d).chunks_written;
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(as<DownloadCompleted>(done)->resumed_chunks, kept);
  EXPECT_EQ(s.net.store(d).chunks_written - written_before, n - kept);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
}

// A downloader that retries a failed download `retries` times, the first after 10 s.
HostId add_retrying_peer(Swarm& s, const std::string& id, std::uint32_t retries) {
  return s.add_peer(id, {}, [retries](PeerConfig& c) {
    c.download_retries = retries;
    c.retry_wait = 10s;
  });
}

TEST(Download, OnlySourceCrashIsRetriedAndTheDownloadFinishesByItself) {
  // As in any P2P client, a download that lost its last owner starts again by itself when
  // the owner is back, and fetches only what it misses: no one has to type `download` again.
  Swarm s;
  const std::uint32_t n = 64;
  const auto bytes = random_bytes(n * kTestChunk, 17);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = add_retrying_peer(s, "d", 3);
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 16; }));
  s.net.crash(a);
  ASSERT_TRUE(s.net.run_until([&] { return s.count_notices<DownloadRetrying>(d, "f") == 1; }));
  const auto first = *s.last_notice<DownloadRetrying>(d);
  EXPECT_EQ(first.error.code, ErrorCode::DownloadIncomplete);
  EXPECT_EQ(first.retry, 1u);
  EXPECT_EQ(first.retries, 3u);
  EXPECT_GE(first.wait, 8s);  // 10 s, +-20 %
  EXPECT_LE(first.wait, 12s);
  EXPECT_NE(describe(Notice{first}).find("trying again in"), std::string::npos);
  EXPECT_EQ(s.count_notices<DownloadFailed>(d, "f"), 0u);
  const auto kept = s.net.store(d).partial_chunks("/dl/f").count();
  // The owner comes back before the second retry; nobody asks d for anything.
  s.restart_peer(a);
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(as<DownloadCompleted>(done)->resumed_chunks, kept);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  EXPECT_FALSE(s.net.records_of("download_retrying").empty());
}

TEST(Download, RetriesBackOffAndEndInAFailure) {
  Swarm s;
  const auto bytes = random_bytes(16 * kTestChunk, 19);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = add_retrying_peer(s, "d", 2);
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.net.crash(a);  // listed until the tracker notices; gone for good
  s.start_download(d, "f", "/dl/f");
  const auto failed = s.wait_download(d, "f", 10'000'000);
  ASSERT_NE(as<DownloadFailed>(failed), nullptr) << describe(failed);
  EXPECT_EQ(s.count_notices<DownloadRetrying>(d, "f"), 2u);
  std::vector<double> waits;
  for (const auto& r : s.net.records_of("download_retrying")) {
    waits.push_back(r.fields["wait_s"].get<double>());
  }
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_NEAR(waits[0], 10.0, 2.0);
  EXPECT_NEAR(waits[1], 20.0, 4.0);  // doubled
  // The failure is final now; a download asked for by hand counts its retries afresh.
  s.restart_peer(a);
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
}

TEST(Download, TrackerCrashMidDownloadStillCompletes) {
  Swarm s;
  const auto bytes = random_bytes(64 * kTestChunk, 18);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 10; }));
  s.net.crash(s.tracker);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  EXPECT_EQ(s.net.records_of("tracker_lost").size(), 2u);
  // When the tracker returns, both peers come back on their own with all they hold.
  s.restart_tracker();
  ASSERT_TRUE(s.wait_online({a, d}));
  s.net.run_for(1s);
  const auto info = s.trk().chunk_info();
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[0].chunks.to_ranges(), "0-63");
  EXPECT_EQ(info[1].chunks.to_ranges(), "0-63");
}

TEST(Download, ATrackerLostBeforeItAnsweredIsAskedAgainWhenItIsBack) {
  Swarm s;
  const auto bytes = random_bytes(8 * kTestChunk, 21);
  auto a = s.add_peer("a");
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  // The request is on its way when the tracker dies.
  s.start_download(d, "f", "/dl/f");
  s.net.crash(s.tracker);
  s.net.run_for(3s);
  EXPECT_EQ(s.count_notices<DownloadFailed>(d), 0u) << "it waits for the tracker";
  EXPECT_EQ(s.net.count_records("download_waiting"), 1u);
  // Back, and empty until a announces the file again: d may hear "no such file" first, and
  // asks again rather than believing it.
  s.restart_tracker();
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
}

TEST(Download, CorruptPeerIsBannedAndDownloadCompletesFromHonestOnes) {
  Swarm s;
  const auto bytes = random_bytes(60 * kTestChunk, 19);
  auto liar = s.add_peer("liar");
  auto honest = s.add_peer("honest", {20e6, 20e6, 5ms});
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({liar, honest, d}));
  ASSERT_NE(as<PublishDone>(s.publish(liar, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(honest, "f", bytes)), nullptr);
  s.net.store(liar).corrupt_reads = true;
  s.start_download(d, "f", "/dl/f");
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto banned = s.net.records_of("peer_banned");
  ASSERT_EQ(banned.size(), 1u);
  EXPECT_EQ(banned[0].fields["peer"], "liar");
  const auto failures = s.net.records_of("verification_failed");
  EXPECT_EQ(failures.size(), 3u);
  for (const auto& e : failures) EXPECT_EQ(e.fields["from"], "liar");
  EXPECT_EQ(senders(s.received_by("d", "f")), (std::set<std::string>{"honest"}));
}

TEST(Download, WhenOnlyABannedPeerHoldsWhatIsMissingTheFailureSaysSo) {
  Swarm s;
  const auto bytes = random_bytes(8 * kTestChunk, 23);
  auto liar = s.add_peer("liar");
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({liar, d}));
  ASSERT_NE(as<PublishDone>(s.publish(liar, "f", bytes)), nullptr);
  s.net.store(liar).corrupt_reads = true;
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  const auto* failed = as<DownloadFailed>(done);
  ASSERT_NE(failed, nullptr) << describe(done);
  EXPECT_GE(s.net.records_of("peer_banned").size(), 1u);  // once per attempt: retries start over
  EXPECT_NE(failed->error.message.find("have no online owner other than liar, banned for sending "
                                       "corrupt chunks"),
            std::string::npos)
      << failed->error.message;
}

TEST(Download, EndGameDoesNotWaitForAHundredTimesSlowerSource) {
  auto finish_time = [](bool end_game) {
    Swarm s;
    const auto bytes = random_bytes(128 * kTestChunk, 20);
    auto fast = s.add_peer("fast", {100e6, 100e6, 1ms});
    auto slow = s.add_peer("slow", {1e6, 100e6, 1ms});
    auto d = s.add_peer("d", {100e6, 100e6, 1ms},
                        [&](PeerConfig& c) { c.download.end_game = end_game; });
    EXPECT_TRUE(s.wait_online({fast, slow, d}));
    EXPECT_NE(as<PublishDone>(s.publish(slow, "f", bytes)), nullptr);
    EXPECT_NE(as<PublishDone>(s.publish(fast, "f", bytes)), nullptr);
    const Time start = s.net.now();
    s.start_download(d, "f", "/dl/f");
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
    EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
    return std::make_pair(to_seconds(s.net.now() - start),
                          s.net.records_of("endgame_request").size());
  };
  const auto [with, dup_with] = finish_time(true);
  const auto [without, dup_without] = finish_time(false);
  EXPECT_GT(dup_with, 0u);
  EXPECT_EQ(dup_without, 0u);
  // One 16 KiB chunk takes 131 ms from the slow source; the whole 2 MiB file takes about
  // 170 ms from the fast one. End-game must not end up waiting on the slow source's queue.
  EXPECT_LT(with, 0.5) << "with end-game";
  EXPECT_LT(with * 1.5, without) << "with " << with << " s, without " << without << " s";
}

TEST(Download, EndGameTwinsBlocksOnlyNearTheEndOrWhereAnotherOwnerWouldBeSooner) {
  // Pipelines deep enough to ask for the whole file at once: the end-game starts at once.
  // Twinning every block then would send most of the file twice; two equal owners only need
  // twins for the last few chunks, and for blocks queued behind more than the other owner has.
  auto twins = [](std::uint32_t end_game_chunks) {
    TwoOwners o(22, 1ms, [&](PeerConfig& c) {
      c.download.min_inflight_per_peer = 64;
      c.download.max_inflight_per_peer = 64;
      c.download.end_game_chunks = end_game_chunks;
    });
    o.s.start_download(o.d, "f", "/dl/f");
    o.finish();
    return o.s.net.records_of("endgame_request").size();
  };
  const auto gated = twins(4);
  const auto every = twins(1000000);
  EXPECT_GT(gated, 0u);
  EXPECT_LT(gated * 3, every) << gated << " twins gated, " << every << " twinning every block";
}

TEST(Download, BlocksQueuedAtAThinSourceMoveToAFasterOneInsteadOfComingTwice) {
  // A deep pipeline gives the thin source (100 kbit/s: 1.3 s per 16 KiB chunk) eight chunks at
  // once. Those still queued behind others there are moved to the fast source, and the thin
  // one is told to drop them: the download ends in about the fast source's time, and the thin
  // source sends no more than what it had started.
  Swarm s;
  const auto bytes = random_bytes(64 * kTestChunk, 23);
  auto fast = s.add_peer("fast", {10e6, 100e6, 1ms});
  auto thin = s.add_peer("thin", {100e3, 100e6, 1ms});
  auto d = s.add_peer("d", {100e6, 100e6, 1ms}, [](PeerConfig& c) {
    c.download.min_inflight_per_peer = 8;
    c.download.peer_strategy = PeerStrategy::Random;
  });
  ASSERT_TRUE(s.wait_online({fast, thin, d}));
  ASSERT_NE(as<PublishDone>(s.publish(thin, "f", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(fast, "f", bytes)), nullptr);
  const Time start = s.net.now();
  const auto sent_before = s.net.bytes_sent();
  s.start_download(d, "f", "/dl/f");
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const double took = to_seconds(s.net.now() - start);
  const auto moved = s.net.records_of("request_moved");
  EXPECT_GE(moved.size(), 4u);
  for (const auto& m : moved) EXPECT_EQ(m.fields["from"], "thin");
  // 1 MiB at 10 Mbit/s is 0.84 s; waiting on the thin queue would take over 10 s.
  EXPECT_LT(took, 1.5) << took << " s";
  // Whatever the thin source still sends arrives after the download is done: run on and
  // count every byte that crossed the network.
  s.net.run_for(20s);
  // The file, what the thin source had started, and the requests and control messages: the
  // eight chunks first asked of it would add 128 KiB.
  EXPECT_LT(s.net.bytes_sent() - sent_before, bytes.size() + 4 * kTestChunk);
}

TEST(Download, WaitingSaysWhichSourcesHaveNothingNewAndWhichChunksWaitOnFullOnes) {
  // Two owners of a 64-chunk file. `a` is nearer, so it is asked first; what the pipeline
  // depth lets `a` take decides what `b` and the rest of the file wait on.
  auto waiting_once_asked = [](std::uint32_t depth_chunks) {
    TwoOwners o(24, 5ms, [&](PeerConfig& c) {
      c.download.min_inflight_per_peer = depth_chunks;
      c.download.max_inflight_per_peer = depth_chunks;
      c.download.end_game = false;
    });
    o.s.start_download(o.d, "f", "/dl/f");
    // Both sources answered and unchoked us, and something was asked.
    EXPECT_TRUE(o.s.net.run_until([&] {
      const auto st = o.s.peer(o.d).downloads();
      if (st.empty() || st.front().connected.size() < 2) return false;
      std::uint32_t asked = 0;
      for (const auto& src : st.front().connected) {
        if (!src.unchoked) return false;
        asked += src.in_flight;
      }
      return asked > 0;
    }));
    const auto w = o.s.peer(o.d).waiting();
    o.finish();
    return w;
  };
  // A pipeline as deep as the file: `a` is asked for all of it, and `b`, free, has nothing
  // that is not already asked of `a`.
  const auto deep = waiting_once_asked(64);
  EXPECT_EQ(deep.idle_sources, 1u);
  EXPECT_EQ(deep.chunks_on_busy_owners, 0u);
  // One chunk per source: both are full, and every chunk not yet asked for waits on them.
  const auto shallow = waiting_once_asked(1);
  EXPECT_EQ(shallow.idle_sources, 0u);
  EXPECT_EQ(shallow.chunks_on_busy_owners, 62u);
}

TEST(Download, RequestForAFileThePeerCannotHaveGetsAnError) {
  Swarm s;
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "mine", random_bytes(3 * kTestChunk, 21))), nullptr);
  auto probe_host =
      s.net.add_host("probe", {"10.0.9.9", 1}, {}, std::make_unique<ProbeNode>(s.net.address(a)));
  s.net.start(probe_host);
  auto& probe = s.net.node<ProbeNode>(probe_host);
  ASSERT_TRUE(s.net.run_until([&] { return probe.connected; }));
  auto send = [&](const Message& m) {
    s.net.command(probe_host, [&](Node& n, Time) { dynamic_cast<ProbeNode&>(n).send_message(m); });
    s.net.run_for(50ms);
  };
  send(PeerRequestChunk{"etc-passwd", 0});
  send(PeerRequestChunk{"mine", 99});
  send(PeerRequestChunk{"mine", 1});  // not unchoked yet: dropped, and said so
  const auto chokes = probe.received_of<PeerChoke>();
  ASSERT_EQ(chokes.size(), 1u);
  EXPECT_EQ(chokes[0].dropped, (std::vector<ChunkRange>{{1, 1}}));
  send(RequestFilesList{1});
  const auto errs = probe.received_of<ErrorMessage>();
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].code, ErrorCode::NotFound);
  EXPECT_NE(errs[0].message.find("etc-passwd"), std::string::npos);
  EXPECT_EQ(errs[1].code, ErrorCode::NotFound);
  EXPECT_EQ(errs[2].code, ErrorCode::UnknownMessage);
  EXPECT_TRUE(probe.received_of<PeerReplyChunk>().empty());
  send(PeerInterested{"mine"});
  ASSERT_EQ(probe.received_of<PeerUnchoke>().size(), 1u);
  send(PeerRequestChunk{"mine", 1});
  auto chunks = probe.received_of<PeerReplyChunk>();
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].index, 1u);
  EXPECT_EQ(chunks[0].data.size(), kTestChunk);
  // A block: bytes [4096, 4096 + 1000) of chunk 2, and one to the chunk's end.
  send(PeerRequestChunk{"mine", 2, 4096, 1000});
  send(PeerRequestChunk{"mine", 2, kTestChunk - 10, 0});
  chunks = probe.received_of<PeerReplyChunk>();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[1].offset, 4096u);
  EXPECT_EQ(chunks[1].data.size(), 1000u);
  EXPECT_EQ(chunks[2].offset, kTestChunk - 10);
  EXPECT_EQ(chunks[2].data.size(), 10u);
  // Blocks that do not lie within the chunk are refused, and nothing is read.
  send(PeerRequestChunk{"mine", 2, kTestChunk, 1});
  send(PeerRequestChunk{"mine", 2, kTestChunk - 10, 11});
  send(PeerRequestChunk{"mine", 2, 8, 0xFFFFFFFF});
  const auto refused = probe.received_of<ErrorMessage>();
  ASSERT_EQ(refused.size(), 6u);
  for (std::size_t i = 3; i < 6; ++i) EXPECT_EQ(refused[i].code, ErrorCode::OutOfRange);
  EXPECT_EQ(probe.received_of<PeerReplyChunk>().size(), 3u);
}

TEST(Download, FullDiskFailsClearlyAndKeepsVerifiedChunks) {
  Swarm s;
  const auto bytes = random_bytes(40 * kTestChunk, 22);
  auto a = s.add_peer("a", {4e6, 4e6, 2ms});
  auto d = s.add_peer("d");
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.start_download(d, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.chunks_have(d, "f") >= 5; }));
  s.net.store(d).fail_writes = true;
  const auto failed = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadFailed>(failed), nullptr) << describe(failed);
  EXPECT_EQ(as<DownloadFailed>(failed)->error.code, ErrorCode::IoError);
  EXPECT_NE(describe(failed).find("no space left"), std::string::npos);
  EXPECT_GE(s.net.store(d).partial_chunks("/dl/f").count(), 5u);
}

TEST(Download, SlowDiskHoldsBackRequestsInsteadOfBufferingChunks) {
  // Each chunk write takes 1 s while the link delivers a chunk in ~1.3 ms: without a bound the
  // downloader would fetch the whole file into memory while the disk crawls behind.
  Swarm s;
  const auto bytes = random_bytes(200 * kTestChunk, 23);
  auto a = s.add_peer("a");
  auto d = s.add_peer("d", {}, [](PeerConfig& c) {
    c.download.max_unverified = 8;
    c.download.max_inflight_total = 4;
  });
  ASSERT_TRUE(s.wait_online({a, d}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", bytes)), nullptr);
  s.net.write_latency = 1s;
  const auto sent_before = s.net.bytes_sent();
  s.start_download(d, "f", "/dl/f");
  s.net.run_for(500ms);  // well within the first write
  EXPECT_EQ(s.chunks_have(d, "f"), 0u);
  // 8 chunks waiting for the disk plus at most 4 in flight.
  EXPECT_LE(s.net.bytes_sent() - sent_before, (8 + 4) * (kTestChunk + 1024));
  EXPECT_GE(s.net.bytes_sent() - sent_before, 8 * kTestChunk);
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
}

TEST(Peer, SeedErrorsStayRecognisable) {
  Swarm s;
  auto a = s.add_peer("a");
  PeerConfig offline_cfg = s.peer_config("lonely");
  offline_cfg.tracker.reset();
  auto lonely =
      s.net.add_host("lonely", {"10.0.5.5", 6881}, {}, std::make_unique<Peer>(offline_cfg));
  s.net.start(lonely);
  ASSERT_TRUE(s.wait_online({a}));
  Status st;
  // TrackerNotConnected
  s.net.command<Peer>(lonely, [&](Peer& p, Time now) { st = p.download(now, "x", "/x"); });
  EXPECT_EQ(st.error().code, ErrorCode::TrackerNotConnected);
  s.net.command<Peer>(lonely, [&](Peer& p, Time now) { st = p.publish(now, "/x", "x"); });
  EXPECT_EQ(st.error().code, ErrorCode::TrackerNotConnected);
  // AlreadyConnected
  s.net.command<Peer>(a,
                      [&](Peer& p, Time now) { st = p.connect_tracker(now, s.tracker_address); });
  EXPECT_EQ(st.error().code, ErrorCode::AlreadyConnected);
  // A manual connect works, once.
  s.net.command<Peer>(lonely,
                      [&](Peer& p, Time now) { st = p.connect_tracker(now, s.tracker_address); });
  EXPECT_TRUE(st.ok());
  ASSERT_TRUE(s.wait_online({lonely}));
  // InProgress
  ASSERT_NE(as<PublishDone>(s.publish(a, "big", random_bytes(64 * kTestChunk, 23))), nullptr);
  s.start_download(lonely, "big", "/dl/big");
  s.net.command<Peer>(lonely, [&](Peer& p, Time now) { st = p.download(now, "big", "/dl/big2"); });
  EXPECT_EQ(st.error().code, ErrorCode::InProgress);
  // Path-like names never reach the wire.
  s.net.command<Peer>(lonely, [&](Peer& p, Time now) { st = p.download(now, "../secret", "/x"); });
  EXPECT_EQ(st.error().code, ErrorCode::BadName);
  // Unknown file: said at once, and tried again in case its owners announce it.
  s.start_download(a, "nope", "/dl/nope");
  ASSERT_TRUE(s.net.run_until([&] { return s.count_notices<DownloadRetrying>(a, "nope") > 0; }));
  const auto nf = s.last_notice<DownloadRetrying>(a);
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->error.code, ErrorCode::NotFound);
  // A manual connect to nowhere reports it.
  PeerConfig c2 = s.peer_config("c2");
  c2.tracker.reset();
  auto c2h = s.net.add_host("c2", {"10.0.5.6", 6881}, {}, std::make_unique<Peer>(c2));
  s.net.start(c2h);
  s.net.command<Peer>(c2h, [&](Peer& p, Time now) {
    st = p.connect_tracker(now, {"10.9.9.9", 1});
  });
  s.net.run_for(1s);
  const auto err = s.last_notice<TrackerFailed>(c2h);
  ASSERT_TRUE(err);
  EXPECT_NE(err->error.describe().find("10.9.9.9:1"), std::string::npos);
}

TEST(Peer, ReconnectsWithBackoffUntilTheTrackerReturns) {
  Swarm s;
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", random_bytes(5 * kTestChunk, 24))), nullptr);
  s.net.crash(s.tracker);
  s.net.run_for(60s);  // attempts at ~1, 2, 4, 8, 16, 30 s...
  s.restart_tracker();
  ASSERT_TRUE(s.wait_online({a}));
  // Backed off: it came back within the cap (30 s), not instantly and not never.
  EXPECT_LE(s.net.now(), time_at(60s + 37s));
  s.net.run_for(1s);
  ASSERT_EQ(s.trk().files().size(), 1u);
  EXPECT_EQ(s.trk().files()[0].name, "f");
}

TEST(Peer, SetDelayDelaysReplies) {
  Swarm s;
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  s.net.command<Peer>(a, [&](Peer& p, Time now) { p.set_delay(now, 300ms); });
  auto probe_host =
      s.net.add_host("probe", {"10.0.9.9", 1}, {}, std::make_unique<ProbeNode>(s.net.address(a)));
  s.net.start(probe_host);
  auto& probe = s.net.node<ProbeNode>(probe_host);
  ASSERT_TRUE(s.net.run_until([&] { return probe.connected; }));
  const Time sent = s.net.now();
  s.net.command(probe_host,
                [&](Node& n, Time) { dynamic_cast<ProbeNode&>(n).send_message(PeerPing{5}); });
  ASSERT_TRUE(s.net.run_until([&] { return !probe.received_of<PeerPong>().empty(); }));
  EXPECT_GE(s.net.now() - sent, 300ms);
  EXPECT_LT(s.net.now() - sent, 320ms);
}

}  // namespace
}  // namespace swarmlab::testing

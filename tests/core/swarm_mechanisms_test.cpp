// The mechanisms that bring a swarm close to its bound, one at a time on the fake network:
// upload slots, HAVEs between peers (and their batching), and a seed that spreads its first
// copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {
namespace {

double seconds_per_chunk(double bps) {
  return kTestChunk * 8.0 / bps;
}

TEST(SwarmMechanisms, ANewcomerToABusySeedGetsItsFirstChunkWithinAFewChunkTimes) {
  // 10 downloaders keep a 2 Mbit/s seed busy; an 11th arrives later. The seed serves 3 of them
  // at a time (2 slots + 1 optimistic), one chunk each on the link, and the one furthest behind
  // goes next: the newcomer waits for a few chunks, not behind all that the others asked for
  // (with 64 slots it waits 20 chunk times).
  Swarm s(5);
  const double rate = 2e6;
  const auto bytes = random_bytes(32 * kTestChunk, 21);
  auto origin = s.add_peer("seed", {rate, rate, 2ms}, [](PeerConfig& c) { c.upload.slots = 2; });
  std::vector<HostId> leechers;
  // Leechers whose uplinks barely count: every chunk comes from the seed.
  for (int i = 0; i < 11; ++i) {
    leechers.push_back(s.add_peer("l" + std::to_string(i), {200e3, 100e6, 2ms}));
  }
  ASSERT_TRUE(s.wait_online({origin}));
  s.net.run_until([&] { return s.net.count_records("tracker_connected") == 12; });
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  for (int i = 0; i < 10; ++i) s.start_download(leechers[i], "f", "/dl/f");
  // Once each has had its first chunk, a newcomer (holding nothing) is next in line.
  ASSERT_TRUE(s.net.run_until([&] {
    for (int i = 0; i < 10; ++i) {
      if (s.received_by("l" + std::to_string(i), "f").empty()) return false;
    }
    return true;
  }));
  const Time arrived = s.net.now();
  s.start_download(leechers[10], "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return !s.received_by("l10", "f").empty(); }));
  const double waited = to_seconds(s.received_by("l10", "f")[0].time - arrived);
  EXPECT_LT(waited, 5 * seconds_per_chunk(rate)) << "the newcomer waited " << waited << " s";
}

TEST(SwarmMechanisms, HavesTellAConnectedPeerOfNewChunksWithoutTheTracker) {
  // d asks the tracker once (no refreshes) while p holds nothing yet, and the seed takes one
  // downloader (p). Everything d gets, it gets from p, learnt from p's HAVEs.
  Swarm s(6);
  const auto bytes = random_bytes(24 * kTestChunk, 22);
  auto origin =
      s.add_peer("seed", {4e6, 4e6, 2ms}, [](PeerConfig& c) { c.upload.max_connections = 1; });
  auto p = s.add_peer("p");
  auto d = s.add_peer("d", {}, [](PeerConfig& c) {
    c.download.first_refresh = std::chrono::hours(1);
    c.download.refresh_interval = std::chrono::hours(1);
  });
  ASSERT_TRUE(s.wait_online({origin, p, d}));
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  s.start_download(p, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return s.net.count_records("source_ready") >= 1; }));
  ASSERT_EQ(s.chunks_have(p, "f"), 0u);
  s.start_download(d, "f", "/dl/f");
  const auto done = s.wait_download(d, "f");
  ASSERT_NE(as<DownloadCompleted>(done), nullptr) << describe(done);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto got = s.received_by("d", "f");
  ASSERT_EQ(got.size(), 24u);
  for (const auto& e : got) EXPECT_EQ(e.fields["from"], "p");
  // p was still downloading when d's first chunk arrived: d did not wait for a whole copy.
  const auto p_done = s.net.records_of("download_completed");
  ASSERT_FALSE(p_done.empty());
  EXPECT_EQ(p_done[0].node, "p");
  EXPECT_LT(got[0].time, p_done[0].time);
}

TEST(SwarmMechanisms, AHaveWaitsAtMostItsDelayAndRidesWithTheNextFrameToItsConnection) {
  // A seed and three leechers. Each HAVE a leecher sends leaves no sooner than the chunk was
  // verified and no later than have_delay after: at once to a downloader that waits on
  // nothing from it, else with the next other frame to its connection (a request, a block),
  // or once the downloader's last block has left, or when its connection's oldest HAVE has
  // waited the delay. Without a delay each goes the moment its chunk is verified.
  for (const auto delay : {Duration(100ms), Duration::zero()}) {
    SCOPED_TRACE(delay > Duration::zero() ? "100 ms" : "no delay");
    Swarm s(9);
    const auto bytes = random_bytes(24 * kTestChunk, 24);
    auto with_delay = [&](PeerConfig& c) { c.have_delay = delay; };
    auto origin = s.add_peer("seed", {4e6, 4e6, 2ms}, with_delay);
    std::map<HostId, std::string> names{{origin, "seed"}};
    for (int i = 0; i < 3; ++i) {
      const auto name = "l" + std::to_string(i);
      names[s.add_peer(name, {2e6, 20e6, 5ms}, with_delay)] = name;
    }
    struct Sent {
      Time at;
      HostId host;
      ConnId conn;
      std::optional<std::uint32_t> have;  // the chunk, if a HAVE
      bool block = false;
    };
    std::vector<Sent> sent;
    s.net.on_frame = [&](HostId h, ConnId conn, const RawFrame& f) {
      const auto m = decode_message(f);
      ASSERT_TRUE(m.ok());
      const auto* have = std::get_if<PeerHave>(&*m);
      sent.push_back({s.net.now(), h, conn, have ? std::optional(have->index) : std::nullopt,
                      std::holds_alternative<PeerReplyChunk>(*m)});
    };
    ASSERT_TRUE(s.wait_online({origin}));
    s.net.run_until([&] { return s.net.count_records("tracker_connected") == 4; });
    ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
    for (const auto& [h, name] : names) {
      if (h != origin) s.start_download(h, "f", "/dl/f");
    }
    ASSERT_TRUE(s.net.run_until([&] { return s.net.count_records("download_completed") == 3; }));
    // Nothing is left waiting once its delay has passed.
    s.net.run_for(delay + 1ms);
    for (const auto& [h, name] : names) EXPECT_EQ(s.peer(h).held_haves(), 0u) << name;
    std::map<std::pair<std::string, std::uint32_t>, Time> verified;
    for (const auto& e : s.net.records_of("chunk_received")) {
      verified[{e.node, e.fields["index"].get<std::uint32_t>()}] = e.time;
    }
    std::size_t haves = 0, rode = 0, waited = 0, at_once = 0, freed = 0;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      if (!sent[i].have) continue;
      ++haves;
      const auto v = verified.find({names[sent[i].host], *sent[i].have});
      ASSERT_NE(v, verified.end()) << names[sent[i].host] << " announced a chunk it never got";
      EXPECT_GE(sent[i].at, v->second);
      EXPECT_LE(sent[i].at, v->second + delay);
      if (delay == Duration::zero()) continue;
      // The batch this HAVE went in: the frames its host wrote to that connection right then.
      std::size_t end = i;
      Time oldest = v->second;
      std::size_t begin = i;
      while (begin > 0 && sent[begin - 1].host == sent[i].host &&
             sent[begin - 1].conn == sent[i].conn && sent[begin - 1].at == sent[i].at &&
             sent[begin - 1].have) {
        --begin;
      }
      if (begin < i) oldest = verified[{names[sent[i].host], *sent[begin].have}];
      while (end + 1 < sent.size() && sent[end + 1].host == sent[i].host &&
             sent[end + 1].conn == sent[i].conn && sent[end + 1].at == sent[i].at &&
             sent[end + 1].have) {
        ++end;
      }
      const bool with_frame = end + 1 < sent.size() && sent[end + 1].host == sent[i].host &&
                              sent[end + 1].conn == sent[i].conn && sent[end + 1].at == sent[i].at;
      if (with_frame) {
        ++rode;
      } else if (verified[{names[sent[i].host], *sent[end].have}] == sent[i].at) {
        ++at_once;  // the batch's last HAVE went at once, and took those before it along
      } else if (sent[i].at < oldest + delay) {
        // Early and alone: only once the downloader's last block had left.
        std::size_t prev = begin;
        while (prev > 0 &&
               !(sent[prev - 1].host == sent[i].host && sent[prev - 1].conn == sent[i].conn)) {
          --prev;
        }
        ASSERT_GT(prev, 0u);
        EXPECT_TRUE(sent[prev - 1].block) << "a HAVE left alone before its batch was due";
        ++freed;
      } else {
        EXPECT_EQ(sent[i].at, oldest + delay) << "a HAVE left alone before its batch was due";
        ++waited;
      }
    }
    EXPECT_GT(haves, 0u);
    if (delay > Duration::zero()) {
      EXPECT_GT(rode, 0u) << "no HAVE went with another frame";
      EXPECT_GT(waited, 0u) << "no HAVE waited for its delay";
      EXPECT_GT(at_once, 0u) << "no HAVE went at once to a downloader waiting on nothing";
      EXPECT_GT(freed, 0u) << "no HAVE went when its downloader's last block had left";
    }
    for (const auto& [h, name] : names) {
      if (h == origin) continue;
      ASSERT_NE(s.net.store(h).file("/dl/f"), nullptr);
      EXPECT_EQ(*s.net.store(h).file("/dl/f"), bytes);
    }
  }
}

TEST(SwarmMechanisms, ASlowOnlySeedThatLeavesEarlyLeavesEveryLeecherComplete) {
  // A 1 Mbit/s seed and 6 leechers on slower uplinks. The seed vanishes once it has sent
  // about one and a half copies, while every leecher still misses chunks: the copies must be
  // of different chunks (rarest-first alone leaves a few chunks sent twice and some never,
  // which spread_first_copies prevents), and the leechers finish from each other.
  Swarm s(7);
  const std::uint32_t n = 24;
  const auto bytes = random_bytes(n * kTestChunk, 23);
  auto origin = s.add_peer("seed", {1e6, 1e6, 5ms});
  std::vector<HostId> leechers;
  for (int i = 0; i < 6; ++i) {
    leechers.push_back(s.add_peer("l" + std::to_string(i), {0.5e6, 10e6, 5ms}));
  }
  ASSERT_TRUE(s.wait_online({origin}));
  s.net.run_until([&] { return s.net.count_records("tracker_connected") == 7; });
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  for (auto h : leechers) s.start_download(h, "f", "/dl/f");
  auto from_seed = [&] {
    std::size_t k = 0;
    for (const auto& e : s.net.records_of("chunk_received")) k += e.fields["from"] == "seed";
    return k;
  };
  ASSERT_TRUE(s.net.run_until([&] { return from_seed() >= n * 3 / 2; }));
  ASSERT_EQ(s.net.count_records("download_completed"), 0u) << "nobody is done yet";
  s.net.crash(origin, /*silent=*/true);
  ASSERT_TRUE(s.net.run_until([&] {
    return s.net.count_records("download_completed") + s.net.count_records("download_failed") == 6;
  }));
  for (auto h : leechers) {
    ASSERT_NE(s.net.store(h).file("/dl/f"), nullptr);
    EXPECT_EQ(*s.net.store(h).file("/dl/f"), bytes);
  }
}

TEST(SwarmMechanisms, ASeedServesTheDownloaderFurthestBehindFirst) {
  // A seed with one slot and one-chunk turns. "ahead" resumes holding 24 of 32 chunks,
  // "behind" holds nothing. Told by PEER_INTERESTED how much each holds, the seed serves
  // "behind" turn after turn until it has about caught up, so "ahead" finishes its last 8
  // chunks only then; served-least alternates between the two, and "ahead" finishes while
  // "behind" has about 10. Their uplinks are slow, so most chunks come from the seed.
  for (const bool behind_first : {true, false}) {
    SCOPED_TRACE(behind_first ? "behind first" : "served least first");
    Swarm s(9);
    const std::uint32_t n = 32;
    const auto bytes = random_bytes(n * kTestChunk, 29);
    auto origin = s.add_peer("seed", {4e6, 4e6, 2ms}, [&](PeerConfig& c) {
      c.upload.slots = 1;
      c.upload.optimistic_slot = false;
      c.upload.turn_chunks = 1;
      c.upload.spread_first_copies = false;
      c.upload.behind_first = behind_first;
    });
    auto ahead = s.add_peer("ahead", {200e3, 100e6, 2ms});
    auto behind = s.add_peer("behind", {200e3, 100e6, 2ms});
    ASSERT_TRUE(s.wait_online({origin, ahead, behind}));
    ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
    const auto info = s.peer(origin).held_files().at(0).info;
    ChunkSet first_24(n);
    for (std::uint32_t i = 0; i < 24; ++i) first_24.insert(i);
    s.net.store(ahead).put_partial("/dl/f", info, bytes, first_24);
    s.start_download(ahead, "f", "/dl/f");
    s.start_download(behind, "f", "/dl/f");
    ASSERT_NE(as<DownloadCompleted>(s.wait_download(ahead, "f")), nullptr);
    const auto caught_up = s.received_by("behind", "f").size();
    if (behind_first) {
      EXPECT_GE(caught_up, 22u);
    } else {
      EXPECT_LE(caught_up, 12u);
    }
    EXPECT_NE(as<DownloadCompleted>(s.wait_download(behind, "f")), nullptr);
  }
}

TEST(SwarmMechanisms, ASourceThatHoldsNothingYetIsKeptForItsGraceThenGivesWay) {
  // d and p may connect to one source each. The origin takes one downloader (p) and answers
  // it only after a minute (set_delay), so d is told Busy and connects to p, which holds
  // nothing. Then a second seed appears. p is a newcomer: d keeps it for newcomer_grace (10 s)
  // after it became ready, and only then lets it go for the seed, which has all d misses.
  Swarm s(8);
  const auto bytes = random_bytes(8 * kTestChunk, 33);
  auto origin = s.add_peer("seed", {}, [](PeerConfig& c) {
    c.upload.max_connections = 1;
    c.upload.hearings = 0;
    c.upload.reply_delay = 60s;
  });
  auto one_source = [](PeerConfig& c) { c.download.max_sources = 1; };
  auto p = s.add_peer("p", {}, one_source);  // and it stays with the origin
  auto d = s.add_peer("d", {}, one_source);
  auto late = s.add_peer("late");
  ASSERT_TRUE(s.wait_online({origin, p, d, late}));
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  s.start_download(p, "f", "/dl/f");
  s.net.run_for(1s);
  s.start_download(d, "f", "/dl/f");
  auto ready_at_p = [&]() -> std::optional<Time> {
    for (const auto& e : s.net.records_of("source_ready"))
      if (e.node == "d" && e.fields["peer"] == "p") return e.time;
    return std::nullopt;
  };
  ASSERT_TRUE(s.net.run_until([&] { return ready_at_p().has_value(); }));
  const Time ready = *ready_at_p();
  ASSERT_NE(as<PublishDone>(s.publish(late, "f", bytes)), nullptr);
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(d, "f")), nullptr);
  EXPECT_EQ(*s.net.store(d).file("/dl/f"), bytes);
  const auto got = s.received_by("d", "f");
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].fields["from"], "late");
  const double after = to_seconds(got[0].time - ready);
  EXPECT_GE(after, 10.0) << "p was let go " << after << " s after it became ready";
  EXPECT_LT(after, 12.0);
  // p held nothing all along: a newcomer, for longer than its grace.
  EXPECT_EQ(s.chunks_have(p, "f"), 0u);
}

TEST(SwarmMechanisms, AFullSourceIsAskedAgainAfterSecondsNotAtEveryRefresh) {
  // A seed that takes one downloader at a time (and hears no newcomer out) tells a second one
  // Busy. The second asks again after 1 s, then 2, 4 and 8 s: a handful of tries in 15 s, where
  // asking at every refresh
  // (each refusal makes one urgent) was a connection per round trip.
  Swarm s(7);
  const auto bytes = random_bytes(64 * kTestChunk, 29);
  auto origin = s.add_peer("seed", {1e6, 1e6, 2ms}, [](PeerConfig& c) {
    c.upload.max_connections = 1;
    c.upload.hearings = 0;
  });
  auto first = s.add_peer("first", {100e3, 100e6, 2ms});
  auto second = s.add_peer("second", {100e3, 100e6, 2ms});
  ASSERT_TRUE(s.wait_online({origin, first, second}));
  ASSERT_NE(as<PublishDone>(s.publish(origin, "f", bytes)), nullptr);
  s.start_download(first, "f", "/dl/f");
  ASSERT_TRUE(s.net.run_until([&] { return !s.received_by("first", "f").empty(); }));
  const Time began = s.net.now();
  s.start_download(second, "f", "/dl/f");
  s.net.run_for(15s);
  std::vector<double> refused_at;
  for (const auto& e : s.net.records_of("source_failed")) {
    if (e.node != "second" || e.fields["peer"] != "seed") continue;
    if (e.fields["reason"].get<std::string>().find("already serving") == std::string::npos)
      continue;
    refused_at.push_back(to_seconds(e.time - began));
  }
  ASSERT_GE(refused_at.size(), 2u) << "it keeps trying";
  EXPECT_LE(refused_at.size(), 5u);
  for (std::size_t i = 1; i < refused_at.size(); ++i) {
    EXPECT_GE(refused_at[i] - refused_at[i - 1], 0.9) << "try " << i;
  }
}

TEST(SwarmMechanisms, RefusalsInARowAskTheTrackerAtMostTwiceASecond) {
  // Ten seeds that each take one downloader, all taken by a slow first downloader: every one
  // tells the second Busy, and each refusal wants fresh owners. One owner list per refusal
  // was thousands a second at a 1,000-peer tracker; they now wait for min_refresh_gap.
  Swarm s(11);
  const auto bytes = random_bytes(64 * kTestChunk, 31);
  std::vector<HostId> seeds;
  for (int i = 0; i < 10; ++i) {
    seeds.push_back(s.add_peer("seed" + std::to_string(i), {1e6, 1e6, 2ms}, [](PeerConfig& c) {
      c.upload.max_connections = 1;
      c.upload.hearings = 0;
    }));
  }
  auto first = s.add_peer("first", {10e3, 100e3, 2ms});
  auto second = s.add_peer("second", {10e3, 100e6, 2ms});
  for (auto h : seeds) ASSERT_TRUE(s.wait_online({h}));
  ASSERT_TRUE(s.wait_online({first, second}));
  for (auto h : seeds) ASSERT_NE(as<PublishDone>(s.publish(h, "f", bytes)), nullptr);
  s.start_download(first, "f", "/dl/f");
  s.net.run_for(2s);  // first holds the only place at every seed
  const Time began = s.net.now();
  s.start_download(second, "f", "/dl/f");
  s.net.run_for(5s);
  std::size_t refusals = 0;
  for (const auto& e : s.net.records_of("source_failed")) {
    if (e.node == "second" && e.time >= began &&
        e.fields["reason"].get<std::string>().find("already serving") != std::string::npos)
      ++refusals;
  }
  std::vector<double> refreshed_at;
  for (const auto& e : s.net.records_of("owners_refreshed")) {
    if (e.node == "second" && e.time >= began) refreshed_at.push_back(to_seconds(e.time - began));
  }
  EXPECT_GE(refusals, 15u) << "the seeds keep saying Busy";
  // Left alone, refreshes come 0.5, 1.5 and 3.5 s after the start (the gap doubles): more
  // than that means refusals still make them urgent.
  EXPECT_GE(refreshed_at.size(), 5u) << "refusals still make refreshes";
  EXPECT_LE(refreshed_at.size(), 11u);
  for (std::size_t i = 1; i < refreshed_at.size(); ++i) {
    EXPECT_GE(refreshed_at[i] - refreshed_at[i - 1], 0.49) << "refresh " << i;
  }
}

}  // namespace
}  // namespace swarmlab::testing

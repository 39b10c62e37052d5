// Location replies for large swarms and large files: a sample that still names an owner of
// every chunk, hashes once per download, and chunk sets too fragmented for one frame.
#include <gtest/gtest.h>

#include <set>

#include "support/probe_node.hpp"
#include "support/swarm_fixture.hpp"
#include "swarmlab/tracker.hpp"

namespace swarmlab::testing {
namespace {

const Time t0{};

// A file of `chunks` chunks of 512 KiB whose hashes are made up: the tracker never reads data.
FileInfo made_up_file(const std::string& name, std::uint32_t chunks) {
  std::vector<Digest> hashes(chunks);
  for (std::uint32_t i = 0; i < chunks; ++i) hashes[i] = sha256(name + std::to_string(i));
  return make_file_info(name, std::uint64_t{chunks} * kDefaultChunkSize, kDefaultChunkSize,
                        std::move(hashes));
}

// The tracker driven by hand, one connection per client, without a network.
class DirectTracker {
 public:
  explicit DirectTracker(TrackerConfig config) : tracker_(std::move(config)) {
    tracker_.on_start(t0);
    drain();
  }
  ConnId join(const std::string& peer_id) {
    const ConnId conn = next_conn_++;
    tracker_.on_accepted(t0, conn, {"10.0.0." + std::to_string(conn), 6881});
    send(conn, RequestRegistry{1, kProtocolVersion, peer_id, {"", 6881}});
    return conn;
  }
  void send(ConnId conn, const Message& m) {
    tracker_.on_bytes(t0, conn, encode_frame_bytes(encode_message(m)));
    drain();
  }
  /// Frames the tracker sent to `conn` since the last call.
  std::vector<RawFrame> take(ConnId conn) {
    std::vector<RawFrame> out;
    std::erase_if(sent_, [&](auto& e) {
      if (e.first != conn) return false;
      out.push_back(std::move(e.second));
      return true;
    });
    return out;
  }
  ReplyFileLocation locate(ConnId conn, const std::string& name, bool hashes = true) {
    take(conn);
    send(conn, RequestFileLocation{9, name, hashes});
    const auto frames = take(conn);
    EXPECT_EQ(frames.size(), 1u);
    EXPECT_LE(frames.back().header.size(), kMaxHeaderBytes);
    auto m = decode_message(frames.back());
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().describe());
    return std::get<ReplyFileLocation>(*m);
  }

 private:
  void drain() {
    while (auto e = tracker_.poll_effect()) {
      if (auto* s = std::get_if<Send>(&*e)) sent_.emplace_back(s->conn, std::move(s->frame));
    }
  }
  Tracker tracker_;
  ConnId next_conn_ = 1;
  std::vector<std::pair<ConnId, RawFrame>> sent_;
};

TEST(Location, ASampleOfALargeSwarmNamesAnOwnerOfEveryChunk) {
  TrackerConfig config;
  config.max_owners_per_reply = 10;
  DirectTracker t(config);
  const FileInfo file = made_up_file("big.bin", 64);
  // 40 owners of chunks 0-59; four more each hold one of 60-63 and nothing else.
  for (int i = 0; i < 40; ++i) {
    const auto c = t.join("common-" + std::to_string(i));
    t.send(c, RequestToPublish{2, file, {{0, 59}}});
  }
  for (std::uint32_t k = 0; k < 4; ++k) {
    const auto c = t.join("rare-" + std::to_string(k));
    t.send(c, RequestToPublish{2, file, {{60 + k, 60 + k}}});
  }
  const auto asker = t.join("asker");
  // A random sample of 10 of 44 would miss a given rare owner three times in four.
  for (int ask = 0; ask < 20; ++ask) {
    const auto reply = t.locate(asker, "big.bin");
    EXPECT_LE(reply.owners.size(), 10u);
    EXPECT_FALSE(reply.complete) << "44 owners, 10 listed";
    ChunkSet named(64);
    for (const auto& o : reply.owners) named.insert_all(*ChunkSet::from_ranges(o.chunks, 64));
    EXPECT_TRUE(named.complete()) << "ask " << ask << " names only " << named.to_ranges();
  }
}

TEST(Location, RefreshesLeaveTheHashesOutAndRepliesShareOneHashList) {
  DirectTracker t(TrackerConfig{});
  const FileInfo file = made_up_file("big.bin", 20000);  // 640 KB of hashes
  const auto seed = t.join("seed");
  t.send(seed, RequestToPublish{2, file, {}});
  const auto asker = t.join("asker");
  t.take(asker);
  // A client that pipelines requests and never reads: its replies share one hash list.
  for (int i = 0; i < 60; ++i)
    t.send(asker, RequestFileLocation{static_cast<std::uint32_t>(i), "big.bin"});
  const auto frames = t.take(asker);
  ASSERT_EQ(frames.size(), 60u);
  for (const auto& f : frames) {
    ASSERT_EQ(f.payload.size(), 20000u * 32);
    EXPECT_EQ(f.payload.bytes().data(), frames[0].payload.bytes().data());
  }
  const auto first = t.locate(asker, "big.bin", true);
  EXPECT_EQ(first.file, file);
  EXPECT_TRUE(first.complete);
  const auto refresh = t.locate(asker, "big.bin", false);
  EXPECT_TRUE(refresh.file.chunk_hashes.empty());
  EXPECT_EQ(refresh.file.file_hash, file.file_hash);
  EXPECT_EQ(refresh.file.size, file.size);
  ASSERT_EQ(refresh.owners.size(), 1u);
  EXPECT_EQ(refresh.owners[0].chunks, (std::vector<ChunkRange>{{0, 19999}}));
}

TEST(Location, AnOwnerTooFragmentedForOneFrameIsListedInPartAndSaidSo) {
  DirectTracker t(TrackerConfig{});
  const FileInfo file = made_up_file("big.bin", 100000);
  const auto a = t.join("a");
  t.send(a, RequestToPublish{2, file, {{0, 0}}});
  ChunkSet every_other(100000);
  for (std::uint32_t i = 0; i < 100000; i += 2) every_other.insert(i);
  for (auto& piece : split_ranges(every_other.ranges(), kMaxRangesPerMessage)) {
    t.send(a, RequestChunksRegister{"big.bin", std::move(piece)});
  }
  const auto asker = t.join("asker");
  const auto reply = t.locate(asker, "big.bin");
  ASSERT_EQ(reply.owners.size(), 1u);
  EXPECT_FALSE(reply.complete);
  EXPECT_GT(reply.owners[0].chunks.size(), 1000u);
  EXPECT_LT(reply.owners[0].chunks.size(), 50000u);
}

// 100 GiB in 512 KiB chunks: 204,800 chunks, 6.5 MB of hashes. A peer resuming every other
// chunk of it announces 102,400 ranges, which no single frame can carry.
TEST(Location, AHundredGibFileIsAnnouncedLocatedAndRefreshedWithinTheFrameLimits) {
  Swarm s;
  const std::uint32_t chunks = 204800;
  const FileInfo file = made_up_file("huge.bin", chunks);
  ASSERT_EQ(file.size, 100ull << 30);
  // The publisher: a client that announces the whole file and then only listens.
  const HostId publisher = s.net.add_host("publisher", {"10.0.9.9", 1}, {},
                                          std::make_unique<ProbeNode>(s.tracker_address));
  s.net.start(publisher);
  auto& probe = s.net.node<ProbeNode>(publisher);
  ASSERT_TRUE(s.net.run_until([&] { return probe.connected; }));
  auto tell = [&](const Message& m) {
    s.net.command(publisher, [&](Node& n, Time) { dynamic_cast<ProbeNode&>(n).send_message(m); });
    s.net.run_for(50ms);
  };
  tell(RequestRegistry{1, kProtocolVersion, "publisher", {"", 1}});
  tell(RequestToPublish{2, file, {}});
  ASSERT_TRUE(s.net.run_until([&] { return probe.received.size() > 1; }));
  ASSERT_EQ(probe.received_of<ReplyToPublish>().size(), 1u)
      << (probe.received_of<ErrorMessage>().empty() ? ""
                                                    : probe.received_of<ErrorMessage>()[0].message);

  auto b = s.add_peer("b");
  auto c = s.add_peer("c");
  ASSERT_TRUE(s.wait_online({b, c}));
  ChunkSet every_other(chunks);
  for (std::uint32_t i = 0; i < chunks; i += 2) every_other.insert(i);
  s.net.store(b).put_sparse_partial("/dl/huge.bin", file, every_other);
  s.start_download(b, "huge.bin", "/dl/huge.bin");
  ASSERT_TRUE(s.net.run_until([&] {
    for (const auto& v : s.trk().chunk_info()) {
      if (v.peer_id == "b" && v.chunks.count() == chunks / 2) return true;
    }
    return false;
  })) << "b's resumed chunks never all reached the tracker";
  s.start_download(c, "huge.bin", "/dl/huge.bin");
  s.net.run_for(2s);

  // From here on only owners travel: refreshes must not carry the 6.5 MB hash list again.
  const auto bytes_before = s.net.bytes_sent();
  const auto refreshes_before = s.net.count_records("owners_refreshed");
  s.net.run_for(20s);
  EXPECT_GE(s.net.count_records("owners_refreshed") - refreshes_before, 4u);
  EXPECT_LT(s.net.bytes_sent() - bytes_before, file.chunk_count() * 32u)
      << "a refresh carried the hash list";
  bool saw_incomplete = false;
  for (const auto& e : s.net.records_of("owners_refreshed")) {
    if (e.node == "c" && e.fields.value("complete", true) == false) saw_incomplete = true;
  }
  EXPECT_TRUE(saw_incomplete) << "b's 102,400 ranges cannot all fit one reply to c";
  // Nobody was dropped for an oversized frame, and nobody reconnected.
  EXPECT_EQ(s.net.count_records("peer_joined"), 3u);
  EXPECT_EQ(s.peer(b).tracker_state(), Peer::TrackerState::Online);
  EXPECT_EQ(s.peer(c).tracker_state(), Peer::TrackerState::Online);
}

}  // namespace
}  // namespace swarmlab::testing

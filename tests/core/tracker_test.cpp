// The tracker on its own: admission, publishing, queries, soft state, and bad input.
#include "swarmlab/tracker.hpp"

#include <gtest/gtest.h>

#include "support/probe_node.hpp"
#include "support/swarm_fixture.hpp"

namespace swarmlab::testing {
namespace {

TEST(Tracker, PublishListAndLocate) {
  Swarm s;
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  const auto bytes = random_bytes(5 * kTestChunk + 123, 1);
  auto done = s.publish(a, "report.pdf", bytes);
  ASSERT_NE(as<PublishDone>(done), nullptr) << describe(done);
  const auto files = s.trk().files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "report.pdf");
  EXPECT_EQ(files[0].size, bytes.size());
  EXPECT_EQ(files[0].chunks, 6u);
  EXPECT_EQ(files[0].owners, 1u);
  EXPECT_DOUBLE_EQ(files[0].availability, 1.0);
  // The peer's own list_files goes through the wire and comes back as a notice.
  Status st;
  s.net.command<Peer>(a, [&](Peer& p, Time now) { st = p.list_files(now); });
  ASSERT_TRUE(st.ok());
  s.net.run_until([&] { return s.count_notices<FilesListed>(a) == 1; });
  const auto list = s.last_notice<FilesListed>(a);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->files[0].name, "report.pdf");
  EXPECT_EQ(list->files[0].chunks, 6u);
  const auto info = s.trk().chunk_info();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].chunks.to_ranges(), "0-5");
  EXPECT_EQ(info[0].address.to_string(), s.net.address(a).to_string());
}

TEST(Tracker, DuplicateNameWithOtherContentIsRefused) {
  Swarm s;
  auto a = s.add_peer("a");
  auto b = s.add_peer("b");
  ASSERT_TRUE(s.wait_online({a, b}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "song.mp3", random_bytes(40000, 1))), nullptr);
  const auto refused = s.publish(b, "song.mp3", random_bytes(40000, 2));
  ASSERT_NE(as<PublishFailed>(refused), nullptr);
  EXPECT_EQ(as<PublishFailed>(refused)->error.code, ErrorCode::NameTaken);
  EXPECT_NE(describe(refused).find("already published"), std::string::npos);
  // b does not serve the refused file, and the tracker still has a's.
  EXPECT_TRUE(s.peer(b).held_files().empty());
  EXPECT_EQ(s.trk().files().at(0).owners, 1u);
  // The same content under the same name is just another owner.
  ASSERT_NE(as<PublishDone>(s.publish(b, "song.mp3", random_bytes(40000, 1))), nullptr);
  EXPECT_EQ(s.trk().files().at(0).owners, 2u);
}

TEST(Tracker, AllowListRefusesOtherAddresses) {
  TrackerConfig cfg;
  cfg.allow.push_back(*Cidr::parse("10.0.1.0/24"));
  cfg.allow.push_back(*Cidr::parse("fd00::/8"));
  Swarm s(1, cfg);
  auto inside = s.add_peer("inside", {}, {}, "10.0.1.20");
  auto inside6 = s.add_peer("inside6", {}, {}, "fd00::20");
  auto outside = s.add_peer("outside", {}, {}, "10.0.2.20");
  ASSERT_TRUE(s.wait_online({inside, inside6}));
  s.net.run_for(5s);
  EXPECT_NE(s.peer(outside).tracker_state(), Peer::TrackerState::Online);
  const auto err = s.last_notice<TrackerFailed>(outside);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->error.code, ErrorCode::Refused);
  EXPECT_NE(err->error.describe().find("10.0.2.20"), std::string::npos);
  EXPECT_EQ(s.trk().peers().size(), 2u);
  EXPECT_EQ(s.net.records_of("peer_refused").size(), 1u);  // refused once: it does not retry
}

TEST(Tracker, ASecondPeerWithTheSameIdTakesOverAndTheFirstIsToldWhy) {
  Swarm s;
  auto first = s.add_peer("twin", {}, {}, "10.0.1.20");
  ASSERT_TRUE(s.wait_online({first}));
  // A restart of a crashed peer looks the same to the tracker: the newcomer wins.
  auto second = s.add_peer("twin", {}, {}, "10.0.1.30");
  ASSERT_TRUE(s.wait_online({second}));
  s.net.run_for(60s);
  EXPECT_EQ(s.peer(second).tracker_state(), Peer::TrackerState::Online);
  EXPECT_NE(s.peer(first).tracker_state(), Peer::TrackerState::Online);
  const auto err = s.last_notice<TrackerFailed>(first);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->error.code, ErrorCode::NameTaken);
  EXPECT_NE(err->error.describe().find("another peer registered as \"twin\" from 10.0.1.30"),
            std::string::npos)
      << err->error.describe();
  // The first does not come back to push the second off in turn.
  EXPECT_EQ(s.net.records_of("peer_joined").size(), 2u);
  ASSERT_EQ(s.trk().peers().size(), 1u);
}

TEST(Tracker, DropsPeersThatDisconnectOrFallSilent) {
  Swarm s;
  auto a = s.add_peer("a");
  auto b = s.add_peer("b");
  ASSERT_TRUE(s.wait_online({a, b}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "x", random_bytes(3 * kTestChunk, 1))), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "y", random_bytes(3 * kTestChunk, 2))), nullptr);
  s.net.crash(a);  // connection reset: dropped at once
  s.net.run_for(100ms);
  EXPECT_EQ(s.trk().peers().size(), 1u);
  ASSERT_EQ(s.trk().files().size(), 1u);  // x had no other owner: delisted
  EXPECT_EQ(s.trk().files()[0].name, "y");
  s.net.crash(b, /*silent=*/true);  // no reset: only the keep-alive timeout notices
  s.net.run_for(20s);
  EXPECT_EQ(s.trk().peers().size(), 1u);
  s.net.run_for(25s);
  EXPECT_TRUE(s.trk().peers().empty());
  EXPECT_TRUE(s.trk().files().empty());
  EXPECT_EQ(s.net.records_of("file_delisted").size(), 2u);
}

struct ProbeFixture : ::testing::Test {
  Swarm s;
  HostId probe_host =
      s.net.add_host("probe", {"10.0.9.9", 1}, {}, std::make_unique<ProbeNode>(s.tracker_address));
  ProbeNode& probe() { return s.net.node<ProbeNode>(probe_host); }
  void SetUp() override {
    s.net.start(probe_host);
    s.net.run_until([&] { return probe().connected; });
  }
  void send(const Message& m) {
    s.net.command(probe_host, [&](Node& n, Time) { dynamic_cast<ProbeNode&>(n).send_message(m); });
    s.net.run_for(50ms);
  }
  void send_raw(std::vector<std::uint8_t> bytes) {
    s.net.send_raw(probe_host, probe().conn, std::move(bytes));
    s.net.run_for(50ms);
  }
};

TEST_F(ProbeFixture, RequestsBeforeRegistryAreRefused) {
  send(RequestFilesList{3});
  auto errs = probe().received_of<ErrorMessage>();
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].code, ErrorCode::NotRegistered);
  EXPECT_EQ(errs[0].req, 3u);
}

TEST_F(ProbeFixture, BadFramesGetErrorsAndTheTrackerKeepsServing) {
  send(RequestRegistry{1, kProtocolVersion, "probe", {"", 1}});
  ASSERT_EQ(probe().received_of<ReplyRegistry>().size(), 1u);
  auto frame = [](std::string header) {
    return encode_frame_bytes(RawFrame{std::move(header), {}});
  };
  send_raw(frame("this is not json"));
  send_raw(frame(R"({"type":"HELLO_THERE","req":4})"));
  send_raw(frame(R"({"type":"REQUEST_FILE_LOCATION","req":5,"name":"../../etc/passwd"})"));
  send_raw(frame(R"({"type":"REQUEST_FILE_LOCATION","req":6,"name":7})"));
  send(PeerRequestChunk{"x", 0});
  send(RequestFileLocation{8, "nothing-here"});
  const auto errs = probe().received_of<ErrorMessage>();
  ASSERT_EQ(errs.size(), 6u);
  EXPECT_EQ(errs[0].code, ErrorCode::MalformedFrame);
  EXPECT_EQ(errs[1].code, ErrorCode::UnknownMessage);
  EXPECT_EQ(errs[1].req, 4u);
  EXPECT_EQ(errs[2].code, ErrorCode::BadName);
  EXPECT_EQ(errs[3].code, ErrorCode::WrongType);
  EXPECT_EQ(errs[4].code, ErrorCode::UnknownMessage);
  EXPECT_EQ(errs[5].code, ErrorCode::NotFound);
  EXPECT_FALSE(probe().closed.has_value());
  // Still serving: a real peer registers and publishes.
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  EXPECT_NE(as<PublishDone>(s.publish(a, "f", random_bytes(1000 * 20, 3))), nullptr);
}

TEST_F(ProbeFixture, HugeLengthPrefixClosesOnlyThatConnection) {
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  const auto prefix = encode_frame_prefix(16, 0xFFFFFFFFu);
  send_raw(std::vector<std::uint8_t>(prefix.begin(), prefix.end()));
  EXPECT_EQ(probe().closed, CloseReason::Reset);
  EXPECT_NE(as<PublishDone>(s.publish(a, "f", random_bytes(50000, 3))), nullptr);
  EXPECT_EQ(s.trk().peers().size(), 1u);
}

TEST_F(ProbeFixture, BadChunkRegistrationsAreRefused) {
  send(RequestRegistry{1, kProtocolVersion, "probe", {"", 1}});
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  ASSERT_NE(as<PublishDone>(s.publish(a, "f", random_bytes(4 * kTestChunk, 3))), nullptr);
  send(RequestChunksRegister{"f", {{2, 9}}});
  send(RequestChunksRegister{"missing", {{0, 0}}});
  const auto errs = probe().received_of<ErrorMessage>();
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].code, ErrorCode::BadChunkSet);
  EXPECT_EQ(errs[1].code, ErrorCode::NotFound);
  EXPECT_EQ(s.trk().chunk_info().size(), 1u);
}

TEST_F(ProbeFixture, WrongProtocolVersionIsRefused) {
  send(RequestRegistry{1, 99, "probe", {"", 1}});
  const auto errs = probe().received_of<ErrorMessage>();
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].code, ErrorCode::VersionMismatch);
  EXPECT_TRUE(probe().closed.has_value());
}

TEST_F(ProbeFixture, ARegisteredPeerDroppedForItsVersionIsNoLongerListed) {
  send(RequestRegistry{1, kProtocolVersion, "probe", {"", 1}});
  const FileInfo file =
      make_file_info("p.bin", 3 * 4096, 4096, {sha256("a"), sha256("b"), sha256("c")});
  send(RequestToPublish{2, file, {}});
  ASSERT_EQ(probe().received_of<ReplyToPublish>().size(), 1u);
  ASSERT_EQ(s.trk().peers().size(), 1u);
  send(RequestRegistry{3, 99, "probe", {"", 1}});
  EXPECT_TRUE(probe().closed.has_value());
  // Its session is gone, and so are its record and what it owned: nobody is sent to it.
  EXPECT_TRUE(s.trk().peers().empty());
  EXPECT_TRUE(s.trk().chunk_info().empty());
}

TEST(Tracker, HugeFileListsAreCutToFitOneFrame) {
  Swarm s;
  auto a = s.add_peer("a");
  ASSERT_TRUE(s.wait_online({a}));
  // 1,500 files with 200-byte names: about 400 KiB of JSON, far over the 64 KiB header limit.
  for (int i = 0; i < 1500; ++i) {
    const std::string name = std::string(190, 'x') + std::to_string(100000 + i);
    s.net.store(a).put_file("/d/" + name, random_bytes(100, static_cast<std::uint64_t>(i)));
    s.net.command<Peer>(
        a, [&](Peer& p, Time now) { ASSERT_TRUE(p.publish(now, "/d/" + name, name).ok()); });
  }
  s.net.run_until([&] { return s.count_notices<PublishDone>(a) == 1500; });
  ASSERT_EQ(s.trk().files().size(), 1500u);
  s.net.command<Peer>(a, [&](Peer& p, Time now) { ASSERT_TRUE(p.list_files(now).ok()); });
  ASSERT_TRUE(s.net.run_until([&] { return s.count_notices<FilesListed>(a) == 1; }));
  const auto list = s.last_notice<FilesListed>(a);
  const auto shown = list->files.size();
  EXPECT_GT(shown, 100u);
  EXPECT_LT(shown, 1500u);
  EXPECT_EQ(shown + list->omitted, 1500u);
  EXPECT_EQ(s.peer(a).tracker_state(), Peer::TrackerState::Online);  // the connection survived
}

TEST(Tracker, RestartRebuildsTheSameViewFromPeers) {
  Swarm s;
  auto a = s.add_peer("a");
  auto b = s.add_peer("b");
  auto c = s.add_peer("c");
  ASSERT_TRUE(s.wait_online({a, b, c}));
  const auto bytes = random_bytes(20 * kTestChunk, 5);
  ASSERT_NE(as<PublishDone>(s.publish(a, "movie", bytes)), nullptr);
  ASSERT_NE(as<PublishDone>(s.publish(b, "notes", random_bytes(3 * kTestChunk, 6))), nullptr);
  s.start_download(c, "movie", "/dl/movie");
  ASSERT_NE(as<DownloadCompleted>(s.wait_download(c, "movie")), nullptr);
  s.net.run_for(1s);  // batched registrations reach the tracker
  const auto before = s.trk().chunk_info();
  const auto files_before = s.trk().files();
  ASSERT_EQ(before.size(), 3u);
  s.net.crash(s.tracker);
  s.net.run_for(3s);
  s.restart_tracker();
  ASSERT_TRUE(s.wait_online({a, b, c}));
  s.net.run_for(1s);
  EXPECT_EQ(s.trk().chunk_info(), before);
  EXPECT_EQ(s.trk().files(), files_before);
  EXPECT_EQ(s.net.records_of("tracker_regained").size(), 3u);
}

}  // namespace
}  // namespace swarmlab::testing

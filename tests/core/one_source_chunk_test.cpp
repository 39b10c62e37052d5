// A chunk that failed its SHA-256 with blocks from several senders must next come whole from
// one source. These tests drive a Download alone, with a fake clock and scripted sources, to
// the moments where that rule could leave the chunk waiting on a source that will not finish.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "swarmlab/download.hpp"
#include "swarmlab/overloaded.hpp"
#include "swarmlab/sha256.hpp"

namespace swarmlab::testing {
namespace {

namespace act = download_action;

constexpr std::uint32_t kChunk = 1024;
constexpr std::uint32_t kBlock = kChunk / 2;

// One download of a one-chunk file "f" (two blocks) from sources "a" and "b", both owners.
// Connections open, pings are answered and the file opens at once; requests, logs and
// writes are kept for the test to look at and answer.
struct OneChunkDownload {
  Rng rng{7};
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(kChunk, 0x5a);
  FileInfo file = make_file_info("f", kChunk, kChunk, {sha256(bytes)});
  Download d;
  Time now{};
  std::map<std::string, ConnId> conn;
  std::vector<std::pair<ConnId, PeerRequestChunk>> asked;
  std::vector<act::WriteChunk> writes;
  std::vector<std::string> logs;

  static DownloadConfig config() {
    DownloadConfig c;
    c.block_size = kBlock;
    c.end_game = false;  // one source per block: what each one was asked is the test's
    return c;
  }

  OneChunkDownload() : d(config(), "f", "/dl/f", rng) {
    d.start(now);
    pump();
    ReplyFileLocation reply;
    reply.file = file;
    reply.owners = {{"a", {"10.0.0.1", 6881}, {{0, 0}}}, {"b", {"10.0.0.2", 6881}, {{0, 0}}}};
    d.on_location(now, reply);
    pump();
  }

  void pump() {
    while (auto a = d.poll_action()) {
      std::visit(Overloaded{
                     [&](act::OpenConnection& x) {
                       const ConnId id = conn.size() + 1;
                       conn[x.source] = id;
                       d.bind_connection(x.source, id);
                       d.on_connected(now, id);
                     },
                     [&](act::SendMessage& x) {
                       if (auto* ping = std::get_if<PeerPing>(&x.message)) {
                         d.on_message(now, x.conn, PeerPong{ping->nonce});
                       } else if (auto* r = std::get_if<PeerRequestChunk>(&x.message)) {
                         asked.emplace_back(x.conn, *r);
                       }
                     },
                     [&](act::OpenFile&) { d.on_opened(now, StoreResult::done()); },
                     [&](act::WriteChunk& x) { writes.push_back(std::move(x)); },
                     [&](act::FinishFile&) { d.on_finalized(now, StoreResult::done()); },
                     [&](act::Log& x) { logs.push_back(x.type); },
                     [](auto&) {},
                 },
                 *a);
    }
  }
  void from(const std::string& source, Message m) {
    d.on_message(now, conn.at(source), std::move(m));
    pump();
  }
  void block_from(const std::string& source, std::uint32_t offset) {
    from(source, PeerReplyChunk{"f", 0, offset, Payload::copy_of({bytes.data() + offset, kBlock})});
  }
  /// The offsets asked of `source` since the last call.
  std::vector<std::uint32_t> offsets_asked_of(const std::string& source) {
    std::vector<std::uint32_t> out;
    for (const auto& [c, r] : asked) {
      if (c == conn.at(source)) out.push_back(r.offset);
    }
    std::erase_if(asked, [&](const auto& x) { return x.first == conn.at(source); });
    return out;
  }
  void run_for(Duration span) {
    const Time end = now + span;
    while (now < end) {
      now = std::min(end, now + 100ms);
      if (const auto due = d.next_deadline(); due && *due <= now) d.on_deadline(now);
      pump();
    }
  }
  /// Block 0 from a, block 1 from b, and the chunk fails its SHA-256: nobody can say who
  /// lied, so it must next come whole from one source.
  void fail_with_two_senders() {
    ASSERT_EQ(conn.size(), 2u);
    from("a", PeerUnchoke{"f"});
    ASSERT_EQ(offsets_asked_of("a"), (std::vector<std::uint32_t>{0, kBlock}));
    block_from("a", 0);
    from("a", PeerChoke{"f", {{0, 0}}});  // block 1's request dropped
    from("b", PeerUnchoke{"f"});
    ASSERT_EQ(offsets_asked_of("b"), std::vector<std::uint32_t>{kBlock});
    block_from("b", kBlock);
    ASSERT_EQ(writes.size(), 1u);
    ASSERT_EQ(writes[0].from.size(), 2u);
    d.on_written(now, 0, StoreResult::failed(make_error(ErrorCode::HashMismatch, "bad")));
    writes.clear();
    pump();
  }
};

TEST(OneSourceChunk, ItsSenderChokingUsAndStayingStartsItOverForAnotherOwner) {
  OneChunkDownload t;
  t.fail_with_two_senders();
  // b, the only unchoked source, is asked for the whole chunk; it sends one block and chokes
  // us, staying connected. a unchokes us but may not finish a chunk b began.
  ASSERT_EQ(t.offsets_asked_of("b"), (std::vector<std::uint32_t>{0, kBlock}));
  t.block_from("b", 0);
  t.run_for(3s);  // the second block is slow to come (b answers pings: it is alive)
  t.from("b", PeerChoke{"f", {{0, 0}}});
  t.from("a", PeerUnchoke{"f"});
  // Not before request_timeout has passed since the choke...
  const auto timeout = OneChunkDownload::config().request_timeout;
  t.run_for(timeout - 1s);
  EXPECT_EQ(std::count(t.logs.begin(), t.logs.end(), "chunk_restarted"), 0);
  EXPECT_TRUE(t.offsets_asked_of("a").empty());
  // ... but then it starts over, and a sends it whole.
  t.run_for(2s);
  EXPECT_EQ(std::count(t.logs.begin(), t.logs.end(), "chunk_restarted"), 1);
  ASSERT_EQ(t.offsets_asked_of("a"), (std::vector<std::uint32_t>{0, kBlock}));
  t.block_from("a", 0);
  t.block_from("a", kBlock);
  ASSERT_EQ(t.writes.size(), 1u);
  EXPECT_EQ(t.writes[0].from, std::vector<std::string>{"a"});
  t.d.on_written(t.now, 0, StoreResult::done());
  t.pump();
  EXPECT_EQ(t.d.phase(), Download::Phase::Completed);
}

TEST(OneSourceChunk, ItsSenderLeavingWithNothingAskedStartsItOverAtOnce) {
  OneChunkDownload t;
  t.fail_with_two_senders();
  ASSERT_EQ(t.offsets_asked_of("b"), (std::vector<std::uint32_t>{0, kBlock}));
  t.block_from("b", 0);
  t.from("b", PeerChoke{"f", {{0, 0}}});  // nothing of it is asked of b any more
  t.from("a", PeerUnchoke{"f"});
  t.d.on_closed(t.now, t.conn.at("b"), CloseReason::Reset);
  t.pump();
  EXPECT_EQ(t.offsets_asked_of("a"), (std::vector<std::uint32_t>{0, kBlock}));
}

TEST(OneSourceChunk, ASenderThatUnchokesUsAgainKeepsItsChunk) {
  OneChunkDownload t;
  t.fail_with_two_senders();
  ASSERT_EQ(t.offsets_asked_of("b"), (std::vector<std::uint32_t>{0, kBlock}));
  t.block_from("b", 0);
  t.from("b", PeerChoke{"f", {{0, 0}}});
  t.from("a", PeerUnchoke{"f"});
  t.run_for(2s);
  t.from("b", PeerUnchoke{"f"});  // its next turn: b is asked for the rest at once
  EXPECT_EQ(t.offsets_asked_of("b"), std::vector<std::uint32_t>{kBlock});
  t.run_for(OneChunkDownload::config().request_timeout);
  t.block_from("b", kBlock);
  EXPECT_EQ(std::count(t.logs.begin(), t.logs.end(), "chunk_restarted"), 0);
  EXPECT_TRUE(t.offsets_asked_of("a").empty());
  ASSERT_EQ(t.writes.size(), 1u);
  EXPECT_EQ(t.writes[0].from, std::vector<std::string>{"b"});
}

TEST(OneSourceChunk, ASenderStillSendingKeepsItsChunk) {
  OneChunkDownload t;
  t.fail_with_two_senders();
  ASSERT_EQ(t.offsets_asked_of("b"), (std::vector<std::uint32_t>{0, kBlock}));
  t.from("a", PeerUnchoke{"f"});
  // b is slow, not stuck: its second block is still asked of it, so the chunk stays b's
  // however long that takes (its requests time out only if b sends nothing at all).
  t.block_from("b", 0);
  t.run_for(3s);
  t.from("b", PeerPong{0});  // heard from: alive
  t.run_for(3s);
  EXPECT_EQ(std::count(t.logs.begin(), t.logs.end(), "chunk_restarted"), 0);
  EXPECT_TRUE(t.offsets_asked_of("a").empty());
  t.block_from("b", kBlock);
  ASSERT_EQ(t.writes.size(), 1u);
  EXPECT_EQ(t.writes[0].from, std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace swarmlab::testing

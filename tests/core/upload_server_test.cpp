// The upload server on its own, with a fake clock: who may hold its connections.
#include "swarmlab/upload_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace swarmlab::testing {
namespace {

namespace act = upload_action;

const Time t0{};

struct Actions {
  std::vector<ConnId> closed;
  std::vector<std::pair<ConnId, ErrorCode>> errors;
};

Actions drain(UploadServer& s) {
  Actions out;
  while (auto a = s.poll_action()) {
    if (auto* c = std::get_if<act::CloseConnection>(&*a)) out.closed.push_back(c->conn);
    if (auto* m = std::get_if<act::SendMessage>(&*a)) {
      if (auto* e = std::get_if<ErrorMessage>(&m->message))
        out.errors.emplace_back(m->conn, e->code);
    }
  }
  return out;
}

UploadServer server_for_two() {
  UploadConfig c;
  c.max_connections = 2;
  c.hearings = 0;  // full means full
  c.idle_timeout = 30s;
  c.evict_silent_after = 10s;
  return UploadServer(c, [](const std::string&) { return UploadServer::Offered{}; });
}

using Sent = std::vector<std::pair<ConnId, std::uint32_t>>;

// What an origin answered chunk requests with since the last call: reads begun (it serves the
// chunk) and PEER_REJECT_CHUNKs (ask me for another).
struct Answers {
  Sent read, rejected;
};
Answers answers(UploadServer& s) {
  Answers out;
  while (auto a = s.poll_action()) {
    if (auto* r = std::get_if<act::ReadChunk>(&*a)) out.read.emplace_back(r->conn, r->index);
    if (auto* m = std::get_if<act::SendMessage>(&*a)) {
      if (auto* j = std::get_if<PeerRejectChunk>(&m->message))
        out.rejected.emplace_back(m->conn, j->index);
    }
  }
  return out;
}

// An origin of a 4-chunk file "f" (1 KiB chunks) with slots for everyone it takes and no
// hearings: a downloader beyond max_connections is turned away.
struct Origin {
  FileInfo file = make_file_info("f", 4 * 1024, 1024, std::vector<Digest>(4));
  ChunkSet have{4};
  UploadServer server;
  explicit Origin(std::uint32_t max_connections) : Origin(config(max_connections)) {}
  explicit Origin(UploadConfig c)
      : server(c, [this](const std::string& name) {
          return name == "f" ? UploadServer::Offered{&file, &have} : UploadServer::Offered{};
        }) {
    for (std::uint32_t i = 0; i < 4; ++i) have.insert(i);
  }
  static UploadConfig config(std::uint32_t max_connections) {
    UploadConfig c;
    c.max_connections = max_connections;
    c.hearings = 0;
    c.slots = 4;
    return c;
  }
  // One slot and three downloaders, a fourth turned away (so first copies are spread), all
  // interested and holding nothing: 1 has the slot.
  static UploadConfig one_slot() {
    UploadConfig c = config(3);
    c.slots = 1;
    c.optimistic_slot = false;
    return c;
  }
  void three_ask_one_served();
  void three_served_one_turned_away();
};

// The downloaders `s` unchoked since the last call (other actions are dropped).
std::vector<ConnId> unchoked_by(UploadServer& s) {
  std::vector<ConnId> out;
  while (auto a = s.poll_action()) {
    if (auto* m = std::get_if<act::SendMessage>(&*a);
        m != nullptr && std::holds_alternative<PeerUnchoke>(m->message))
      out.push_back(m->conn);
  }
  return out;
}

void Origin::three_ask_one_served() {
  for (ConnId c : {1, 2, 3}) ASSERT_TRUE(server.on_accepted(t0, c));
  EXPECT_FALSE(server.on_accepted(t0, 4));
  for (ConnId c : {1, 2, 3}) server.on_message(t0, c, PeerInterested{"f", 0});
  ASSERT_EQ(unchoked_by(server), std::vector<ConnId>{1});
}

TEST(UploadServer, SilentConnectionsGiveWayToNewcomersAndTimeOut) {
  auto s = server_for_two();
  ASSERT_TRUE(s.on_accepted(t0, 1));  // names its file, then says nothing, ever
  ASSERT_TRUE(s.on_accepted(t0, 2));  // names its file and pings like a downloader
  s.on_message(t0, 1, PeerNotInterested{"f"});
  s.on_message(t0, 2, PeerNotInterested{"f"});
  EXPECT_TRUE(drain(s).closed.empty());

  // Full, and nobody has been silent long: a newcomer is told Busy.
  s.on_message(t0 + 5s, 2, PeerPing{1});
  EXPECT_FALSE(s.on_accepted(t0 + 5s, 3));
  auto a = drain(s);
  ASSERT_EQ(a.closed, std::vector<ConnId>{3});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{3}, ErrorCode::Busy));

  // Ten seconds of silence from 1: the next newcomer takes its place.
  s.on_message(t0 + 10s, 2, PeerPing{2});
  EXPECT_TRUE(s.on_accepted(t0 + 11s, 4));
  a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{1});
  ASSERT_EQ(a.errors.size(), 1u);  // told why
  EXPECT_EQ(a.errors[0].first, 1u);

  // 4 never speaks either: at its 30 s of silence the server closes it with a reason, while
  // 2, which keeps pinging, stays.
  for (int i = 3; i <= 8; ++i) s.on_message(t0 + std::chrono::seconds(5 * i), 2, PeerPing{3});
  ASSERT_TRUE(s.next_deadline());
  EXPECT_EQ(*s.next_deadline(), t0 + 41s);
  s.on_deadline(t0 + 40s);
  EXPECT_TRUE(drain(s).closed.empty());
  s.on_deadline(t0 + 41s);
  a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{4});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{4}, ErrorCode::Timeout));
  // 2's own deadline is 30 s after its last ping; a newcomer now fits.
  EXPECT_EQ(*s.next_deadline(), t0 + 70s);
  EXPECT_TRUE(s.on_accepted(t0 + 42s, 5));
  EXPECT_TRUE(drain(s).closed.empty());
}

TEST(UploadServer, ConnectionsThatNameNoFileGiveWayWithinSeconds) {
  // Every downloader names its file as it connects; hundreds of connections that do not (or
  // only ping) must not keep the real ones out for the ten seconds a downloader may be silent.
  auto s = server_for_two();
  ASSERT_TRUE(s.on_accepted(t0, 1));
  ASSERT_TRUE(s.on_accepted(t0 + 500ms, 2));
  s.on_message(t0 + 1s, 1, PeerPing{1});
  s.on_message(t0 + 1s, 2, PeerPing{1});
  EXPECT_FALSE(s.on_accepted(t0 + 1s, 3));  // too soon to tell
  auto a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{3});

  // Two seconds after it connected, 1 still named nothing: a newcomer takes its place, even
  // though 1 pinged a second ago.
  EXPECT_TRUE(s.on_accepted(t0 + 2s, 4));
  a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{1});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{1}, ErrorCode::Busy));

  // 4 is a downloader: it names its file and stays, while 2 gives way to the next newcomer.
  s.on_message(t0 + 2s, 4, PeerInterested{"f"});
  EXPECT_TRUE(s.on_accepted(t0 + 4s, 5));
  a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{2});
  EXPECT_FALSE(s.on_accepted(t0 + 5s, 6));  // 4 named its file, 5 is new: full
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{6});
}

TEST(UploadServer, AHeardNewcomerHoldingLittleTakesThePlaceOfTheDownloaderFurthestAlong) {
  UploadConfig config;
  config.max_connections = 2;
  config.hearings = 1;
  config.evict_nameless_after = 2s;
  config.slots = 2;
  config.optimistic_slot = false;
  UploadServer s(config, [](const std::string&) { return UploadServer::Offered{}; });
  auto unchoked = [&s] { return unchoked_by(s); };
  ASSERT_TRUE(s.on_accepted(t0, 1));
  ASSERT_TRUE(s.on_accepted(t0, 2));
  s.on_message(t0, 1, PeerInterested{"f", 6});
  s.on_message(t0, 2, PeerInterested{"f", 2});
  s.on_message(t0 + 1s, 2, PeerHave{"f", 9});  // 2 now holds 3
  drain(s);

  // Full, nothing evictable: a newcomer is heard out instead of being refused at once.
  ASSERT_TRUE(s.on_accepted(t0 + 1s, 3));
  EXPECT_TRUE(drain(s).closed.empty());
  // Only one hearing at a time: the next newcomer is refused.
  EXPECT_FALSE(s.on_accepted(t0 + 1s, 4));
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{4});
  EXPECT_EQ(s.connections(), 2u);  // a hearing holds no place
  // 3 holds nothing; 1 holds six chunks: 1 makes way, told why, and 3 stays as a downloader
  // and takes the slot 1 held.
  s.on_message(t0 + 1s, 3, PeerInterested{"f", 0});
  auto a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{1});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{1}, ErrorCode::Busy));
  EXPECT_EQ(s.connections(), 2u);
  EXPECT_EQ(s.unchoked(), 2u);

  // Next, one that holds two: 2 holds three, not twice as many, so the newcomer goes.
  ASSERT_TRUE(s.on_accepted(t0 + 2s, 5));
  s.on_message(t0 + 2s, 5, PeerInterested{"f", 2});
  a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{5});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{5}, ErrorCode::Busy));

  // One that wants nothing here goes at once; one that names nothing goes when its hearing
  // ends, at the deadline the server asks for, and never holds a place meanwhile.
  ASSERT_TRUE(s.on_accepted(t0 + 3s, 6));
  s.on_message(t0 + 3s, 6, PeerNotInterested{"f"});
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{6});
  ASSERT_TRUE(s.on_accepted(t0 + 4s, 7));
  s.on_message(t0 + 5s, 7, PeerPing{1});
  s.on_deadline(t0 + 5s);  // the periodic rechoke, due long ago
  drain(s);
  ASSERT_TRUE(s.next_deadline());
  EXPECT_EQ(*s.next_deadline(), t0 + 6s);
  s.on_deadline(t0 + 6s);
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{7});
  EXPECT_EQ(s.connections(), 2u);

  // A place that comes free during a hearing goes to the newcomer heard, whatever it holds.
  ASSERT_TRUE(s.on_accepted(t0 + 7s, 8));
  s.on_closed(t0 + 7s, 2);
  drain(s);
  s.on_message(t0 + 7s, 8, PeerInterested{"f", 50});
  EXPECT_EQ(unchoked(), std::vector<ConnId>{8});
  EXPECT_EQ(s.connections(), 2u);
}

TEST(UploadServer, AHearingClosesNoDownloaderThatUploadsFasterThanTheNewcomer) {
  // Whoever is closed for a newcomer, the swarm loses what it would have passed on: a fast
  // uploader is not closed for a slower one that holds less.
  UploadConfig config;
  config.max_connections = 2;
  config.hearings = 1;
  UploadServer s(config, [](const std::string&) { return UploadServer::Offered{}; });
  ASSERT_TRUE(s.on_accepted(t0, 1));
  ASSERT_TRUE(s.on_accepted(t0, 2));
  s.on_message(t0, 1, PeerInterested{"f", 6, 40'000'000});
  s.on_message(t0, 2, PeerInterested{"f", 5, 1'000'000});
  drain(s);

  // A 1 Mbit/s newcomer that holds nothing: 1 holds more but uploads 40 times faster, so 2
  // (as fast as the newcomer, and far along) makes way.
  ASSERT_TRUE(s.on_accepted(t0 + 1s, 3));
  s.on_message(t0 + 1s, 3, PeerInterested{"f", 0, 1'000'000});
  auto a = drain(s);
  EXPECT_EQ(a.closed, std::vector<ConnId>{2});
  ASSERT_EQ(a.errors.size(), 1u);
  EXPECT_EQ(a.errors[0], std::make_pair(ConnId{2}, ErrorCode::Busy));

  // Slower still than everyone connected: nobody makes way, the newcomer is refused.
  ASSERT_TRUE(s.on_accepted(t0 + 2s, 4));
  s.on_message(t0 + 2s, 4, PeerInterested{"f", 0, 500'000});
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{4});

  // One that does not say its rate counts as equal to anyone: 1, furthest along, makes way.
  ASSERT_TRUE(s.on_accepted(t0 + 3s, 5));
  s.on_message(t0 + 3s, 5, PeerInterested{"f", 0});
  EXPECT_EQ(drain(s).closed, std::vector<ConnId>{1});
  EXPECT_EQ(s.connections(), 2u);
}

// Three downloaders connected and interested, holding nothing; a fourth turned away, so the
// origin spreads first copies from now on.
void Origin::three_served_one_turned_away() {
  for (ConnId c : {1, 2, 3}) ASSERT_TRUE(server.on_accepted(t0, c));
  EXPECT_FALSE(server.on_accepted(t0, 4));
  for (ConnId c : {1, 2, 3}) server.on_message(t0, c, PeerInterested{"f", 0});
  answers(server);
}

TEST(UploadServer, AHolderGivesUpItsSlotWhileADownloaderThatHoldsNothingWaits) {
  FileInfo file = make_file_info("f", 4 * 1024, 1024, std::vector<Digest>(4));
  struct Case {
    bool newcomers_first;
    std::uint32_t chunks_held;
    bool yields;
  };
  // A seed (it holds all four) does not: its uplink would idle for the newcomer's round trip,
  // and who gets its chunks matters less.
  for (const auto& [newcomers_first, chunks_held, yields] :
       {Case{true, 3, true}, Case{false, 3, false}, Case{true, 4, false}}) {
    SCOPED_TRACE(std::string(newcomers_first ? "newcomers first, " : "off, ") +
                 std::to_string(chunks_held) + " chunks held");
    ChunkSet have(4);
    for (std::uint32_t i = 0; i < chunks_held; ++i) have.insert(i);
    const std::uint32_t slots = 2;
    UploadConfig config;
    config.slots = slots;
    config.optimistic_slot = false;
    config.newcomers_first = newcomers_first;
    UploadServer s(config, [&](const std::string& name) {
      return name == "f" ? UploadServer::Offered{&file, &have} : UploadServer::Offered{};
    });
    auto unchoked = [&s] { return unchoked_by(s); };
    for (ConnId c : {1, 2, 3, 4}) ASSERT_TRUE(s.on_accepted(t0, c));
    // 1 and 2 take the two slots.
    s.on_message(t0, 1, PeerInterested{"f", 2, 8'000'000});
    s.on_message(t0, 2, PeerInterested{"f", 3, 8'000'000});
    EXPECT_EQ(unchoked(), (std::vector<ConnId>{1, 2}));
    // 3 holds nothing but uploads slower than 1: no claim on 1's slot.
    s.on_message(t0, 3, PeerInterested{"f", 0, 1'000'000});
    s.on_message(t0 + 1s, 1, PeerHave{"f", 3});
    EXPECT_TRUE(unchoked().empty());

    // 4 holds nothing and uploads as fast as 1: at 1's next chunk 1 gives the slot up, and it
    // goes as a free slot does: to 3 or 4, which hold as little (of equals, the lower draw).
    s.on_message(t0 + 1s, 4, PeerInterested{"f", 0, 8'000'000});
    EXPECT_TRUE(unchoked().empty());
    s.on_message(t0 + 2s, 1, PeerHave{"f", 0});
    const auto now_unchoked = unchoked();
    if (yields) {
      ASSERT_EQ(now_unchoked.size(), 1u);
      EXPECT_TRUE(now_unchoked[0] == 3 || now_unchoked[0] == 4);
    } else {
      EXPECT_TRUE(now_unchoked.empty());
    }
    EXPECT_EQ(s.unchoked(), slots);
  }
}

TEST(UploadServer, AFirstCopyCutOffWithItsConnectionGoesToTheNextDownloaderThatAsks) {
  // An origin spreading first copies (it turned a downloader away) sends chunk 0 to 1, whose
  // connection closes before the chunk has left whole: the chunk reached nobody, so 2 gets it
  // when it asks instead of being told to ask for another.
  Origin origin(3);
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());

  // 3 gets chunk 1 whole; 1's chunk 0 is read but the connection goes before it leaves.
  s.on_message(t0, 3, PeerRequestChunk{"f", 1, 0, 0});
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 0});
  EXPECT_EQ(answers(s).read, (Sent{{3, 1}, {1, 0}}));
  s.on_read(t0, 3, "f", 1, 0,
            StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(1024))));
  s.on_sent(t0, 3);
  s.on_closed(t0 + 1s, 1);
  answers(s);

  // Chunk 1 went out once and is refused to 2; chunk 0 did not, and is sent.
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 1, 0, 0});
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 0, 0, 0});
  const auto a = answers(s);
  EXPECT_EQ(a.rejected, (Sent{{2, 1}}));
  EXPECT_EQ(a.read, (Sent{{2, 0}}));

  // 3 goes too, but chunk 1 had left whole for it: it is still out, and still refused.
  s.on_closed(t0 + 2s, 3);
  s.on_message(t0 + 2s, 2, PeerRequestChunk{"f", 1, 0, 0});
  EXPECT_EQ(answers(s).rejected, (Sent{{2, 1}}));
}

TEST(UploadServer, AFirstCopyCutShortByAChokeGoesToTheNextDownloaderThatAsks) {
  // One slot. 1 gets the first half of chunk 0 as a first copy, asks nothing more for a turn
  // and is choked: the chunk is not out, and 2, unchoked next, gets it. Before, it stayed
  // promised to 1, which ranked last from then on: every other downloader was told to ask for
  // another, and a swarm holding all but that chunk waited for it for good. If 1 said it
  // verified chunk 0 (it got the rest elsewhere), the chunk is out, and 2 is told so.
  for (const bool reported : {false, true}) {
    SCOPED_TRACE(reported ? "1 reports chunk 0" : "1 says nothing");
    Origin origin(Origin::one_slot());
    UploadServer& s = origin.server;
    ASSERT_NO_FATAL_FAILURE(origin.three_ask_one_served());

    s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 512});
    EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));
    s.on_read(t0, 1, "f", 0, 0,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(512))));
    s.on_sent(t0, 1);
    if (reported) s.on_message(t0, 1, PeerHave{"f", 0});
    answers(s);

    // Its turn ends idle (nothing asked for a second while others wait).
    ASSERT_TRUE(s.next_deadline());
    s.on_deadline(*s.next_deadline());
    ASSERT_EQ(unchoked_by(s), std::vector<ConnId>{2});
    s.on_message(t0 + 3s, 2, PeerRequestChunk{"f", 0, 0, 0});
    const auto a = answers(s);
    const Sent to_2{{2, 0}};
    EXPECT_EQ(a.rejected, reported ? to_2 : Sent{});
    EXPECT_EQ(a.read, reported ? Sent{} : to_2);
  }
}

TEST(UploadServer, AFirstCopyChokedOnItsWayOutIsOfferedAgainOnlyOnceOut) {
  // One slot. 1 is choked (it says it wants nothing more) while the first half of chunk 0 is
  // still going out to it: the chunk stays promised until that block has left, and is offered
  // to the next downloader from then on.
  Origin origin(Origin::one_slot());
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_ask_one_served());
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 512});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));

  s.on_message(t0, 1, PeerNotInterested{"f"});
  ASSERT_EQ(unchoked_by(s), std::vector<ConnId>{2});
  s.on_message(t0, 2, PeerRequestChunk{"f", 0, 0, 0});
  EXPECT_EQ(answers(s).rejected, (Sent{{2, 0}}));

  s.on_read(t0, 1, "f", 0, 0,
            StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(512))));
  s.on_sent(t0, 1);
  answers(s);
  s.on_message(t0, 2, PeerRequestChunk{"f", 0, 0, 0});
  const auto a = answers(s);
  EXPECT_TRUE(a.rejected.empty());
  EXPECT_EQ(a.read, (Sent{{2, 0}}));
}

TEST(UploadServer, AnOriginThatTurnsDownloadersAwaySendsEachChunkOnceBeforeAnyTwice) {
  // Slots for everyone it takes, so nobody connected waits; it is the downloaders told Busy
  // that say its upload is what the swarm waits for.
  Origin origin(2);
  UploadServer& s = origin.server;
  ASSERT_TRUE(s.on_accepted(t0, 1));
  ASSERT_TRUE(s.on_accepted(t0, 2));
  s.on_message(t0, 1, PeerInterested{"f", 0});
  s.on_message(t0, 2, PeerInterested{"f", 0});
  ASSERT_EQ(s.unchoked(), 2u);
  answers(s);

  // Uplink to spare: a chunk already sent to 1 is sent to 2 as asked.
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 0});
  s.on_message(t0, 2, PeerRequestChunk{"f", 0, 0, 0});
  auto a = answers(s);
  EXPECT_EQ(a.read, (Sent{{1, 0}, {2, 0}}));
  EXPECT_TRUE(a.rejected.empty());
  for (const auto& [conn, index] : a.read) {  // read and gone: room for the next ones
    s.on_read(t0, conn, "f", index, 0,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(1024))));
    s.on_sent(t0, conn);
  }

  // A third downloader is turned away: from now on 2 gets only chunks nobody got yet.
  EXPECT_FALSE(s.on_accepted(t0 + 1s, 3));
  answers(s);
  s.on_message(t0 + 1s, 1, PeerRequestChunk{"f", 1, 0, 0});
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 1, 0, 0});
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 2, 0, 0});
  a = answers(s);
  EXPECT_EQ(a.read, (Sent{{1, 1}, {2, 2}}));
  EXPECT_EQ(a.rejected, (Sent{{2, 1}}));
}

TEST(UploadServer, AnOriginSendsNoSecondCopyWhileAFirstCopyIsStillOnItsWay) {
  // Every chunk has begun to go out, but chunks 2 and 3 are still on their way (to 3 and 1):
  // a second copy of either would share the uplink with the last first copies, and the
  // swarm waits for those. Once both have left whole, what is asked is served again.
  Origin origin(3);
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
  auto read = [&](ConnId conn, std::uint32_t index) {
    s.on_read(t0, conn, "f", index, 0,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(1024))));
  };

  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 0});
  s.on_message(t0, 2, PeerRequestChunk{"f", 1, 0, 0});
  s.on_message(t0, 3, PeerRequestChunk{"f", 2, 0, 0});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}, {2, 1}, {3, 2}}));
  for (ConnId c : {1, 2, 3}) read(c, static_cast<std::uint32_t>(c - 1));
  s.on_sent(t0, 1);  // chunks 0 and 1 have left whole; chunk 2 is on its way to 3
  s.on_sent(t0, 2);
  s.on_message(t0, 1, PeerRequestChunk{"f", 3, 0, 0});
  EXPECT_EQ(answers(s).read, (Sent{{1, 3}}));

  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 3, 0, 0});
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 2, 0, 0});
  auto a = answers(s);
  EXPECT_TRUE(a.read.empty());
  EXPECT_EQ(a.rejected, (Sent{{2, 3}, {2, 2}}));

  read(1, 3);
  s.on_sent(t0 + 1s, 1);
  s.on_sent(t0 + 1s, 3);
  answers(s);
  s.on_message(t0 + 2s, 2, PeerRequestChunk{"f", 3, 0, 0});
  a = answers(s);
  EXPECT_TRUE(a.rejected.empty());
  EXPECT_EQ(a.read, (Sent{{2, 3}}));
}

TEST(UploadServer, AFirstCopyThatStallsGoesToTheNextDownloaderThatAsks) {
  // 1 got the first block of chunk 0, and then nothing more of it left (TCP backing off on its
  // connection): after four blocks' time at one slot's share of the uplink, or
  // first_copy_stall_time if the rate is unknown, the next downloader to ask gets the chunk
  // instead of being told to ask for another while the origin's uplink idles. The promise
  // passes to that one.
  struct Case {
    std::uint64_t upload_bps;
    Duration stall;
  };
  // Known rate: four slots and the optimistic one, so a fifth of 81,920 bit/s; four 512-byte
  // blocks of it take 1 s.
  for (const Case k : {Case{0, 2s}, Case{81'920, 1s}}) {
    SCOPED_TRACE(k.upload_bps);
    UploadConfig config = Origin::config(3);
    config.upload_bps = k.upload_bps;
    config.first_copy_stall_time = 2s;
    config.out_time = Duration::zero();
    Origin origin(config);
    UploadServer& s = origin.server;
    ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
    s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 512});
    EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));
    s.on_read(t0, 1, "f", 0, 0,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(512))));
    s.on_sent(t0 + 100ms, 1);
    answers(s);

    // Still moving: refused.
    s.on_message(t0 + 100ms + k.stall - 1ms, 2, PeerRequestChunk{"f", 0, 0, 512});
    auto a = answers(s);
    EXPECT_EQ(a.rejected, (Sent{{2, 0}}));
    EXPECT_TRUE(a.read.empty());

    // Stalled: 2 gets it, and 3, asking next, is refused while 2's copy moves.
    s.on_message(t0 + 100ms + k.stall, 2, PeerRequestChunk{"f", 0, 0, 512});
    s.on_message(t0 + 100ms + k.stall, 3, PeerRequestChunk{"f", 0, 0, 512});
    a = answers(s);
    EXPECT_EQ(a.read, (Sent{{2, 0}}));
    EXPECT_EQ(a.rejected, (Sent{{3, 0}}));

    // 1's next request for the chunk is refused too: it is 2's first copy now.
    s.on_message(t0 + 100ms + k.stall, 1, PeerRequestChunk{"f", 0, 512, 512});
    EXPECT_EQ(answers(s).rejected, (Sent{{1, 0}}));
  }
  // Rate unknown and no first_copy_stall_time (the default): a first copy stays promised.
  Origin origin(Origin::config(3));
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 512});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));
  s.on_message(t0 + 60s, 2, PeerRequestChunk{"f", 0, 0, 512});
  EXPECT_EQ(answers(s).rejected, (Sent{{2, 0}}));
}

TEST(UploadServer, ARejectedChunkTakesTheDownloadersQueuedBlocksOfItAlong) {
  // 2 asked for the first block of chunk 0 while its link was busy with chunk 1, then for the
  // second block once 1 had begun chunk 0's first copy: that one is rejected, and 2 drops every
  // request for chunk 0 at this origin. Its queued first block must go too: served later (1's
  // connection closes and the chunk is free again), it would leave 2 half a chunk it no longer
  // asks this peer to finish, while everyone else is told to ask for another.
  UploadConfig config = Origin::config(3);
  config.out_time = Duration::zero();  // one chunk's worth between read and sent
  Origin origin(config);
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
  s.on_message(t0, 2, PeerRequestChunk{"f", 1, 0, 512});
  s.on_message(t0, 2, PeerRequestChunk{"f", 1, 512, 512});
  s.on_message(t0, 2, PeerRequestChunk{"f", 0, 0, 512});  // waits: 2's link is full
  EXPECT_EQ(answers(s).read, (Sent{{2, 1}, {2, 1}}));
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 512});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));
  s.on_message(t0, 2, PeerRequestChunk{"f", 0, 512, 512});
  EXPECT_EQ(answers(s).rejected, (Sent{{2, 0}}));

  s.on_closed(t0 + 100ms, 1);
  for (std::uint32_t offset : {0u, 512u}) {
    s.on_read(t0 + 100ms, 2, "f", 1, offset,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(512))));
    s.on_sent(t0 + 100ms, 2);
  }
  EXPECT_TRUE(answers(s).read.empty());
}

TEST(UploadServer, AFirstCopyWhoseReadFailedGoesToTheNextDownloaderThatAsks) {
  // 1's chunk 0 cannot be read: 1 is told so, and the chunk reached nobody, so 2 gets it when
  // it asks instead of being told to ask for another while 1's copy never comes.
  Origin origin(3);
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
  s.on_message(t0, 1, PeerRequestChunk{"f", 0, 0, 0});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}}));
  s.on_read(t0, 1, "f", 0, 0, StoreResult::failed(make_error(ErrorCode::IoError, "disk gone")));
  answers(s);

  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 0, 0, 0});
  const auto a = answers(s);
  EXPECT_TRUE(a.rejected.empty());
  EXPECT_EQ(a.read, (Sent{{2, 0}}));
}

TEST(UploadServer, AChunkAnyDownloaderReportsIsOutAndEndsTheSpreading) {
  // Chunks 0-2 leave whole; chunk 3's first copy is cut off with 1's connection. 3 then says
  // it verified chunk 3 (it got it elsewhere): every chunk is in the swarm, the spreading is
  // over, and 2 gets the chunk 0 it asks for. Counting only what the first recipient reports,
  // the origin would refuse every chunk it ever sent, for good.
  Origin origin(3);
  UploadServer& s = origin.server;
  ASSERT_NO_FATAL_FAILURE(origin.three_served_one_turned_away());
  for (ConnId c : {1, 2, 3}) {
    const auto index = static_cast<std::uint32_t>(c - 1);
    s.on_message(t0, c, PeerRequestChunk{"f", index, 0, 0});
    s.on_read(t0, c, "f", index, 0,
              StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(1024))));
    s.on_sent(t0, c);
  }
  s.on_message(t0, 1, PeerRequestChunk{"f", 3, 0, 0});
  EXPECT_EQ(answers(s).read, (Sent{{1, 0}, {2, 1}, {3, 2}, {1, 3}}));
  s.on_closed(t0 + 1s, 1);
  s.on_message(t0 + 1s, 2, PeerRequestChunk{"f", 0, 0, 0});
  EXPECT_EQ(answers(s).rejected, (Sent{{2, 0}}));  // chunk 3 is still awaited

  s.on_message(t0 + 2s, 3, PeerHave{"f", 3});
  s.on_message(t0 + 2s, 2, PeerRequestChunk{"f", 0, 0, 0});
  const auto a = answers(s);
  EXPECT_TRUE(a.rejected.empty());
  EXPECT_EQ(a.read, (Sent{{2, 0}}));
}

// One slot, three downloaders waiting; each turn is one chunk (unless a test sets other turns).
// Serves the whole chunk to `conn` (its reads and their departure) and returns who is unchoked
// next.
struct OneSlotSeed {
  FileInfo file;
  ChunkSet have;
  UploadServer server;

  explicit OneSlotSeed(bool behind_first) : OneSlotSeed(config(behind_first)) {}
  explicit OneSlotSeed(const UploadConfig& c)
      : file(make_file_info("f", 4 * 1024, 1024, std::vector<Digest>(4))),
        have(4),
        server(c, [this](const std::string& name) {
          return name == "f" ? UploadServer::Offered{&file, &have} : UploadServer::Offered{};
        }) {
    for (std::uint32_t i = 0; i < 4; ++i) have.insert(i);
  }
  static UploadConfig config(bool behind_first) {
    UploadConfig c;
    c.slots = 1;
    c.optimistic_slot = false;
    c.turn_chunks = 1;
    c.spread_first_copies = false;
    c.behind_first = behind_first;
    return c;
  }
  /// The connections unchoked by what the server did since the last call.
  std::vector<ConnId> unchoked() {
    std::vector<ConnId> out;
    while (auto a = server.poll_action()) {
      if (auto* m = std::get_if<act::SendMessage>(&*a)) {
        if (std::holds_alternative<PeerUnchoke>(m->message)) out.push_back(m->conn);
      }
      if (auto* r = std::get_if<act::ReadChunk>(&*a)) reads.push_back(*r);
    }
    return out;
  }
  std::vector<ConnId> serve_chunk(Time now, ConnId conn, std::uint32_t index = 0) {
    server.on_message(now, conn, PeerRequestChunk{"f", index, 0, 0});
    std::vector<ConnId> next = unchoked();
    EXPECT_EQ(reads.size(), 1u);
    for (auto r : std::exchange(reads, {})) {
      server.on_read(now, r.conn, r.name, r.index, r.offset,
                     StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(r.length))));
    }
    for (auto c : unchoked()) next.push_back(c);
    server.on_sent(now, conn);
    for (auto c : unchoked()) next.push_back(c);
    return next;
  }
  std::vector<act::ReadChunk> reads;
};

TEST(UploadServer, ASlotGoesToTheDownloaderFurthestBehind) {
  for (const bool behind_first : {true, false}) {
    SCOPED_TRACE(behind_first ? "behind first" : "served least first");
    OneSlotSeed seed(behind_first);
    auto& s = seed.server;
    for (ConnId c : {1, 2, 3}) ASSERT_TRUE(s.on_accepted(t0, c));
    s.on_message(t0, 1, PeerInterested{"f", 3});  // the slot is free: it is 1's at once
    s.on_message(t0, 2, PeerInterested{"f", 3});
    s.on_message(t0, 3, PeerInterested{"f", 1});
    EXPECT_EQ(seed.unchoked(), std::vector<ConnId>{1});

    // 1's turn ends with its chunk. 3 holds the fewest chunks; 2 was served as little, draws
    // lower than 3 at this server's seed (UploadConfig::seed, 1), and comes first only when
    // holdings do not count.
    EXPECT_EQ(seed.serve_chunk(t0 + 1s, 1), std::vector<ConnId>{behind_first ? 3u : 2u});
    if (!behind_first) continue;
    // 3 verified that chunk (2 now) and 2 got two elsewhere (5): 3 is still furthest behind
    // and keeps the slot for another turn ...
    s.on_message(t0 + 1s, 3, PeerHave{"f", 0});
    s.on_message(t0 + 1s, 2, PeerHave{"f", 1});
    s.on_message(t0 + 1s, 2, PeerHave{"f", 2});
    EXPECT_TRUE(seed.serve_chunk(t0 + 2s, 3).empty());
    // ... after which it holds as many as 1, which was served less: 1 is next.
    s.on_message(t0 + 2s, 3, PeerHave{"f", 1});
    EXPECT_EQ(seed.serve_chunk(t0 + 3s, 3), std::vector<ConnId>{1});
    // 1 verified its chunk and one from elsewhere, 3 two from elsewhere: all three hold 5,
    // and 2, served least, has its turn at last.
    s.on_message(t0 + 3s, 1, PeerHave{"f", 0});
    s.on_message(t0 + 3s, 1, PeerHave{"f", 3});
    s.on_message(t0 + 3s, 3, PeerHave{"f", 2});
    s.on_message(t0 + 3s, 3, PeerHave{"f", 3});
    EXPECT_EQ(seed.serve_chunk(t0 + 4s, 1), std::vector<ConnId>{2});
  }
}

TEST(UploadServer, ATurnIsOneChunkWhileADownloaderThatHoldsNothingWaits) {
  // Turns of two chunks. 1 has the slot; 2 waits. If 2 holds nothing, 1's turn ends with its
  // first chunk: 2's first chunk makes it a source, 1's second would not make 1 more of one.
  struct Case {
    bool newcomers_first;
    std::uint32_t second_holds;
    bool one_chunk_turn;
  };
  for (const auto& [newcomers_first, second_holds, one_chunk_turn] :
       {Case{true, 0, true}, Case{true, 1, false}, Case{false, 0, false}}) {
    SCOPED_TRACE(std::string(newcomers_first ? "newcomers first, " : "off, ") + "2 holds " +
                 std::to_string(second_holds));
    UploadConfig c = OneSlotSeed::config(true);
    c.turn_chunks = 2;
    c.newcomers_first = newcomers_first;
    OneSlotSeed seed(c);
    auto& s = seed.server;
    for (ConnId conn : {1, 2}) ASSERT_TRUE(s.on_accepted(t0, conn));
    s.on_message(t0, 1, PeerInterested{"f", 0, 8'000'000});
    s.on_message(t0, 2, PeerInterested{"f", second_holds, 8'000'000});
    ASSERT_EQ(seed.unchoked(), std::vector<ConnId>{1});
    const auto after_one = seed.serve_chunk(t0 + 1s, 1, 0);
    if (one_chunk_turn) {
      EXPECT_EQ(after_one, std::vector<ConnId>{2});
      continue;
    }
    EXPECT_TRUE(after_one.empty());
    EXPECT_EQ(seed.serve_chunk(t0 + 2s, 1, 1), std::vector<ConnId>{2});
  }
}

TEST(UploadServer, UnderstatingWhatItHoldsBuysADownloaderNoMoreThanWhatItGotHere) {
  // 1 says it holds nothing and never confirms a chunk; 2 honestly holds 2. Each chunk the
  // server sends 1 counts for 1 anyway, so after two of them 2 has its turn: a liar ranks no
  // better than a downloader that holds only what it got here.
  OneSlotSeed seed(true);
  auto& s = seed.server;
  for (ConnId c : {1, 2}) ASSERT_TRUE(s.on_accepted(t0, c));
  s.on_message(t0, 1, PeerInterested{"f", 0});
  s.on_message(t0, 2, PeerInterested{"f", 2});
  EXPECT_EQ(seed.unchoked(), std::vector<ConnId>{1});
  EXPECT_TRUE(seed.serve_chunk(t0 + 1s, 1, 0).empty());  // 1 of 2: still behind
  EXPECT_EQ(seed.serve_chunk(t0 + 2s, 1, 1), std::vector<ConnId>{2});
  // 2 verifies its chunk (3): 1, at 2, is behind again.
  EXPECT_TRUE(seed.serve_chunk(t0 + 3s, 2, 2).empty());
  s.on_message(t0 + 3s, 2, PeerHave{"f", 2});
  EXPECT_EQ(seed.serve_chunk(t0 + 4s, 2, 3), std::vector<ConnId>{1});
}

TEST(UploadServer, AThinUplinkReadsAheadOnlyATenthOfASecondSoQueuedBlocksCanBeCancelled) {
  // One 64 KiB-block chunk of 512 KiB asked for whole. A 100 Mbit/s uplink takes it all at
  // once (a chunk per downloader); a 1 Mbit/s one reads two blocks (a tenth of a second is less),
  // and a cancel then takes back blocks that have not left.
  auto reads_ahead = [](std::uint64_t upload_bps) {
    FileInfo file = make_file_info("f", 512 * 1024, 512 * 1024, std::vector<Digest>(1));
    ChunkSet have(1);
    have.insert(0);
    UploadConfig c;
    c.upload_bps = upload_bps;
    c.spread_first_copies = false;
    UploadServer s(c, [&](const std::string& name) {
      return name == "f" ? UploadServer::Offered{&file, &have} : UploadServer::Offered{};
    });
    EXPECT_TRUE(s.on_accepted(t0, 1));
    s.on_message(t0, 1, PeerInterested{"f", 0});
    for (std::uint32_t b = 0; b < 8; ++b)
      s.on_message(t0, 1, PeerRequestChunk{"f", 0, b * 65536, 65536});
    std::vector<std::uint32_t> offsets;
    auto take_reads = [&] {
      while (auto a = s.poll_action()) {
        if (auto* r = std::get_if<act::ReadChunk>(&*a)) {
          offsets.push_back(r->offset);
          s.on_read(t0, r->conn, r->name, r->index, r->offset,
                    StoreResult::done(Payload::from_vector(std::vector<std::uint8_t>(r->length))));
        }
      }
    };
    take_reads();
    const auto first = offsets.size();
    // The downloader moved its last five blocks elsewhere; then every block read leaves.
    for (std::uint32_t b = 3; b < 8; ++b) {
      s.on_message(t0, 1, PeerCancelChunk{"f", 0, b * 65536});
    }
    for (std::size_t sent = 0; sent < offsets.size(); ++sent) {
      s.on_sent(t0 + 1s, 1);
      take_reads();
    }
    return std::make_pair(first, offsets);
  };
  const auto [fast_first, fast] = reads_ahead(100'000'000);
  EXPECT_EQ(fast_first, 8u);  // all read at once: the cancels came too late for any
  const auto [thin_first, thin] = reads_ahead(1'000'000);
  EXPECT_EQ(thin_first, 2u);
  // The one block still asked for is read as the others leave, and none that were cancelled.
  EXPECT_EQ(thin, (std::vector<std::uint32_t>{0, 65536, 131072}));
}

TEST(UploadServer, LoadCountsQueuedBytesAndUnchokedDownloadersThatAskNothing) {
  Origin o(3);  // four slots: all three unchoked
  for (ConnId c : {1, 2, 3}) ASSERT_TRUE(o.server.on_accepted(t0, c));
  for (ConnId c : {1, 2, 3}) o.server.on_message(t0, c, PeerInterested{"f", 0});
  EXPECT_EQ(unchoked_by(o.server).size(), 3u);
  EXPECT_EQ(o.server.load().unchoked_asking_none, 3u);
  EXPECT_EQ(o.server.load().queued_bytes, 0u);
  // 1 asks for three chunks: the first is read at once (a chunk per downloader between read
  // and sent), two wait.
  for (std::uint32_t i = 0; i < 3; ++i)
    o.server.on_message(t0, 1, PeerRequestChunk{"f", i, 0, 1024});
  const auto reads = answers(o.server).read;
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(o.server.load().queued_bytes, 2048u);
  EXPECT_EQ(o.server.load().unchoked_asking_none, 2u);
  // A downloader that loses interest no longer counts as one that could use the uplink.
  o.server.on_message(t0, 3, PeerNotInterested{"f"});
  EXPECT_EQ(o.server.load().unchoked_asking_none, 1u);
}

TEST(UploadServer, AnOriginServesAFewOfTheFastestUploadersWhenTheirRatesDiffer) {
  // A 50 Mbit/s origin and twelve downloaders that say their upload rates as they become
  // interested, in this order: what it sends them is passed on at those rates.
  auto unchoked_among = [](std::vector<std::uint64_t> rates, bool fastest_first) {
    UploadConfig c = Origin::config(20);
    c.slots = 0;  // sized from the uplink
    c.upload_bps = 50'000'000;
    c.fastest_first = fastest_first;
    c.newcomer_slots = 0;  // all of them hold nothing; the slots are what is tried here
    Origin o(c);
    for (ConnId id = 1; id <= rates.size(); ++id) {
      EXPECT_TRUE(o.server.on_accepted(t0, id));
      o.server.on_message(t0, id, PeerInterested{"f", 0, rates[id - 1]});
    }
    return unchoked_by(o.server);
  };
  // Three at 40 Mbit/s, then nine at 1: slots of a quarter of the spread (9.75 Mbit/s) once
  // the slow ones come, so five and the optimistic one: the fast three and three slow.
  std::vector<std::uint64_t> mixed(3, 40'000'000);
  mixed.insert(mixed.end(), 9, 1'000'000);
  EXPECT_EQ(unchoked_among(mixed, true), (std::vector<ConnId>{1, 2, 3, 4, 5, 6}));
  // Off: a slot per 2 Mbit/s, everyone at once.
  EXPECT_EQ(unchoked_among(mixed, false).size(), 12u);
  // Equal downloaders: nothing changes.
  EXPECT_EQ(unchoked_among(std::vector<std::uint64_t>(12, 8'000'000), true).size(), 12u);
  // Slow ones first: each is unchoked as it comes (there is no spread yet), and the fast ones
  // wait for the first turns to end (turn_chunks) instead of taking a slot at once.
  std::vector<std::uint64_t> slow_first(9, 1'000'000);
  slow_first.insert(slow_first.end(), 3, 40'000'000);
  EXPECT_EQ(unchoked_among(slow_first, true).size(), 9u);
}

TEST(UploadServer, ASeedsRechokeGivesTheFastestUploadersTheRegularSlots) {
  // Slots by rechoke (no turns): nine downloaders at 1 Mbit/s take slots as they come, three
  // at 40 Mbit/s come last; at the next rechoke the fast three hold slots.
  UploadConfig c = Origin::config(20);
  c.slots = 0;
  c.upload_bps = 50'000'000;
  c.turn_chunks = 0;
  c.newcomer_slots = 0;  // all of them hold nothing; the slots are what is tried here
  Origin o(c);
  for (ConnId id = 1; id <= 12; ++id) {
    ASSERT_TRUE(o.server.on_accepted(t0, id));
    o.server.on_message(t0, id, PeerInterested{"f", 0, id <= 9 ? 1'000'000u : 40'000'000u});
  }
  EXPECT_EQ(unchoked_by(o.server).size(), 9u);
  o.server.on_deadline(t0 + c.rechoke_interval);
  EXPECT_EQ(unchoked_by(o.server), (std::vector<ConnId>{10, 11, 12}));
}

TEST(UploadServer, ASourceServesFewAtOnceWhileADownloaderThatHoldsNothingWaits) {
  // Six regular slots and the optimistic one; ten interested downloaders.
  auto unchoked_when = [](std::uint32_t each_holds, std::uint32_t newcomer_slots) {
    UploadConfig c = Origin::config(20);
    c.slots = 6;
    c.newcomer_slots = newcomer_slots;
    Origin o(c);
    for (ConnId id = 1; id <= 10; ++id) {
      EXPECT_TRUE(o.server.on_accepted(t0, id));
      o.server.on_message(t0, id, PeerInterested{"f", each_holds, 8'000'000});
    }
    return unchoked_by(o.server).size();
  };
  // Newcomers wait: three and the optimistic one, so each chunk out leaves sooner.
  EXPECT_EQ(unchoked_when(0, 3), 4u);
  EXPECT_EQ(unchoked_when(0, 0), 7u);  // no such limit
  // Everyone holds something: every slot.
  EXPECT_EQ(unchoked_when(1, 3), 7u);
}

TEST(UploadServer, DownloadersThatRankTheSameGetSlotsInAnOrderEachSourceDraws) {
  // Twelve equal newcomers connect to several sources in the same order (as they do in a flash
  // crowd: the nearest first). Each source has three slots to give among the nine that wait:
  // not to the same three at every source, or they would all serve the same newcomers while
  // the rest wait for anyone.
  auto chosen_by = [](std::uint64_t seed) {
    UploadConfig c = Origin::config(20);
    c.slots = 3;
    c.newcomer_slots = 3;  // all three, though newcomers wait
    c.optimistic_slot = false;
    c.seed = seed;
    Origin o(c);
    for (ConnId id = 1; id <= 12; ++id) {
      EXPECT_TRUE(o.server.on_accepted(t0, id));
      o.server.on_message(t0, id, PeerInterested{"f", 0});
    }
    // The first three took the slots as they came; when they go, nine wait for three slots.
    EXPECT_EQ(unchoked_by(o.server), (std::vector<ConnId>{1, 2, 3}));
    for (ConnId id = 1; id <= 3; ++id) o.server.on_message(t0 + 1s, id, PeerNotInterested{"f"});
    auto chosen = unchoked_by(o.server);
    std::sort(chosen.begin(), chosen.end());
    return chosen;
  };
  std::set<std::vector<ConnId>> distinct;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const auto chosen = chosen_by(seed);
    EXPECT_EQ(chosen.size(), 3u);
    EXPECT_EQ(chosen, chosen_by(seed));  // the same seed, the same choice
    distinct.insert(chosen);
  }
  EXPECT_GE(distinct.size(), 4u);
}

}  // namespace
}  // namespace swarmlab::testing

// The upload server on its own, with a fake clock: who may hold its connections.
#include "swarmlab/upload_server.hpp"

#include <gtest/gtest.h>

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
  c.idle_timeout = 30s;
  c.evict_silent_after = 10s;
  return UploadServer(c, [](const std::string&) { return UploadServer::Offered{}; });
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

}  // namespace
}  // namespace swarmlab::testing

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
  ASSERT_TRUE(s.on_accepted(t0, 1));  // says nothing, ever
  ASSERT_TRUE(s.on_accepted(t0, 2));  // pings like a downloader
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

}  // namespace
}  // namespace swarmlab::testing

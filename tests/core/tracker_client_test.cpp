// The tracker client alone, driven by hand with a fake clock: registration, answers matched to
// their requests, silence, and reconnects with backoff.
#include "swarmlab/tracker_client.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace swarmlab {
namespace {

namespace act = tracker_action;

struct Harness {
  Rng rng{7};
  TrackerClient client{TrackerClientConfig{}, rng};
  Time now{};
  ConnId next_conn = 100;
  std::vector<TrackerAction> seen;

  /// Drains the client's actions, binding a fresh connection for every Connect.
  std::vector<TrackerAction> drain() {
    std::vector<TrackerAction> out;
    while (auto a = client.poll_action()) {
      if (std::holds_alternative<act::Connect>(*a)) client.bind(++next_conn);
      out.push_back(std::move(*a));
    }
    return out;
  }
  template <typename T>
  static std::vector<T> of(const std::vector<TrackerAction>& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
      if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
    }
    return out;
  }
  /// The request id of the last message sent.
  static std::uint32_t last_req(const std::vector<TrackerAction>& actions) {
    const auto sent = of<act::SendMessage>(actions);
    return std::visit(
        [](const auto& m) -> std::uint32_t {
          if constexpr (requires { m.req; }) {
            return m.req;
          } else {
            return 0;
          }
        },
        sent.back().message);
  }
  void register_online() {
    client.on_connected(now, RequestRegistry{0, kProtocolVersion, "p", {}});
    const auto req = last_req(drain());
    client.on_message(now, ReplyRegistry{req, kProtocolVersion, Endpoint{"10.0.0.2", 1}});
  }
};

TEST(TrackerClient, RegistersThenMatchesAnswersToTheirRequests) {
  Harness h;
  h.client.start(h.now, Endpoint{"10.0.0.1", 7000});
  ASSERT_EQ(Harness::of<act::Connect>(h.drain()).size(), 1u);
  h.register_online();
  const auto online = Harness::of<act::Online>(h.drain());
  ASSERT_EQ(online.size(), 1u);
  EXPECT_FALSE(online[0].regained);
  EXPECT_TRUE(h.client.online());

  h.client.request(TrackerRequest::Location, "a", RequestFileLocation{0, "a"});
  const auto req_a = Harness::last_req(h.drain());
  h.client.request(TrackerRequest::Location, "b", RequestFileLocation{0, "b"});
  const auto req_b = Harness::last_req(h.drain());
  ASSERT_NE(req_a, req_b);
  // Answered out of order, and one answer nobody asked for: ignored.
  h.client.on_message(h.now, ErrorMessage{req_b, ErrorCode::NotFound, "no such file", ""});
  h.client.on_message(h.now, ReplyFileLocation{999, {}, {}});
  h.client.on_message(h.now, ReplyFileLocation{req_a, {}, {}});
  const auto out = h.drain();
  const auto refused = Harness::of<act::Refused>(out);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].name, "b");
  EXPECT_EQ(refused[0].error.code, ErrorCode::NotFound);
  const auto answers = Harness::of<act::Answer>(out);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].name, "a");
}

TEST(TrackerClient, SilenceLosesTheSessionAndReconnectsWithGrowingJitteredBackoff) {
  Harness h;
  h.client.start(h.now, Endpoint{"10.0.0.1", 7000});
  h.drain();
  h.register_online();
  h.drain();
  h.client.request(TrackerRequest::FilesList, {}, RequestFilesList{});
  h.drain();
  // Keep-alives go out; with no word back for 30 s, the session is lost.
  std::vector<TrackerAction> out;
  while (h.client.online()) {
    h.now = *h.client.next_deadline();
    h.client.on_deadline(h.now);
    for (auto& a : h.drain()) out.push_back(std::move(a));
  }
  EXPECT_GE(h.now - Time{}, TrackerClientConfig{}.tracker_timeout);
  EXPECT_EQ(Harness::of<act::Offline>(out).size(), 1u);
  EXPECT_EQ(Harness::of<act::Unanswered>(out).size(), 1u) << "the files list was never answered";
  EXPECT_TRUE(Harness::of<act::Failed>(out).empty()) << "it had been online: it tries again";
  // Each failed attempt waits about twice as long as the one before (+-20 %), up to 30 s.
  Duration expected = TrackerClientConfig{}.reconnect_min;
  for (int attempt = 0; attempt < 7; ++attempt) {
    const Time lost_at = h.now;
    const auto next = h.client.next_deadline();
    ASSERT_TRUE(next);
    const double wait = to_seconds(*next - lost_at);
    EXPECT_GE(wait, 0.8 * to_seconds(expected) - 1e-9) << "attempt " << attempt;
    EXPECT_LE(wait, 1.2 * to_seconds(expected) + 1e-9) << "attempt " << attempt;
    h.now = *next;
    h.client.on_deadline(h.now);
    ASSERT_EQ(Harness::of<act::Connect>(h.drain()).size(), 1u);
    h.client.on_closed(h.now, "refused");
    h.drain();
    expected = std::min(expected * 2, TrackerClientConfig{}.reconnect_max);
  }
  // Back online: the next loss starts from the shortest wait again, and says it regained.
  h.now = *h.client.next_deadline();
  h.client.on_deadline(h.now);
  h.drain();
  h.register_online();
  const auto online = Harness::of<act::Online>(h.drain());
  ASSERT_EQ(online.size(), 1u);
  EXPECT_TRUE(online[0].regained);
  const Time lost_at = h.now;
  h.client.on_closed(h.now, "reset");
  h.drain();
  EXPECT_LE(to_seconds(*h.client.next_deadline() - lost_at),
            1.2 * to_seconds(TrackerClientConfig{}.reconnect_min) + 1e-9);
}

TEST(TrackerClient, ATrackerThatCannotBeReachedOnceIsReportedNotRetried) {
  Harness h;
  ASSERT_TRUE(h.client.connect(h.now, Endpoint{"10.0.0.1", 7000}).ok());
  EXPECT_EQ(h.client.connect(h.now, Endpoint{"10.0.0.1", 7000}).error().code,
            ErrorCode::AlreadyConnected);
  h.drain();
  h.client.on_closed(h.now, "connection refused");
  const auto out = h.drain();
  const auto failed = Harness::of<act::Failed>(out);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].error.message.find("connection refused"), std::string::npos);
  EXPECT_FALSE(h.client.next_deadline()) << "no retry was scheduled";
}

TEST(TrackerClient, ATrackerThatNeverAnswersIsGivenUpOnAndRetriedVisibly) {
  Harness h;
  h.client.start(h.now, Endpoint{"10.0.0.1", 7000});
  h.drain();
  // The connect succeeds, the registration goes out, and nothing ever comes back.
  h.client.on_connected(h.now, RequestRegistry{0, kProtocolVersion, "p", {}});
  h.drain();
  ASSERT_TRUE(h.client.next_deadline());
  EXPECT_EQ(*h.client.next_deadline(), h.now + 10s);
  h.now += 10s;
  h.client.on_deadline(h.now);
  auto out = h.drain();
  EXPECT_EQ(Harness::of<act::CloseConnection>(out).size(), 1u);
  auto logs = Harness::of<act::Log>(out);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].type, "tracker_unreachable");
  EXPECT_EQ(logs[0].fields["reason"], "no answer within 10.00 s");
  EXPECT_GT(logs[0].fields["retry_in_s"].get<double>(), 0.5);
  EXPECT_EQ(h.client.state(), TrackerClient::State::Disconnected);
  // It tries again after the backoff; a connect that never completes is given up on too.
  h.now = *h.client.next_deadline();
  h.client.on_deadline(h.now);
  ASSERT_EQ(Harness::of<act::Connect>(h.drain()).size(), 1u);
  h.now += 10s;
  h.client.on_deadline(h.now);
  logs = Harness::of<act::Log>(h.drain());
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].fields["reason"], "no connection within 10.00 s");
  // A one-off connect (the terminal's `connect`) says it failed instead of retrying.
  Harness once;
  ASSERT_TRUE(once.client.connect(once.now, Endpoint{"10.0.0.1", 7000}).ok());
  once.drain();
  once.now += 10s;
  once.client.on_deadline(once.now);
  const auto failed = Harness::of<act::Failed>(once.drain());
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].error.message.find("no connection within 10.00 s"), std::string::npos);
}

TEST(TrackerClient, RegistrationsAreBatchedAndDroppedWhenWithdrawn) {
  Harness h;
  h.client.start(h.now, Endpoint{"10.0.0.1", 7000});
  h.drain();
  h.register_online();
  h.drain();
  for (std::uint32_t i : {3u, 4u, 5u, 9u}) h.client.register_chunk(h.now, "f", i, 16);
  h.client.register_chunk(h.now, "g", 1, 4);
  h.client.unregister("g", {});
  EXPECT_TRUE(Harness::of<act::SendMessage>(h.drain()).size() == 1u) << "only the unregister";
  h.now = *h.client.next_deadline();
  h.client.on_deadline(h.now);
  const auto sent = Harness::of<act::SendMessage>(h.drain());
  ASSERT_EQ(sent.size(), 1u);
  const auto* reg = std::get_if<RequestChunksRegister>(&sent[0].message);
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->name, "f");
  EXPECT_EQ(reg->chunks, (std::vector<ChunkRange>{{3, 5}, {9, 9}}));
}

}  // namespace
}  // namespace swarmlab

// AsioHost::stop on real loopback sockets: the "flushed" callback comes once every connection
// has closed (and at once when there is none), so a program ends as soon as its last words are
// out rather than after a fixed grace period.
#include "realnet/asio_host.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "swarmlab/peer.hpp"
#include "swarmlab/tracker.hpp"

namespace swarmlab::realnet {
namespace {

using namespace std::chrono_literals;

// Runs handlers until `done` holds or five seconds pass; true if `done` held.
bool run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(10ms);
  }
  return done();
}

struct TrackerHost {
  Tracker tracker{TrackerConfig{}};
  AsioHost host;
  Endpoint at;
  std::vector<Event> events;
  TrackerHost(asio::io_context& io, std::shared_ptr<BufferPool> pool)
      : host(io, tracker, nullptr, std::move(pool)) {
    host.on_record([this](const Event& e) { events.push_back(e); });
    at = host.listen(Endpoint{"127.0.0.1", 0}).value();
    host.start();
  }
  bool saw(const std::string& type) const {
    for (const auto& e : events) {
      if (e.type == type) return true;
    }
    return false;
  }
};

TEST(AsioHostStop, FlushedComesAtOnceWithoutConnections) {
  asio::io_context io;
  TrackerHost t(io, BufferPool::create());
  bool flushed = false;
  t.host.stop([&] { flushed = true; });
  EXPECT_FALSE(flushed) << "the callback runs on the io_context, not inside stop()";
  EXPECT_TRUE(run_until(io, [&] { return flushed; }));
}

TEST(AsioHostStop, FlushedComesOnceAnAcceptedConnectionIsClosed) {
  asio::io_context io;
  TrackerHost t(io, BufferPool::create());
  asio::ip::tcp::socket client(io);
  client.connect({asio::ip::make_address("127.0.0.1"), t.at.port});
  ASSERT_TRUE(run_until(io, [&] { return t.host.connections() == 1; }));

  bool flushed = false;
  t.host.stop([&] { flushed = true; });
  ASSERT_TRUE(run_until(io, [&] { return flushed; }));
  // The host's side is closed by then: the client reads the end of the stream.
  std::array<char, 16> buf{};
  boost::system::error_code ec;
  client.read_some(asio::buffer(buf), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(AsioHostStop, APeerEndsOnceTheTrackerConnectionIsClosedAndTheTrackerSeesItLeave) {
  asio::io_context io;
  auto pool = BufferPool::create();
  TrackerHost t(io, pool);
  PeerConfig config;
  config.peer_id = "leaving";
  config.tracker = t.at;
  Peer peer(config);
  AsioHost host(io, peer, nullptr, pool);
  host.start();
  ASSERT_TRUE(run_until(io, [&] { return t.saw("peer_joined"); }));

  bool flushed = false;
  host.command([&](Time now) { peer.shutdown(now); });
  host.stop([&] { flushed = true; });
  ASSERT_TRUE(run_until(io, [&] { return flushed; }));
  EXPECT_EQ(host.connections(), 0U);
  EXPECT_TRUE(run_until(io, [&] { return t.saw("peer_left"); }));
}

TEST(AsioHostStop, AConnectionThatFailedToOpenDoesNotHoldUpTheEnd) {
  asio::io_context io;
  // A port with nothing listening: bound, then closed again.
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto closed_port = probe.local_endpoint().port();
  probe.close();
  PeerConfig config;
  config.tracker = Endpoint{"127.0.0.1", closed_port};
  Peer peer(config);
  AsioHost host(io, peer, nullptr, BufferPool::create());
  host.start();
  ASSERT_EQ(host.connections(), 1U) << "connecting to the tracker";
  // Refused: the session is dropped without ever having had an open socket to close.
  ASSERT_TRUE(run_until(io, [&] { return host.connections() == 0; }));

  bool flushed = false;
  host.stop([&] { flushed = true; });
  EXPECT_TRUE(run_until(io, [&] { return flushed; }));
}

}  // namespace
}  // namespace swarmlab::realnet

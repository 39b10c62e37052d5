#pragma once
// Drives one core node on one io_context: TCP accept/connect (IPv4 and IPv6), a write
// queue per connection (not read while more than 4 MiB of replies wait to be sent), bytes handed
// to the node (payloads read straight into pooled buffers), chunks sent from their files with
// sendfile, one steady_timer at the node's next deadline, and store operations on a small worker
// pool whose results come back to the io_context thread (store reads, a lookup only, run on that
// thread). Protocol logic never leaves that thread.
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "realnet/asio.hpp"
#include "realnet/buffer_pool.hpp"
#include "realnet/file_store.hpp"
#include "swarmlab/node.hpp"

namespace swarmlab::realnet {

namespace asio = boost::asio;

class AsioHost {
 public:
  using EventSink = std::function<void(const Event&)>;
  using NoticeSink = std::function<void(const Notice&)>;

  /// `store` may be null for a node that stores nothing (the tracker).
  AsioHost(asio::io_context& io, Node& node, std::shared_ptr<FileStore> store,
           std::shared_ptr<BufferPool> pool);
  ~AsioHost();
  AsioHost(const AsioHost&) = delete;
  AsioHost& operator=(const AsioHost&) = delete;

  void on_record(EventSink sink) { record_sink_ = std::move(sink); }
  void on_notice(NoticeSink sink) { notice_sink_ = std::move(sink); }

  /// Binds and listens; returns the bound address (port 0 picks a free port).
  Result<Endpoint> listen(const Endpoint& at);
  bool listening() const { return acceptor_.is_open(); }
  void start();
  /// Runs a command on the node now, then carries out what it asked for.
  void command(const std::function<void(Time)>& fn);
  Time now() const;
  /// Where this node's clock reads 0 (default: when the host was made). Several programs
  /// given one epoch write events on one timeline (swarm-emu). Call before start().
  void set_epoch(std::chrono::steady_clock::time_point epoch) { epoch_ = epoch; }
  /// Stops accepting, cancels timers, and closes every connection once what the node queued
  /// on it is sent (a goodbye to the tracker). `flushed`, if given, runs on the io_context
  /// when the last connection is closed, so a program can end then rather than after a guess.
  void stop(std::function<void()> flushed = {});
  std::size_t connections() const { return sessions_.size(); }

 private:
  class Session;
  void accept_next();
  void drain();
  void rearm();
  void handle(Effect e);
  void do_connect(const Connect& c);
  void session_closed(ConnId id, CloseReason reason);
  void socket_released();
  void post_flushed_when_done();
  template <typename Op>
  void run_store(Op op);

  asio::io_context& io_;
  Node& node_;
  std::shared_ptr<FileStore> store_;
  std::shared_ptr<BufferPool> pool_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::resolver resolver_;
  asio::thread_pool workers_;
  asio::steady_timer wake_;  // at the node's next deadline
  // Out of descriptors (EMFILE and the like) the listening socket stays readable, so
  // accepting again at once would spin: accepts pause, for longer each time, until one works.
  asio::steady_timer accept_pause_;
  std::chrono::milliseconds accept_backoff_{0};
  std::optional<Time> wake_at_;
  std::chrono::steady_clock::time_point epoch_;
  std::map<ConnId, std::shared_ptr<Session>> sessions_;
  ConnId next_accepted_ = 1;
  std::size_t open_sockets_ = 0;  // sessions whose socket is not closed yet, listed or not
  std::function<void()> flushed_;
  bool draining_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  EventSink record_sink_;
  NoticeSink notice_sink_;
};

}  // namespace swarmlab::realnet

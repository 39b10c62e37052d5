#include "realnet/asio_host.hpp"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <utility>

namespace swarmlab::realnet {

using asio::ip::tcp;

namespace {
// IPv4 peers reaching a dual-stack listener appear as ::ffff:a.b.c.d; show them as a.b.c.d.
std::string address_text(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}
}  // namespace

// One TCP connection: its socket and a write queue. What arrives goes to the node, which
// decodes it.
class AsioHost::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(AsioHost& host, ConnId id, tcp::socket socket)
      : host_(host), host_alive_(host.alive_), id_(id), socket_(std::move(socket)) {
    ++host_.open_sockets_;
  }
  ~Session() { release(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  tcp::socket& socket() { return socket_; }

  void start_reading() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);  // requests and pings are small and urgent
    read_more();
  }

  void send(RawFrame frame, bool report_sent) {
    if (closing_ || done_) return;
    queued_bytes_ += frame.header.size() + frame.payload.size();
    queue_.push_back(Out{encode_frame_prefix(static_cast<std::uint32_t>(frame.header.size()),
                                             static_cast<std::uint32_t>(frame.payload.size())),
                         std::move(frame), report_sent});
    if (!writing_) write_next();
  }

  /// The node is done with this connection: flush what it queued, then close.
  void close_after_flush() {
    closing_ = true;
    done_ = true;
    if (!writing_) shut();
  }

  /// Drop the connection now (shutdown of the host, or a failed connect).
  void abort() {
    done_ = true;
    closing_ = true;
    shut();
  }

 private:
  struct Out {
    std::array<std::uint8_t, kFramePrefixBytes> prefix;
    RawFrame frame;
    bool report_sent = false;
  };

  void shut() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    release();
  }

  // Tells the host this connection has nothing left to send: once, when its socket closes or
  // it is dropped, whichever comes first (and not once the host is gone).
  void release() {
    if (released_) return;
    released_ = true;
    if (*host_alive_) host_.socket_released();
  }

  void read_more() {
    // Inside a payload, read straight into its (pooled) buffer: no copy of chunk data.
    auto window = host_.node_.receive_window(id_);
    const bool direct = window.bytes.size() >= kReadBuffer / 4;
    auto buffer =
        direct ? asio::buffer(window.bytes.data(), window.bytes.size()) : asio::buffer(read_buf_);
    socket_.async_read_some(
        buffer, [self = shared_from_this(), direct, owner = std::move(window.owner)](
                    boost::system::error_code ec, std::size_t n) { self->on_read(ec, n, direct); });
  }

  void on_read(boost::system::error_code ec, std::size_t n, bool direct) {
    if (done_) return;
    if (ec) return fail(ec == asio::error::eof ? CloseReason::Normal : CloseReason::Reset);
    auto& node = host_.node_;
    if (direct) {
      node.on_received(host_.now(), id_, n);
    } else {
      node.on_bytes(host_.now(), id_, std::span(read_buf_.data(), n));
    }
    host_.drain();
    if (done_) return;  // the node closed us (or the stream broke framing)
    // Back-pressure: a peer that asks faster than it reads our replies stops being read
    // until its queue drains, so TCP flow control holds its requests, not our memory.
    if (queued_bytes_ > kHighWater) {
      reading_paused_ = true;
      return;
    }
    read_more();
  }

  void write_next() {
    if (queue_.empty()) {
      writing_ = false;
      if (closing_) shut();
      return;
    }
    writing_ = true;
    const Out& out = queue_.front();
    const auto& payload = out.frame.payload;
    if (const auto* region = dynamic_cast<const FileRegion*>(payload.external())) {
      // Header from memory, then the chunk straight from the file.
      std::array<asio::const_buffer, 2> head{asio::buffer(out.prefix),
                                             asio::buffer(out.frame.header)};
      asio::async_write(
          socket_, head,
          [self = shared_from_this(), region](boost::system::error_code ec, std::size_t) {
            if (ec) return self->write_done(ec);
            self->send_region(*region, 0);
          });
      return;
    }
    std::array<asio::const_buffer, 3> buffers{
        asio::buffer(out.prefix), asio::buffer(out.frame.header),
        asio::buffer(payload.bytes().data(), payload.bytes().size())};
    asio::async_write(socket_, buffers,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->write_done(ec);
                      });
  }

  // sendfile(2) on the non-blocking socket until the region is sent, waiting for the socket
  // to become writable in between, as in Asio's sendfile example.
  void send_region(const FileRegion& region, std::size_t sent) {
    if (!socket_.native_non_blocking()) {
      boost::system::error_code ec;
      socket_.native_non_blocking(true, ec);
      if (ec) return write_done(ec);
    }
    while (sent < region.length) {
      off_t offset = static_cast<off_t>(region.offset + sent);
      const ssize_t n =
          ::sendfile(socket_.native_handle(), region.file->fd(), &offset, region.length - sent);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this(), &region,
                                                     sent](boost::system::error_code ec) {
          if (ec) return self->write_done(ec);
          self->send_region(region, sent);
        });
        return;
      }
      // The frame promised more bytes than the file now has, or the disk failed: the
      // connection cannot continue (the other side sees it close and asks someone else).
      const int err = n == 0 ? 0 : errno;
      spdlog::warn("cannot send a chunk from disk: {}",
                   err == 0 ? "the file is shorter than when it was shared" : std::strerror(err));
      return write_done(asio::error::broken_pipe);
    }
    write_done({});
  }

  void write_done(boost::system::error_code ec) {
    const auto& sent = queue_.front();
    queued_bytes_ -= sent.frame.header.size() + sent.frame.payload.size();
    const bool report = sent.report_sent && !ec && !done_;
    queue_.pop_front();
    if (report) {
      host_.node_.on_sent(host_.now(), id_);
      host_.drain();  // may queue more here (written next) or close us (flushed, then shut)
    }
    if (reading_paused_ && queued_bytes_ < kLowWater && !done_) {
      reading_paused_ = false;
      read_more();
    }
    if (ec) {
      queue_.clear();
      writing_ = false;
      if (!done_) fail(CloseReason::Reset);
      return;
    }
    write_next();
  }

  void fail(CloseReason reason) {
    if (done_) return;
    done_ = true;
    shut();
    host_.session_closed(id_, reason);
  }

  // Small on purpose: whatever of a chunk lands here is copied once more into its payload
  // buffer (at most this much per chunk), and every connection carries one.
  static constexpr std::size_t kReadBuffer = 16 * 1024;
  // Queued reply bytes above which a connection is no longer read, and below which it is
  // read again: 8 chunks of 512 KiB, then 2.
  static constexpr std::size_t kHighWater = 4 << 20;
  static constexpr std::size_t kLowWater = 1 << 20;
  AsioHost& host_;
  std::shared_ptr<bool> host_alive_;
  ConnId id_;
  tcp::socket socket_;
  std::array<std::uint8_t, kReadBuffer> read_buf_{};
  std::deque<Out> queue_;
  std::size_t queued_bytes_ = 0;
  bool reading_paused_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool done_ = false;
  bool released_ = false;
};

AsioHost::AsioHost(asio::io_context& io, Node& node, std::shared_ptr<FileStore> store,
                   std::shared_ptr<BufferPool> pool)
    : io_(io),
      node_(node),
      store_(std::move(store)),
      pool_(std::move(pool)),
      acceptor_(io),
      resolver_(io),
      workers_(2),
      wake_(io),
      accept_pause_(io),
      epoch_(std::chrono::steady_clock::now()) {
  node_.set_payload_allocator([pool = pool_](std::size_t n) { return pool->acquire(n); });
  // sendfile(2) has no MSG_NOSIGNAL: a peer hanging up mid-chunk must give EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
}

AsioHost::~AsioHost() {
  stop();
  *alive_ = false;
  workers_.join();
}

Time AsioHost::now() const {
  return time_at(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - epoch_));
}

Result<Endpoint> AsioHost::listen(const Endpoint& at) {
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(at.host.empty() ? "0.0.0.0" : at.host, ec);
  if (ec)
    return make_error(ErrorCode::InvalidArgument,
                      "cannot listen on \"" + at.host + "\": not an IP address");
  const tcp::endpoint ep(addr, at.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return make_error(ErrorCode::IoError,
                      "cannot listen on " + at.to_string() + ": " + ec.message());
  }
  const auto bound = acceptor_.local_endpoint();
  accept_next();
  return Endpoint{address_text(bound.address()), bound.port()};
}

void AsioHost::accept_next() {
  acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, tcp::socket socket) {
    if (!*alive || stopped_ || !acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code rec;
      const auto remote = socket.remote_endpoint(rec);
      if (!rec) {
        const ConnId id = next_accepted_++;
        auto session = std::make_shared<Session>(*this, id, std::move(socket));
        sessions_[id] = session;
        session->start_reading();
        node_.on_accepted(now(), id, Endpoint{address_text(remote.address()), remote.port()});
        drain();
      }
    }
    const bool out_of_resources = ec == asio::error::no_descriptors || ec.value() == ENFILE ||
                                  ec == asio::error::no_buffer_space ||
                                  ec == asio::error::no_memory;
    if (!out_of_resources) {
      if (accept_backoff_.count() > 0) {
        spdlog::info("accepting connections again ({} open)", sessions_.size());
        accept_backoff_ = {};
      }
      return accept_next();
    }
    if (accept_backoff_.count() == 0) {
      spdlog::warn("cannot accept connections: {} ({} open); new clients wait until some close",
                   ec.message(), sessions_.size());
    }
    accept_backoff_ = std::clamp(2 * accept_backoff_, std::chrono::milliseconds(50),
                                 std::chrono::milliseconds(1000));
    accept_pause_.expires_after(accept_backoff_);
    accept_pause_.async_wait([this, alive = alive_](boost::system::error_code wait_ec) {
      if (*alive && !wait_ec && !stopped_) accept_next();
    });
  });
}

void AsioHost::start() {
  node_.on_start(now());
  drain();
}

void AsioHost::command(const std::function<void(Time)>& fn) {
  fn(now());
  drain();
}

void AsioHost::session_closed(ConnId id, CloseReason reason) {
  if (sessions_.erase(id) == 0) return;
  node_.on_closed(now(), id, reason);
  drain();
}

void AsioHost::drain() {
  if (draining_) return;  // effects of nested calls are drained by the outer loop
  draining_ = true;
  while (auto e = node_.poll_effect()) handle(std::move(*e));
  draining_ = false;
  if (!stopped_) rearm();
}

// One timer per node, at its next deadline.
void AsioHost::rearm() {
  const auto deadline = node_.next_deadline();
  if (deadline == wake_at_) return;
  wake_at_ = deadline;
  wake_.cancel();
  if (!deadline) return;
  wake_.expires_at(epoch_ + deadline->time_since_epoch());
  wake_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive || stopped_) return;
    wake_at_.reset();
    node_.on_deadline(now());
    drain();
  });
}

template <typename Op>
void AsioHost::run_store(Op op) {
  if (!store_) {
    auto r = StoreResult::failed(make_error(ErrorCode::IoError, "this node has no chunk store"));
    asio::post(io_, [this, alive = alive_, id = op.op, r = std::move(r)]() mutable {
      if (!*alive) return;
      node_.on_store_done(now(), id, std::move(r));
      drain();
    });
    return;
  }
  if constexpr (std::is_same_v<Op, StoreRead>) {
    // Serving a chunk only looks the file up (the bytes go out by sendfile): done here, so
    // that uploads never queue behind hashing, writes or a completion's fsync on the workers.
    asio::post(io_, [this, alive = alive_, id = op.op, r = store_->read(op)]() mutable {
      if (!*alive || stopped_) return;
      node_.on_store_done(now(), id, std::move(r));
      drain();
    });
    return;
  }
  asio::post(workers_, [this, alive = alive_, store = store_, op = std::move(op)]() mutable {
    StoreResult r;
    if constexpr (std::is_same_v<Op, StoreScan>) r = store->scan(op);
    if constexpr (std::is_same_v<Op, StoreOpen>) r = store->open(op);
    if constexpr (std::is_same_v<Op, StoreWrite>) r = store->write(op);
    if constexpr (std::is_same_v<Op, StoreFinalize>) r = store->finalize(op);
    asio::post(io_, [this, alive, id = op.op, r = std::move(r)]() mutable {
      if (!*alive || stopped_) return;
      node_.on_store_done(now(), id, std::move(r));
      drain();
    });
  });
}

void AsioHost::do_connect(const Connect& c) {
  auto session = std::make_shared<Session>(*this, c.conn, tcp::socket(io_));
  sessions_[c.conn] = session;
  resolver_.async_resolve(
      c.to.host, std::to_string(c.to.port),
      [this, alive = alive_, id = c.conn, session](boost::system::error_code ec,
                                                   tcp::resolver::results_type results) {
        if (!*alive || sessions_.count(id) == 0) return;
        if (ec) return session_closed(id, CloseReason::ConnectFailed);
        asio::async_connect(
            session->socket(), results,
            [this, alive, id, session](boost::system::error_code cec, const tcp::endpoint&) {
              if (!*alive || sessions_.count(id) == 0) return;
              if (cec) return session_closed(id, CloseReason::ConnectFailed);
              session->start_reading();
              node_.on_connected(now(), id);
              drain();
            });
      });
}

void AsioHost::handle(Effect e) {
  std::visit(
      [&](auto&& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Connect>) {
          do_connect(x);
        } else if constexpr (std::is_same_v<T, Send>) {
          if (auto it = sessions_.find(x.conn); it != sessions_.end())
            it->second->send(std::move(x.frame), x.report_sent);
        } else if constexpr (std::is_same_v<T, Close>) {
          if (auto it = sessions_.find(x.conn); it != sessions_.end()) {
            if (x.reset) {
              it->second->abort();
            } else {
              it->second->close_after_flush();
            }
            sessions_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, Record>) {
          if (record_sink_) record_sink_(x.event);
        } else if constexpr (std::is_same_v<T, Notify>) {
          if (notice_sink_) notice_sink_(x.notice);
        } else {
          run_store(std::move(x));
        }
      },
      std::move(e));
}

void AsioHost::socket_released() {
  --open_sockets_;
  post_flushed_when_done();
}

void AsioHost::post_flushed_when_done() {
  if (stopped_ && open_sockets_ == 0 && flushed_) asio::post(io_, std::exchange(flushed_, {}));
}

void AsioHost::stop(std::function<void()> flushed) {
  if (stopped_) return;
  stopped_ = true;
  flushed_ = std::move(flushed);
  boost::system::error_code ec;
  acceptor_.close(ec);
  accept_pause_.cancel();
  resolver_.cancel();
  // Flush what the node queued last (a goodbye to the tracker), then close.
  for (auto& [id, s] : sessions_) s->close_after_flush();
  sessions_.clear();
  wake_.cancel();
  if (store_) store_->flush_records();
  post_flushed_when_done();
}

}  // namespace swarmlab::realnet

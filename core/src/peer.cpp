#include "swarmlab/peer.hpp"

#include <algorithm>

#include "swarmlab/overloaded.hpp"
#include "swarmlab/swarm_name.hpp"
#include "swarmlab/units.hpp"

namespace swarmlab {

std::string_view to_string(Peer::TrackerState s) {
  switch (s) {
    case Peer::TrackerState::Disconnected:
      return "disconnected";
    case Peer::TrackerState::Connecting:
      return "connecting";
    case Peer::TrackerState::Registering:
      return "registering";
    case Peer::TrackerState::Online:
      return "online";
  }
  return "?";
}

Peer::Peer(PeerConfig config)
    : config_(std::move(config)),
      rng_(config_.seed),
      uploads_(config_.upload, [this](const std::string& name) -> UploadServer::Offered {
        const auto f = files_.find(name);
        if (f == files_.end()) return {};
        return {&f->second.info, &f->second.have};
      }) {
}
Peer::~Peer() = default;

void Peer::record(Time now, std::string type, nlohmann::json fields) {
  emit(Record{Event{now, config_.peer_id, std::move(type), std::move(fields)}});
}

void Peer::notify(Time now, Notice notice) {
  emit(Notify{now, std::move(notice)});
}

TimerId Peer::timer_for(Time deadline, PendingTimer purpose) {
  const TimerId id = start_timer(deadline);
  timers_.emplace(id, std::move(purpose));
  return id;
}

void Peer::cancel_peer_timer(TimerId& id) {
  timers_.erase(id);
  cancel_timer(id);
}

void Peer::handle_start(Time now) {
  record(now, "peer_started", {{"listen", config_.listen.to_string()}});
  if (config_.tracker) {
    tracker_.endpoint = config_.tracker;
    tracker_.reconnect = true;  // started with --tracker: keep trying until it answers
    begin_tracker_connect(now);
  }
}

// ---- tracker session ------------------------------------------------------------------------

Status Peer::connect_tracker(Time now, const Endpoint& tracker) {
  if (tracker_.state != TrackerState::Disconnected) {
    return make_error(ErrorCode::AlreadyConnected,
                      "already connected to the tracker at " + tracker_.endpoint->to_string());
  }
  cancel_peer_timer(tracker_.reconnect_timer);
  tracker_.endpoint = tracker;
  begin_tracker_connect(now);
  return {};
}

void Peer::begin_tracker_connect(Time now) {
  tracker_.state = TrackerState::Connecting;
  tracker_.conn = connect(*tracker_.endpoint);
  tracker_.last_heard = now;
}

std::uint32_t Peer::tracker_request(RequestKind kind, const std::string& name, Message m) {
  const std::uint32_t req = tracker_.next_req++;
  std::visit(
      [&](auto& x) {
        if constexpr (requires { x.req; }) x.req = req;
      },
      m);
  pending_[req] = PendingRequest{kind, name};
  send(tracker_.conn, m);
  return req;
}

void Peer::tracker_lost(Time now, std::string_view why, bool explained) {
  const bool was_online = tracker_.state == TrackerState::Online;
  const bool never_online = !tracker_.ever_online;
  if (tracker_.conn != 0) close(tracker_.conn);
  tracker_.conn = 0;
  tracker_.state = TrackerState::Disconnected;
  for (auto& [name, d] : downloads_) d->set_tracker_online(false);
  cancel_peer_timer(tracker_.keepalive_timer);
  cancel_peer_timer(register_timer_);
  to_register_.clear();  // everything is announced again on reconnect
  auto pending = std::move(pending_);
  pending_.clear();
  for (const auto& [req, p] : pending) {
    if (p.kind == RequestKind::Location) {
      with_download(now, p.name, [&](Download& d) {
        d.on_location_failed(
            now, make_error(ErrorCode::TrackerNotConnected, "lost the tracker before it answered"));
      });
    } else if (p.kind == RequestKind::FilesList) {
      notify(now, FilesListFailed{make_error(ErrorCode::TrackerNotConnected,
                                             "lost the tracker before it answered")});
    }
  }
  if (was_online) record(now, "tracker_lost", {{"reason", why}});
  if (never_online && !tracker_.reconnect) {
    if (explained) return;
    notify(now, TrackerFailed{
                    make_error(ErrorCode::TrackerNotConnected, "cannot reach the tracker at " +
                                                                   tracker_.endpoint->to_string() +
                                                                   " (" + std::string(why) + ")")});
    return;
  }
  if (!tracker_.reconnect || stopped()) return;
  tracker_.backoff = tracker_.backoff == Duration::zero()
                         ? config_.reconnect_min
                         : std::min(tracker_.backoff * 2, config_.reconnect_max);
  const auto jittered =
      std::chrono::duration_cast<Duration>(tracker_.backoff * (0.8 + 0.4 * rng_.unit()));
  tracker_.reconnect_timer = timer_for(now + jittered, {TimerKind::Reconnect, {}});
}

void Peer::announce_everything() {
  for (const auto& [name, f] : files_) {
    if (f.have.empty()) continue;
    tracker_request(
        RequestKind::Publish, name,
        RequestToPublish{0, f.info, f.complete ? std::vector<ChunkRange>{} : f.have.ranges()});
  }
}

void Peer::on_tracker_message(Time now, Message m) {
  if (std::holds_alternative<PeerPong>(m)) return;
  if (auto* err = std::get_if<ErrorMessage>(&m)) {
    const auto it = pending_.find(err->req);
    if (err->req == 0 || it == pending_.end()) {
      const Error e{err->code, err->message};
      record(now, "tracker_error", {{"code", to_string(err->code)}, {"message", err->message}});
      if (err->code == ErrorCode::Refused) {
        notify(now, TrackerFailed{e});
        tracker_.reconnect = false;  // being refused again would not help
        tracker_lost(now, "refused", true);
      }
      return;
    }
    const PendingRequest p = it->second;
    pending_.erase(it);
    const Error e{err->code, err->message};
    switch (p.kind) {
      case RequestKind::Registry:
        notify(now, TrackerFailed{e});
        tracker_.reconnect = false;
        tracker_lost(now, e.describe(), true);
        return;
      case RequestKind::Publish:
        if (publishing_.erase(p.name) != 0) {
          files_.erase(p.name);
          notify(now, PublishFailed{p.name, e});
        }
        return;
      case RequestKind::FilesList:
        notify(now, FilesListFailed{e});
        return;
      case RequestKind::Location:
        with_download(now, p.name, [&](Download& d) { d.on_location_failed(now, e); });
        return;
    }
    return;
  }
  auto take = [&](std::uint32_t req) -> std::optional<PendingRequest> {
    const auto it = pending_.find(req);
    if (it == pending_.end()) return std::nullopt;
    auto p = it->second;
    pending_.erase(it);
    return p;
  };
  if (auto* r = std::get_if<ReplyRegistry>(&m)) {
    if (!take(r->req)) return;
    tracker_.state = TrackerState::Online;
    tracker_.backoff = Duration::zero();
    for (auto& [name, d] : downloads_) d->set_tracker_online(true);
    record(
        now, tracker_.ever_online ? "tracker_regained" : "tracker_connected",
        {{"tracker", tracker_.endpoint->to_string()}, {"advertised", r->advertised.to_string()}});
    notify(now, TrackerConnected{*tracker_.endpoint, r->advertised});
    tracker_.ever_online = true;
    tracker_.reconnect = true;
    tracker_.keepalive_timer =
        timer_for(now + config_.keepalive_interval, {TimerKind::Keepalive, {}});
    announce_everything();
    return;
  }
  if (auto* r = std::get_if<ReplyToPublish>(&m)) {
    const auto p = take(r->req);
    if (!p) return;
    if (publishing_.erase(p->name) != 0) {
      const auto& f = files_.at(p->name).info;
      notify(now, PublishDone{p->name, f.size, f.chunk_count()});
    }
    return;
  }
  if (auto* r = std::get_if<ReplyFilesList>(&m)) {
    if (!take(r->req)) return;
    notify(now, FilesListed{std::move(r->files), r->omitted});
    return;
  }
  if (auto* r = std::get_if<ReplyFileLocation>(&m)) {
    const auto p = take(r->req);
    if (!p) return;
    with_download(now, p->name, [&](Download& d) { d.on_location(now, *r); });
    return;
  }
}

void Peer::flush_registrations() {
  if (tracker_.state == TrackerState::Online) {
    for (const auto& [name, set] : to_register_) {
      if (!set.empty()) send(tracker_.conn, RequestChunksRegister{name, set.ranges()});
    }
  }
  to_register_.clear();
}

// ---- commands -------------------------------------------------------------------------------

Status Peer::publish(Time, const std::string& path, const std::string& name) {
  if (tracker_.state != TrackerState::Online) {
    return make_error(ErrorCode::TrackerNotConnected, "connect to a tracker before publishing");
  }
  if (auto s = validate_swarm_name(name, "name"); !s) return s;
  if (publishing_.count(name) != 0) {
    return make_error(ErrorCode::InProgress, "\"" + name + "\" is already being published");
  }
  if (files_.count(name) != 0) {
    return make_error(ErrorCode::NameTaken,
                      "this peer already offers a file named \"" + name + "\"");
  }
  publishing_[name] = path;
  store(StoreKind::Scan, name, StoreScan{0, path, name, config_.chunk_size});
  return {};
}

Status Peer::list_files(Time) {
  if (tracker_.state != TrackerState::Online) {
    return make_error(ErrorCode::TrackerNotConnected, "connect to a tracker first");
  }
  tracker_request(RequestKind::FilesList, {}, RequestFilesList{});
  return {};
}

Status Peer::download(Time now, const std::string& name, const std::string& dest) {
  if (auto s = validate_swarm_name(name, "name"); !s) return s;
  if (tracker_.state != TrackerState::Online) {
    return make_error(ErrorCode::TrackerNotConnected, "connect to a tracker before downloading");
  }
  if (auto it = downloads_.find(name); it != downloads_.end() && !it->second->finished()) {
    return make_error(ErrorCode::InProgress, "\"" + name + "\" is already downloading");
  }
  if (auto it = files_.find(name); it != files_.end() && it->second.complete) {
    return make_error(ErrorCode::InvalidArgument,
                      "this peer already holds all of \"" + name + "\"");
  }
  downloads_[name] = std::make_unique<Download>(config_.download, name, dest, rng_);
  with_download(now, name, [&](Download& d) { d.start(now); });
  return {};
}

void Peer::set_delay(Time now, Duration delay) {
  config_.upload.reply_delay = delay;
  uploads_.set_delay(delay);
  record(now, "delay_set", {{"delay_ms", to_seconds(delay) * 1e3}});
}

void Peer::handle_shutdown(Time now) {
  for (auto& [name, d] : downloads_) {
    d->abort(now);
    drive(now, *d);
  }
  tracker_.reconnect = false;
  if (tracker_.conn != 0) close(tracker_.conn);
  tracker_.conn = 0;
  tracker_.state = TrackerState::Disconnected;
  uploads_.shutdown();
  serve();
  timers_.clear();  // Node::shutdown stops them all
  record(now, "peer_stopped", {});
}

// ---- connections ----------------------------------------------------------------------------

void Peer::handle_accepted(Time now, ConnId conn, const Endpoint&) {
  uploads_.on_accepted(now, conn);
  serve();
}

void Peer::handle_connected(Time now, ConnId conn) {
  if (conn == tracker_.conn) {
    tracker_.state = TrackerState::Registering;
    tracker_.last_heard = now;
    tracker_request(RequestKind::Registry, {},
                    RequestRegistry{0, kProtocolVersion, config_.peer_id, config_.listen});
    return;
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    with_download(now, it->second, [&](Download& d) { d.on_connected(now, conn); });
  }
}

void Peer::handle_frame(Time now, ConnId conn, RawFrame frame) {
  auto m = decode_message(frame);
  if (conn == tracker_.conn) {
    tracker_.last_heard = now;
    if (!m)
      return record(now, "tracker_error",
                    {{"code", to_string(m.error().code)}, {"message", m.error().message}});
    return on_tracker_message(now, std::move(*m));
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    const std::string name = it->second;
    if (!m) {
      // A source that speaks garbage is as good as gone.
      download_conns_.erase(it);
      close(conn);
      return with_download(
          now, name, [&](Download& d) { d.on_closed(now, conn, CloseReason::ProtocolError); });
    }
    return with_download(now, name, [&](Download& d) { d.on_message(now, conn, std::move(*m)); });
  }
  if (uploads_.owns(conn)) {
    if (!m) {
      const auto [type, req] = peek_type_and_req(frame.header);
      return send(conn, ErrorMessage{req, m.error().code, m.error().message, type});
    }
    uploads_.on_message(now, conn, std::move(*m));
    serve();
  }
}

void Peer::handle_sent(Time now, ConnId conn) {
  uploads_.on_sent(now, conn);
  serve();
}

void Peer::handle_bytes_arrived(Time now, ConnId conn) {
  const auto it = download_conns_.find(conn);
  if (it == download_conns_.end()) return;
  if (const auto d = downloads_.find(it->second); d != downloads_.end()) {
    d->second->on_bytes_arrived(now, conn);
  }
}

void Peer::handle_closed(Time now, ConnId conn, CloseReason reason) {
  if (conn == tracker_.conn) {
    tracker_.conn = 0;
    return tracker_lost(now, to_string(reason));
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    const auto name = it->second;
    download_conns_.erase(it);
    with_download(now, name, [&](Download& d) { d.on_closed(now, conn, reason); });
    return;
  }
  uploads_.on_closed(now, conn);
  serve();
}

void Peer::handle_timer(Time now, TimerId timer) {
  const auto it = timers_.find(timer);
  if (it == timers_.end()) return;
  PendingTimer t = std::move(it->second);
  timers_.erase(it);
  switch (t.kind) {
    case TimerKind::Reconnect:
      tracker_.reconnect_timer = 0;
      if (tracker_.state == TrackerState::Disconnected) begin_tracker_connect(now);
      return;
    case TimerKind::Keepalive:
      tracker_.keepalive_timer = 0;
      if (tracker_.state != TrackerState::Online) return;
      if (now - tracker_.last_heard >= config_.tracker_timeout)
        return tracker_lost(now, "tracker silent");
      send(tracker_.conn, PeerPing{rng_.next()});
      tracker_.keepalive_timer =
          timer_for(now + config_.keepalive_interval, {TimerKind::Keepalive, {}});
      return;
    case TimerKind::RegisterFlush:
      register_timer_ = 0;
      return flush_registrations();
    case TimerKind::Uploads:
      uploads_timer_ = 0;
      uploads_deadline_.reset();
      uploads_.on_deadline(now);
      return serve();
    case TimerKind::Download:
      download_timers_.erase(t.name);
      return with_download(now, t.name, [&](Download& d) { d.on_deadline(now); });
  }
}

// ---- serving --------------------------------------------------------------------------------

void Peer::serve() {
  namespace act = upload_action;
  while (auto a = uploads_.poll_action()) {
    std::visit(
        Overloaded{
            [&](act::SendMessage& x) { send(x.conn, x.message, x.report_sent); },
            [&](act::CloseConnection& x) { close(x.conn); },
            [&](act::ReadChunk& x) {
              const auto op = next_store_op();
              store_ops_[op] = PendingStore{StoreKind::Read, x.name, x.index, x.offset, x.conn};
              emit(StoreRead{op, std::move(x.name), x.index, x.offset, x.length});
            },
        },
        *a);
  }
  const auto want = uploads_.next_deadline();
  if (want == uploads_deadline_) return;
  cancel_peer_timer(uploads_timer_);
  uploads_deadline_ = want;
  if (want) uploads_timer_ = timer_for(*want, {TimerKind::Uploads, {}});
}

// ---- store results --------------------------------------------------------------------------

void Peer::handle_store_done(Time now, StoreOpId op, StoreResult result) {
  const auto it = store_ops_.find(op);
  if (it == store_ops_.end()) return;
  const PendingStore p = std::move(it->second);
  store_ops_.erase(it);
  switch (p.kind) {
    case StoreKind::Scan: {
      if (publishing_.count(p.name) == 0) return;
      const auto* file = std::get_if<FileInfo>(&result.value);
      if (!result.status || file == nullptr) {
        const std::string path = publishing_[p.name];
        publishing_.erase(p.name);
        const auto e = result.status.ok() ? make_error(ErrorCode::IoError, "no file information")
                                          : result.status.error();
        notify(now,
               PublishFailed{p.name, Error{e.code, "cannot publish " + path + ": " + e.message}});
        return;
      }
      files_[p.name] = LocalFile{*file, ChunkSet::full(file->chunk_count()), true};
      if (tracker_.state == TrackerState::Online) {
        tracker_request(RequestKind::Publish, p.name, RequestToPublish{0, *file, {}});
      }
      return;
    }
    case StoreKind::Open:
      return with_download(now, p.name, [&](Download& d) { d.on_opened(now, result); });
    case StoreKind::Read:
      uploads_.on_read(now, p.conn, p.name, p.index, p.offset, std::move(result));
      return serve();
    case StoreKind::Write:
      return with_download(now, p.name, [&](Download& d) { d.on_written(now, p.index, result); });
    case StoreKind::Finalize:
      return with_download(now, p.name, [&](Download& d) { d.on_finalized(now, result); });
  }
}

// ---- downloads ------------------------------------------------------------------------------

template <typename F>
void Peer::with_download(Time now, const std::string& name, F&& input) {
  const auto it = downloads_.find(name);
  if (it == downloads_.end()) return;
  input(*it->second);
  drive(now, *it->second);
}

// Carries out what a download asked for, then keeps one timer at its next deadline.
void Peer::drive(Time now, Download& d) {
  namespace act = download_action;
  const std::string& name = d.name();
  while (auto a = d.poll_action()) {
    std::visit(
        Overloaded{
            [&](act::OpenConnection& x) {
              const ConnId conn = connect(x.to);
              download_conns_[conn] = name;
              d.bind_connection(x.source, conn);
            },
            [&](act::SendMessage& x) { send(x.conn, x.message); },
            [&](act::CloseConnection& x) {
              download_conns_.erase(x.conn);
              close(x.conn);
            },
            [&](act::AskOwners&) {
              if (tracker_.state != TrackerState::Online) {
                return d.on_location_failed(now, make_error(ErrorCode::TrackerNotConnected,
                                                            "the tracker is not connected"));
              }
              tracker_request(RequestKind::Location, name, RequestFileLocation{0, name});
            },
            [&](act::OpenFile& x) {
              store(StoreKind::Open, name, StoreOpen{0, x.file, x.dest});
            },
            [&](act::WriteChunk& x) {
              store(StoreKind::Write, name,
                    StoreWrite{0, name, x.index, std::move(x.data), x.expected, std::move(x.from)},
                    x.index);
            },
            [&](act::FinishFile&) {
              store(StoreKind::Finalize, name, StoreFinalize{0, name});
            },
            [&](act::OfferFile& x) { offer_file(x.file, x.have); },
            [&](act::OfferChunk& x) { offer_chunk(now, name, x.index); },
            [&](act::WithdrawFile&) { withdraw_file(name); },
            [&](act::FileCompleted&) {
              if (auto it = files_.find(name); it != files_.end()) it->second.complete = true;
            },
            [&](act::Log& x) { record(now, std::move(x.type), std::move(x.fields)); },
            [&](act::Tell& x) { notify(now, std::move(x.notice)); },
        },
        *a);
  }
  uploads_.set_downloading(std::any_of(downloads_.begin(), downloads_.end(),
                                       [](const auto& e) { return !e.second->finished(); }));
  const auto want = d.next_deadline();
  auto& armed = download_timers_[name];
  if (want == armed.deadline) return;
  cancel_peer_timer(armed.timer);
  armed.deadline = want;
  if (want) armed.timer = timer_for(*want, {TimerKind::Download, name});
}

template <typename Op>
void Peer::store(StoreKind kind, const std::string& name, Op op, std::uint32_t index) {
  op.op = next_store_op();
  store_ops_[op.op] = PendingStore{kind, name, index, 0, 0};
  emit(std::move(op));
}

void Peer::offer_file(const FileInfo& file, const ChunkSet& have) {
  files_[file.name] = LocalFile{file, have, have.complete()};
  if (tracker_.state == TrackerState::Online && !have.empty()) {
    tracker_request(
        RequestKind::Publish, file.name,
        RequestToPublish{0, file, have.complete() ? std::vector<ChunkRange>{} : have.ranges()});
  }
}

void Peer::offer_chunk(Time now, const std::string& name, std::uint32_t index) {
  auto& f = files_.at(name);
  f.have.insert(index);
  uploads_.on_have(now, name, index);
  serve();
  auto& batch = to_register_[name];
  if (batch.size() != f.info.chunk_count()) batch = ChunkSet(f.info.chunk_count());
  batch.insert(index);
  if (register_timer_ == 0) {
    register_timer_ = timer_for(now + config_.register_delay, {TimerKind::RegisterFlush, {}});
  }
}

void Peer::withdraw_file(const std::string& name) {
  const auto it = files_.find(name);
  if (it == files_.end()) return;
  if (tracker_.state == TrackerState::Online) {
    // Also when it holds nothing: the tracker lists downloaders as members of the swarm.
    send(tracker_.conn, RequestChunksUnregister{name, it->second.have.ranges()});
  }
  files_.erase(it);
  to_register_.erase(name);
}

// ---- getters --------------------------------------------------------------------------------

std::vector<DownloadStatus> Peer::downloads() const {
  std::vector<DownloadStatus> out;
  for (const auto& [name, d] : downloads_) out.push_back(d->status());
  return out;
}

std::vector<Peer::HeldFile> Peer::held_files() const {
  std::vector<HeldFile> out;
  for (const auto& [name, f] : files_) out.push_back({f.info, f.have, f.complete});
  return out;
}

}  // namespace swarmlab

#include "swarmlab/peer.hpp"

#include <algorithm>
#include <cmath>

#include "swarmlab/overloaded.hpp"
#include "swarmlab/swarm_name.hpp"
#include "swarmlab/units.hpp"

namespace swarmlab {

Peer::Peer(PeerConfig config)
    : config_(std::move(config)),
      rng_(config_.seed),
      tracker_(TrackerClientConfig{.keepalive_interval = config_.keepalive_interval,
                                   .tracker_timeout = config_.tracker_timeout,
                                   .reconnect_min = config_.reconnect_min,
                                   .reconnect_max = config_.reconnect_max,
                                   .register_delay = config_.register_delay},
               rng_),
      haves_(config_.have_delay),
      uploads_(upload_config(config_), [this](const std::string& name) -> UploadServer::Offered {
        const auto f = files_.find(name);
        if (f == files_.end()) return {};
        return {&f->second.info, &f->second.have};
      }) {
}
Peer::~Peer() = default;

UploadConfig Peer::upload_config(const PeerConfig& config) {
  UploadConfig upload = config.upload;
  upload.seed = config.seed ^ 0x75706c6f6164ULL;  // its own sequence, not the peer's
  return upload;
}

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
    tracker_.start(now, *config_.tracker);  // started with --tracker: keep trying
    talk_to_tracker(now);
  }
}

// ---- tracker session ------------------------------------------------------------------------

Status Peer::connect_tracker(Time now, const Endpoint& tracker) {
  auto status = tracker_.connect(now, tracker);
  talk_to_tracker(now);
  return status;
}

// Carries out what the tracker client asked for: the session is its business, what the answers
// mean (owners for a download, a publish done) is the peer's.
void Peer::talk_to_tracker(Time now) {
  namespace act = tracker_action;
  while (auto a = tracker_.poll_action()) {
    std::visit(
        Overloaded{
            [&](act::Connect& x) { tracker_.bind(connect(x.to)); },
            [&](act::SendMessage& x) { send(x.conn, x.message); },
            [&](act::CloseConnection& x) { close(x.conn); },
            [&](act::Online& x) {
              if (x.regained) tracker_regained_at_ = now;
              std::vector<std::string> names;
              for (const auto& [name, d] : downloads_) names.push_back(name);
              for (const auto& name : names) {
                with_download(now, name, [&](Download& d) { d.set_tracker_online(now, true); });
              }
              record(
                  now, x.regained ? "tracker_regained" : "tracker_connected",
                  {{"tracker", x.tracker.to_string()}, {"advertised", x.advertised.to_string()}});
              notify(now, TrackerConnected{x.tracker, x.advertised});
              announce_everything();
            },
            [&](act::Offline&) {
              for (auto& [name, d] : downloads_) d->set_tracker_online(now, false);
            },
            [&](act::Failed& x) { notify(now, TrackerFailed{x.error}); },
            [&](act::Answer& x) { on_tracker_answer(now, x); },
            [&](act::Refused& x) { on_tracker_refused(now, x); },
            [&](act::Unanswered& x) {
              // A publish is announced again once the tracker is back.
              const auto e =
                  make_error(ErrorCode::TrackerNotConnected, "lost the tracker before it answered");
              if (x.kind == TrackerRequest::Location) {
                with_download(now, x.name, [&](Download& d) { d.on_location_failed(now, e); });
              } else if (x.kind == TrackerRequest::FilesList) {
                notify(now, FilesListFailed{e});
              } else if (x.kind == TrackerRequest::Publish) {
                // Still offered, and announced again on reconnect; whoever waits hears why.
                notify(now, PublishFailed{x.name, make_error(ErrorCode::TrackerNotConnected,
                                                             "cannot publish " + x.name +
                                                                 ": lost the tracker before it "
                                                                 "answered; it is announced again "
                                                                 "when the tracker is back")});
              }
            },
            [&](act::Log& x) { record(now, std::move(x.type), std::move(x.fields)); },
        },
        *a);
  }
  const auto want = tracker_.next_deadline();
  if (want == tracker_deadline_) return;
  cancel_peer_timer(tracker_timer_);
  tracker_deadline_ = want;
  if (want) tracker_timer_ = timer_for(*want, {TimerKind::Tracker, {}});
}

void Peer::announce_everything() {
  for (const auto& [name, f] : files_) {
    tracker_.announce(f.info, f.have);
  }
}

void Peer::on_tracker_refused(Time now, const tracker_action::Refused& r) {
  switch (r.kind) {
    case TrackerRequest::Registry:
      return;  // the client gave up, and said why (Failed)
    case TrackerRequest::Publish:
      if (publishing_.erase(r.name) != 0) {
        files_.erase(r.name);
        notify(now, PublishFailed{r.name, r.error});
      }
      return;
    case TrackerRequest::FilesList:
      return notify(now, FilesListFailed{r.error});
    case TrackerRequest::Location:
      return with_download(now, r.name, [&](Download& d) { d.on_location_failed(now, r.error); });
  }
}

void Peer::on_tracker_answer(Time now, tracker_action::Answer& a) {
  if (std::holds_alternative<ReplyToPublish>(a.reply)) {
    if (publishing_.erase(a.name) != 0) {
      const auto& f = files_.at(a.name).info;
      notify(now, PublishDone{a.name, f.size, f.chunk_count()});
    }
    return;
  }
  if (auto* r = std::get_if<ReplyFilesList>(&a.reply)) {
    return notify(now, FilesListed{std::move(r->files), r->omitted});
  }
  if (auto* r = std::get_if<ReplyFileLocation>(&a.reply)) {
    return with_download(now, a.name, [&](Download& d) { d.on_location(now, *r); });
  }
}

// ---- commands -------------------------------------------------------------------------------

Status Peer::publish(Time, const std::string& path, const std::string& name) {
  if (!tracker_.online()) {
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

Status Peer::list_files(Time now) {
  if (!tracker_.online()) {
    return make_error(ErrorCode::TrackerNotConnected, "connect to a tracker first");
  }
  tracker_.request(TrackerRequest::FilesList, {}, RequestFilesList{});
  talk_to_tracker(now);
  return {};
}

Status Peer::download(Time now, const std::string& name, const std::string& dest) {
  if (auto s = validate_swarm_name(name, "name"); !s) return s;
  if (!tracker_.online()) {
    return make_error(ErrorCode::TrackerNotConnected, "connect to a tracker before downloading");
  }
  if (auto it = downloads_.find(name); it != downloads_.end() && !it->second->finished()) {
    return make_error(ErrorCode::InProgress, "\"" + name + "\" is already downloading");
  }
  if (auto it = files_.find(name); it != files_.end() && it->second.complete) {
    return make_error(ErrorCode::InvalidArgument,
                      "this peer already holds all of \"" + name + "\"");
  }
  // Asked for by hand: a fresh count of retries.
  if (const auto r = retries_.find(name); r != retries_.end()) {
    cancel_peer_timer(r->second.timer);
    retries_.erase(r);
  }
  start_download(now, name, dest);
  return {};
}

void Peer::start_download(Time now, const std::string& name, const std::string& dest) {
  DownloadConfig dc = config_.download;
  if (dc.upload_bps == 0) {
    dc.upload_bps = config_.upload.rate_limit_bps > 0 ? config_.upload.rate_limit_bps
                                                      : config_.upload.upload_bps;
  }
  downloads_[name] = std::make_unique<Download>(dc, name, dest, rng_);
  with_download(now, name, [&](Download& d) {
    if (tracker_regained_at_) d.tracker_came_back(*tracker_regained_at_);
    d.start(now);
  });
}

namespace {
// Failures that another attempt may mend: owners or the tracker come back.
bool worth_retrying(const Error& e) {
  switch (e.code) {
    case ErrorCode::DownloadIncomplete:
    case ErrorCode::NotFound:
    case ErrorCode::TrackerNotConnected:
    case ErrorCode::Timeout:
    case ErrorCode::Closed:
    case ErrorCode::Busy:
      return true;
    default:
      return false;
  }
}
}  // namespace

void Peer::on_download_failed(Time now, DownloadFailed failed) {
  auto& r = retries_[failed.file];
  if (!worth_retrying(failed.error) || r.done >= config_.download_retries) {
    retries_.erase(failed.file);
    return notify(now, std::move(failed));
  }
  r.dest = failed.dest;
  ++r.done;
  double wait = to_seconds(config_.retry_wait) * std::pow(2.0, r.done - 1);
  wait = std::min(wait, to_seconds(config_.retry_wait_max)) * (0.8 + 0.4 * rng_.unit());
  const auto delay = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait));
  r.timer = timer_for(now + delay, {TimerKind::Retry, failed.file});
  record(now, "download_retrying",
         {{"file", failed.file},
          {"retry", r.done},
          {"retries", config_.download_retries},
          {"wait_s", wait},
          {"reason", failed.error.describe()}});
  notify(now, DownloadRetrying{failed.file, failed.dest, failed.error, r.done,
                               config_.download_retries, delay});
}

Status Peer::stop_download(Time now, const std::string& name, bool withdraw) {
  const auto it = downloads_.find(name);
  const auto r = retries_.find(name);
  const bool running = it != downloads_.end() && !it->second->finished();
  const bool paused = it != downloads_.end() && it->second->phase() == Download::Phase::Stopped;
  if (running && it->second->phase() == Download::Phase::Finalizing) {
    // Every chunk is in; the file is being flushed and renamed: stopping now would leave a
    // finished file that a resume could not take.
    return make_error(ErrorCode::InProgress,
                      "\"" + name + "\" has every chunk and is being written out");
  }
  if (!running && r == retries_.end() && !(withdraw && paused)) {
    return make_error(ErrorCode::NotFound, "no download of \"" + name + "\" is under way");
  }
  if (r != retries_.end()) {
    cancel_peer_timer(r->second.timer);
    retries_.erase(r);
  }
  if (running) {
    it->second->stop(now);
    drive(now, *it->second);
  }
  if (!running) record(now, "download_paused", {{"file", name}});  // a running one says so
  if (withdraw) {
    withdraw_file(now, name);
    record(now, "download_cancelled", {{"file", name}});
  }
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
  tracker_.shutdown();
  talk_to_tracker(now);
  uploads_.shutdown();
  serve(now);
  timers_.clear();  // Node::shutdown stops them all
  haves_.clear();
  retries_.clear();
  record(now, "peer_stopped", {});
}

// ---- connections ----------------------------------------------------------------------------

void Peer::handle_accepted(Time now, ConnId conn, const Endpoint&) {
  uploads_.on_accepted(now, conn);
  serve(now);
}

void Peer::handle_connected(Time now, ConnId conn) {
  if (tracker_.owns(conn)) {
    tracker_.on_connected(now,
                          RequestRegistry{0, kProtocolVersion, config_.peer_id, config_.listen});
    return talk_to_tracker(now);
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    with_download(now, it->second, [&](Download& d) { d.on_connected(now, conn); });
  }
}

void Peer::handle_frame(Time now, ConnId conn, RawFrame frame) {
  auto m = decode_message(frame);
  if (tracker_.owns(conn)) {
    if (m) {
      tracker_.on_message(now, std::move(*m));
    } else {
      tracker_.on_bad_frame(now, m.error());
    }
    return talk_to_tracker(now);
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    const std::string name = it->second;
    if (!m) {
      // A source that speaks garbage is as good as gone.
      download_conns_.erase(it);
      haves_.drop(conn);
      close(conn);
      return with_download(
          now, name, [&](Download& d) { d.on_closed(now, conn, CloseReason::ProtocolError); });
    }
    return with_download(now, name, [&](Download& d) { d.on_message(now, conn, std::move(*m)); });
  }
  if (uploads_.owns(conn)) {
    if (!m) {
      const auto [type, req] = peek_type_and_req(frame.header);
      return send_to(now, conn, ErrorMessage{req, m.error().code, m.error().message, type}, false,
                     false);
    }
    uploads_.on_message(now, conn, std::move(*m));
    serve(now);
  }
}

void Peer::handle_sent(Time now, ConnId conn) {
  uploads_.on_sent(now, conn);
  serve(now);
}

void Peer::handle_bytes_arrived(Time now, ConnId conn) {
  const auto it = download_conns_.find(conn);
  if (it == download_conns_.end()) return;
  if (const auto d = downloads_.find(it->second); d != downloads_.end()) {
    d->second->on_bytes_arrived(now, conn);
  }
}

void Peer::handle_closed(Time now, ConnId conn, CloseReason reason) {
  haves_.drop(conn);
  if (tracker_.owns(conn)) {
    tracker_.on_closed(now, to_string(reason));
    return talk_to_tracker(now);
  }
  if (auto it = download_conns_.find(conn); it != download_conns_.end()) {
    const auto name = it->second;
    download_conns_.erase(it);
    with_download(now, name, [&](Download& d) { d.on_closed(now, conn, reason); });
    return;
  }
  uploads_.on_closed(now, conn);
  serve(now);
}

void Peer::handle_timer(Time now, TimerId timer) {
  const auto it = timers_.find(timer);
  if (it == timers_.end()) return;
  PendingTimer t = std::move(it->second);
  timers_.erase(it);
  switch (t.kind) {
    case TimerKind::Tracker:
      tracker_timer_ = 0;
      tracker_deadline_.reset();
      tracker_.on_deadline(now);
      return talk_to_tracker(now);
    case TimerKind::Uploads:
      uploads_timer_ = 0;
      uploads_deadline_.reset();
      uploads_.on_deadline(now);
      return serve(now);
    case TimerKind::Download:
      download_timers_.erase(t.name);
      return with_download(now, t.name, [&](Download& d) { d.on_deadline(now); });
    case TimerKind::Haves:
      haves_timer_ = 0;
      haves_deadline_.reset();
      for (const auto& [conn, haves] : haves_.take_due(now)) {
        for (const auto& h : haves) send(conn, h);
      }
      return keep_haves_timer();
    case TimerKind::Retry: {
      const auto r = retries_.find(t.name);
      if (r == retries_.end()) return;
      r->second.timer = 0;
      return start_download(now, t.name, r->second.dest);
    }
  }
}

// A HAVE that may wait does so in haves_ (have_batcher.hpp); any other frame takes what waits
// for its connection along, ahead of it.
void Peer::send_to(Time now, ConnId conn, const Message& m, bool report_sent, bool may_wait) {
  if (const auto* have = std::get_if<PeerHave>(&m); have && may_wait) {
    if (haves_.hold(now, conn, *have)) {
      // Held now, it is due no sooner than any held before it: an armed timer stays right.
      if (haves_timer_ == 0) keep_haves_timer();
      return;
    }
  }
  for (const auto& h : haves_.take(conn)) send(conn, h);
  send(conn, m, report_sent);
}

void Peer::keep_haves_timer() {
  const auto want = haves_.due();
  if (want == haves_deadline_) return;
  cancel_peer_timer(haves_timer_);
  haves_deadline_ = want;
  if (want) haves_timer_ = timer_for(*want, {TimerKind::Haves, {}});
}

// ---- serving --------------------------------------------------------------------------------

void Peer::serve(Time now) {
  namespace act = upload_action;
  while (auto a = uploads_.poll_action()) {
    std::visit(
        Overloaded{
            [&](act::SendMessage& x) {
              send_to(now, x.conn, x.message, x.report_sent, x.may_wait);
            },
            [&](act::CloseConnection& x) {
              haves_.drop(x.conn);
              close(x.conn);
            },
            [&](act::ReadChunk& x) {
              const auto op = next_store_op();
              store_ops_[op] = PendingStore{StoreKind::Read, x.name, x.index, x.offset, x.conn};
              emit(StoreRead{op, std::move(x.name), x.index, x.offset, x.length});
            },
        },
        *a);
  }
  // A downloader that has just come to wait on nothing from us may want what we announced
  // while it was busy: that goes now rather than with the batch.
  if (!haves_.empty()) {
    for (const ConnId conn : haves_.connections()) {
      if (!uploads_.asks_nothing(conn)) continue;
      for (const auto& h : haves_.take(conn)) send(conn, h);
    }
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
        // "cannot publish P: cannot open P: No such file" says P twice: keep the cause only.
        std::string why = e.message;
        for (const auto* verb : {"cannot open ", "cannot read ", "cannot stat "}) {
          const auto said = verb + path + ": ";
          if (why.rfind(said, 0) == 0) why = why.substr(said.size());
        }
        if (why.rfind(path + " is ", 0) == 0) why = why.substr(path.size() + 4);  // "P is not"
        notify(now, PublishFailed{p.name, Error{e.code, "cannot publish " + path + ": " + why}});
        return;
      }
      files_[p.name] = LocalFile{*file, ChunkSet::full(file->chunk_count()), true};
      if (tracker_.online()) {
        tracker_.request(TrackerRequest::Publish, p.name, RequestToPublish{0, *file, {}});
        talk_to_tracker(now);
      }
      return;
    }
    case StoreKind::Open:
      return with_download(now, p.name, [&](Download& d) { d.on_opened(now, result); });
    case StoreKind::Read:
      uploads_.on_read(now, p.conn, p.name, p.index, p.offset, std::move(result));
      return serve(now);
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
            [&](act::SendMessage& x) { send_to(now, x.conn, x.message, false, x.may_wait); },
            [&](act::CloseConnection& x) {
              haves_.drop(x.conn);
              download_conns_.erase(x.conn);
              close(x.conn);
            },
            [&](act::AskOwners& x) {
              if (!tracker_.online()) {
                return d.on_location_failed(now, make_error(ErrorCode::TrackerNotConnected,
                                                            "the tracker is not connected"));
              }
              tracker_.request(TrackerRequest::Location, name,
                               RequestFileLocation{0, name, x.hashes});
              talk_to_tracker(now);
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
            [&](act::OfferFile& x) { offer_file(now, x.file, x.have); },
            [&](act::OfferChunk& x) { offer_chunk(now, name, x.index); },
            [&](act::WithdrawFile&) { withdraw_file(now, name); },
            [&](act::FileCompleted&) {
              if (auto it = files_.find(name); it != files_.end()) it->second.complete = true;
            },
            [&](act::Log& x) { record(now, std::move(x.type), std::move(x.fields)); },
            [&](act::Tell& x) {
              if (auto* failed = std::get_if<DownloadFailed>(&x.notice)) {
                return on_download_failed(now, std::move(*failed));
              }
              // Done: a later failure of this file starts a fresh count of retries.
              if (std::holds_alternative<DownloadCompleted>(x.notice)) retries_.erase(name);
              notify(now, std::move(x.notice));
            },
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

void Peer::offer_file(Time now, const FileInfo& file, const ChunkSet& have) {
  files_[file.name] = LocalFile{file, have, have.complete()};
  if (tracker_.online() && !have.empty()) {
    tracker_.announce(file, have);
    talk_to_tracker(now);
  }
}

void Peer::offer_chunk(Time now, const std::string& name, std::uint32_t index) {
  auto& f = files_.at(name);
  f.have.insert(index);
  uploads_.on_have(now, name, index);
  serve(now);
  tracker_.register_chunk(now, name, index, f.info.chunk_count());
  talk_to_tracker(now);
}

void Peer::withdraw_file(Time now, const std::string& name) {
  const auto it = files_.find(name);
  if (it == files_.end()) return;
  tracker_.unregister(name, it->second.have.ranges());
  talk_to_tracker(now);
  files_.erase(it);
}

// ---- getters --------------------------------------------------------------------------------

std::vector<DownloadStatus> Peer::downloads() const {
  std::vector<DownloadStatus> out;
  for (const auto& [name, d] : downloads_) out.push_back(d->status());
  return out;
}

Download::Waiting Peer::waiting() const {
  Download::Waiting sum;
  for (const auto& [name, d] : downloads_) {
    const auto w = d->waiting();
    sum.idle_sources += w.idle_sources;
    sum.chunks_on_busy_owners += w.chunks_on_busy_owners;
  }
  return sum;
}

std::vector<Peer::HeldFile> Peer::held_files() const {
  std::vector<HeldFile> out;
  for (const auto& [name, f] : files_) out.push_back({f.info, f.have, f.complete});
  return out;
}

}  // namespace swarmlab

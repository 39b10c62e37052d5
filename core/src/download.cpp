#include "swarmlab/download.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "swarmlab/units.hpp"

namespace swarmlab {
std::string_view to_string(Download::Phase p) {
  switch (p) {
    case Download::Phase::Locating:
      return "locating";
    case Download::Phase::Opening:
      return "opening";
    case Download::Phase::Running:
      return "downloading";
    case Download::Phase::Finalizing:
      return "finalizing";
    case Download::Phase::Completed:
      return "completed";
    case Download::Phase::Failed:
      return "failed";
    case Download::Phase::Stopped:
      return "paused";
  }
  return "?";
}

namespace act = download_action;

Download::Download(const DownloadConfig& config, std::string name, std::string dest, Rng& rng)
    : rng_(rng), config_(config), name_(std::move(name)), dest_(std::move(dest)) {
}

std::optional<DownloadAction> Download::poll_action() {
  if (actions_.empty()) return std::nullopt;
  DownloadAction a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

void Download::start(Time now) {
  started_ = now;
  last_refresh_ = now;
  refresh_gap_ = config_.first_refresh;
  refresh_pending_ = true;
  act(act::AskOwners{});
  log("download_started", {{"file", name_}});
}

// ---- tracker answers ------------------------------------------------------------------------

void Download::on_location(Time now, const ReplyFileLocation& reply) {
  refresh_pending_ = false;
  last_refresh_ = now;
  owners_complete_ = reply.complete;
  if (finished()) return;
  if (phase_ == Phase::Locating) {
    if (reply.file.chunk_hashes.empty()) {
      return fail(make_error(ErrorCode::MalformedFrame,
                             "the tracker's answer for \"" + name_ + "\" has no chunk hashes"));
    }
    info_ = reply.file;
    merge_owners(now, reply);
    phase_ = Phase::Opening;
    act(act::OpenFile{*info_, dest_});
    return;
  }
  if (reply.file.name != info_->name || reply.file.size != info_->size ||
      reply.file.chunk_size != info_->chunk_size || reply.file.file_hash != info_->file_hash) {
    // The name now stands for different content: what we hold cannot be completed.
    return fail(make_error(ErrorCode::HashMismatch,
                           "\"" + name_ + "\" was re-published with different content"));
  }
  merge_owners(now, reply);
  log("owners_refreshed",
      {{"file", name_}, {"owners", reply.owners.size()}, {"complete", reply.complete}});
  if (phase_ != Phase::Running) return;
  // An incomplete answer (a sample of a large swarm) cannot say that nobody holds a chunk.
  if (const auto orphaned = missing_without_owner(); orphaned > 0 && owners_complete_) {
    return fail(make_error(ErrorCode::DownloadIncomplete,
                           no_owner_text(orphaned) + "; " + std::to_string(have_.count()) +
                               " verified chunks are kept for a later download to resume"));
  }
  connect_more(now);
  schedule(now);
}

void Download::on_location_failed(Time now, const Error& error) {
  refresh_pending_ = false;
  last_refresh_ = now;
  if (finished()) return;
  if (phase_ == Phase::Locating) {
    // The tracker was lost (or not yet back): the question is asked again when it is.
    if (error.code == ErrorCode::TrackerNotConnected) {
      if (!waiting_for_tracker_) {
        log("download_waiting", {{"file", name_}, {"reason", error.message}});
      }
      waiting_for_tracker_ = true;
      if (tracker_online_) maybe_refresh(now, true);
      return;
    }
    // Just after the tracker came back, a file is not listed until its owners announce it
    // again (they reconnect with backoff): ask again for a while before believing it.
    if (error.code == ErrorCode::NotFound && tracker_back_at_ &&
        now - *tracker_back_at_ < config_.reannounce_grace) {
      log("download_waiting", {{"file", name_}, {"reason", error.message}});
      deadline_ = now + config_.first_refresh;
      return;
    }
    return fail(error);
  }
  // Just after a tracker restart the file is not listed until its owners announce it again:
  // while sources we are connected to still hold what we miss, that is no reason to stop.
  if (phase_ == Phase::Running && error.code == ErrorCode::NotFound && serving_sources() > 0) {
    return;
  }
  if (phase_ == Phase::Running && error.code == ErrorCode::NotFound) {
    // The tracker no longer lists the file: nobody online holds what we miss.
    fail(make_error(ErrorCode::DownloadIncomplete,
                    std::to_string(info_->chunk_count() - have_.count()) + " of " +
                        std::to_string(info_->chunk_count()) +
                        " chunks have no online owner (the file is no longer listed); " +
                        std::to_string(have_.count()) +
                        " verified chunks are kept for a later download to resume"));
  }
}

void Download::set_tracker_online(Time now, bool online) {
  if (online && !tracker_online_) tracker_back_at_ = now;
  tracker_online_ = online;
  if (online && waiting_for_tracker_ && phase_ == Phase::Locating && !finished()) {
    waiting_for_tracker_ = false;
    refresh_pending_ = false;
    maybe_refresh(now, true);
  }
}

std::uint32_t Download::serving_sources() const {
  std::uint32_t n = 0;
  for (const auto& [id, s] : sources_) {
    const bool connected = s.state == SourceState::Ready || s.state == SourceState::Pinging ||
                           s.state == SourceState::Connecting;
    if (connected && s.has.has_any_missing_from(have_)) ++n;
  }
  return n;
}

void Download::merge_owners(Time now, const ReplyFileLocation& reply) {
  const auto n = info_->chunk_count();
  owner_counts_dirty_ = true;
  // A complete answer is the truth about who is online and what they hold, except for
  // sources we are talking to right now: they stay as they are until they fail. An
  // incomplete one only adds to what we knew.
  for (auto& [id, s] : sources_) {
    const bool connected = s.state == SourceState::Ready || s.state == SourceState::Pinging ||
                           s.state == SourceState::Connecting;
    if ((!connected && reply.complete) || s.has.size() != n) s.has = ChunkSet(n);
  }
  for (const auto& o : reply.owners) {
    auto set = ChunkSet::from_ranges(o.chunks, n);
    if (!set) continue;
    auto [it, inserted] = sources_.try_emplace(o.peer_id);
    Source& s = it->second;
    if (inserted) {
      s.id = o.peer_id;
      s.has = ChunkSet(n);
    }
    s.address = o.address;
    // A connected source's HAVEs may be newer than the tracker's answer: keep both.
    s.has.insert_all(*set);
    // A source that failed before but is still online per the tracker gets another chance:
    // a slow owner whose pongs wait behind chunks on a thin link looks stalled, yet it is
    // the only one holding some chunks. Each refusal in a row (other than Busy) doubles the
    // wait before the next chance: a refusal makes the next refresh urgent, so a source that
    // refuses as soon as it is asked (one whose disk cannot read what it announced) would
    // otherwise be retried, and the tracker asked again, at every round trip.
    if (s.state == SourceState::Failed && now - s.failed_at >= retry_wait(s)) {
      s.state = SourceState::Idle;
    }
  }
  for (auto& [id, s] : sources_) {
    s.rejected = ChunkSet(n);
    update_interest(s);
  }
}

void Download::on_opened(Time now, const StoreResult& result) {
  if (finished()) return;
  if (!result.status) {
    return fail(make_error(result.status.error().code,
                           "cannot open " + dest_ + ": " + result.status.error().message));
  }
  const auto n = info_->chunk_count();
  const auto* held = std::get_if<ChunkSet>(&result.value);
  have_ = held != nullptr && held->size() == n ? *held : ChunkSet(n);
  resumed_chunks_ = have_.count();
  chunks_.assign(n, ChunkState::Missing);
  one_source_ = ChunkSet(n);
  const auto block = block_size();
  blocks_per_chunk_ = std::max<std::uint32_t>(1, (info_->chunk_size + block - 1) / block);
  for (auto i : have_.indexes()) {
    chunks_[i] = ChunkState::Have;
    bytes_have_ += info_->chunk_length(i);
  }
  resumed_bytes_ = bytes_have_;
  owner_counts_dirty_ = true;  // counted per chunk of chunks_, which has only now its size
  phase_ = Phase::Running;
  act(act::OfferFile{*info_, have_});
  if (resumed_chunks_ > 0) {
    log("download_resumed", {{"file", name_}, {"chunks", resumed_chunks_}});
  }
  last_progress_ = now;
  bytes_at_last_progress_ = bytes_have_;
  deadline_ = now + config_.tick_interval;
  if (have_.complete()) return finalize(now);
  if (const auto orphaned = missing_without_owner(); orphaned > 0 && owners_complete_) {
    return fail(make_error(
        ErrorCode::DownloadIncomplete,
        std::to_string(orphaned) + " of " + std::to_string(n) + " chunks have no online owner"));
  }
  connect_more(now);
}

// ---- sources --------------------------------------------------------------------------------

void Download::connect_more(Time now) {
  std::uint32_t active = 0;
  std::vector<Source*> useful, members;
  for (auto& [id, s] : sources_) {
    if (s.state == SourceState::Connecting || s.state == SourceState::Pinging ||
        s.state == SourceState::Ready) {
      ++active;
    } else if (s.state == SourceState::Idle) {
      // Owners of something we still need come first; then peers that hold nothing we miss
      // yet but are in the swarm: connected, their HAVEs tell us the moment they do.
      (s.has.has_any_missing_from(have_) ? useful : members).push_back(&s);
    }
  }
  // Random order, so that many downloaders spread over the owners instead of all picking
  // the first ones the tracker listed.
  auto shuffle = [&](std::vector<Source*>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng_.below(i)]);
  };
  shuffle(useful);
  shuffle(members);
  // A connected source with nothing we miss gives way to one that has something.
  std::size_t waiting = useful.size();
  for (auto& [id, s] : sources_) {
    if (active < config_.max_sources || waiting == 0) break;
    const bool newcomer = s.has.count() == 0 && now - s.ready_at < config_.newcomer_grace;
    if (s.state == SourceState::Ready && !s.interested && s.inflight == 0 && !newcomer) {
      drop_source(now, s, SourceState::Idle, "nothing we miss");
      --active;
      --waiting;
    }
  }
  useful.insert(useful.end(), members.begin(), members.end());
  for (auto* s : useful) {
    if (active >= config_.max_sources) break;
    s->state = SourceState::Connecting;
    act(act::OpenConnection{s->id, s->address});
    ++active;
  }
}

void Download::bind_connection(const std::string& source, ConnId conn) {
  auto& s = sources_.at(source);
  if (s.conn != 0) unlink(s);
  s.conn = conn;
  conn_to_source_[conn] = &s;
  const auto at = std::lower_bound(linked_.begin(), linked_.end(), &s,
                                   [](const Source* a, const Source* b) { return a->id < b->id; });
  linked_.insert(at, &s);
}

void Download::unlink(Source& s) {
  conn_to_source_.erase(s.conn);
  s.conn = 0;
  std::erase(linked_, &s);
}

Download::Source* Download::source_by_conn(ConnId conn) {
  const auto it = conn_to_source_.find(conn);
  return it == conn_to_source_.end() ? nullptr : it->second;
}

void Download::on_connected(Time now, ConnId conn) {
  Source* s = source_by_conn(conn);
  if (s == nullptr || s->state != SourceState::Connecting) return;
  s->state = SourceState::Pinging;
  send_ping(now, *s);
  // Said either way: it names the file, so the source sends its HAVEs from now on.
  update_interest(*s, true);
}

void Download::update_interest(Source& s, bool always) {
  if (s.conn == 0 || have_.size() == 0) return;
  const bool want = s.has.has_any_missing_from(have_);
  if (want == s.interested && !always) return;
  s.interested = want;
  if (want) {
    send_to(s.conn, PeerInterested{name_, have_.count(), config_.upload_bps});
  } else {
    send_to(s.conn, PeerNotInterested{name_});
  }
}

std::uint32_t Download::pipeline_depth(const Source& s) const {
  const auto bpc = blocks_per_chunk_;
  std::uint32_t depth = 0;
  if (s.srtt && s.throughput > 0 && info_) {
    const double block = block_size();
    const double in_flight = s.throughput * to_seconds(*s.srtt) / std::max(1.0, block);
    depth = static_cast<std::uint32_t>(std::min(1e6, std::ceil(in_flight))) + bpc;
  }
  const auto most = std::max<std::uint32_t>(1, config_.max_inflight_per_peer) * bpc;
  return std::clamp<std::uint32_t>(depth, std::min(config_.min_inflight_per_peer * bpc, most),
                                   most);
}

std::uint32_t Download::block_size() const {
  return std::min(std::max<std::uint32_t>(1, config_.block_size), info_->chunk_size);
}

std::uint32_t Download::blocks_in(std::uint32_t chunk) const {
  const auto len = info_->chunk_length(chunk);
  const auto block = block_size();
  return std::max<std::uint32_t>(1, (len + block - 1) / block);
}

std::uint32_t Download::block_length(std::uint32_t chunk, std::uint32_t block) const {
  const auto size = block_size();
  const auto len = info_->chunk_length(chunk);
  const auto offset = static_cast<std::uint64_t>(block) * size;
  return offset >= len ? 0
                       : static_cast<std::uint32_t>(std::min<std::uint64_t>(size, len - offset));
}

std::uint32_t Download::inflight_total() const {
  // Only a source with a connection has requests out (dropping one requeues them).
  std::uint32_t n = 0;
  for (const Source* s : linked_) n += s->inflight;
  return n;
}

void Download::on_bytes_arrived(Time now, ConnId conn) {
  if (Source* s = source_by_conn(conn)) {
    s->last_heard = now;
    s->silent = false;
  }
}

void Download::send_ping(Time now, Source& s) {
  s.ping_nonce = next_nonce_++;
  s.ping_sent = now;
  send_to(s.conn, PeerPing{*s.ping_nonce});
}

void Download::on_message(Time now, ConnId conn, Message m) {
  Source* s = source_by_conn(conn);
  if (s == nullptr) return;
  s->last_heard = now;
  if (auto* pong = std::get_if<PeerPong>(&m)) {
    if (!s->ping_nonce || pong->nonce != *s->ping_nonce) return;
    const Duration sample = now - s->ping_sent;
    // Smoothed like TCP's SRTT (RFC 6298, alpha = 1/8). Pings travel on the same connection
    // as the chunks, so a busy source's queueing shows up in its samples.
    s->srtt = s->srtt ? (*s->srtt * 7 + sample) / 8 : sample;
    s->ping_nonce.reset();
    if (s->state == SourceState::Pinging) {
      s->state = SourceState::Ready;
      s->ready_at = now;
      log("source_ready", {{"file", name_}, {"peer", s->id}, {"rtt_ms", to_seconds(sample) * 1e3}});
    }
    return schedule(now);
  }
  if (auto* reply = std::get_if<PeerReplyChunk>(&m)) {
    on_block(now, *s, *reply);
    return schedule(now);
  }
  if (std::holds_alternative<PeerUnchoke>(m)) {
    s->unchoked = true;
    return schedule(now);
  }
  if (auto* choke = std::get_if<PeerChoke>(&m)) {
    // The source dropped the requests it names; ask others for those (or it, once it unchokes
    // us again). The chunks it was already sending still arrive.
    s->unchoked = false;
    for (const auto& r : choke->dropped) {
      for (std::uint64_t i = r.first; i <= r.last && i < chunks_.size(); ++i) {
        drop_request(now, static_cast<std::uint32_t>(i), *s);
      }
    }
    return schedule(now);
  }
  if (auto* reject = std::get_if<PeerRejectChunk>(&m)) {
    // A seed spreading its first copies: someone else is getting this one from it. Ask it for
    // another chunk, and this one of others (or of it after the next owner refresh).
    if (reject->index < chunks_.size()) {
      drop_request(now, reject->index, *s);
      s->rejected.insert(reject->index);
    }
    return schedule(now);
  }
  if (auto* have = std::get_if<PeerHave>(&m)) {
    if (have_.size() == 0 || have->index >= have_.size() || s->has.contains(have->index)) return;
    s->has.insert(have->index);
    // One more owner of one chunk: counted in place. A full recount goes over every source
    // the tracker listed, which in a large swarm is most of it, at every HAVE.
    if (!owner_counts_dirty_ && s->state != SourceState::Banned) {
      ++owner_counts_[have->index];
      rarest_dirty_ = true;
    }
    update_interest(*s);
    return schedule(now);
  }
  if (auto* err = std::get_if<ErrorMessage>(&m)) {
    // The source refuses (it no longer holds what we asked, or is overloaded): stop using it.
    // Either way it waits longer for each chance in a row, as each refresh would give it one.
    ++(err->code == ErrorCode::Busy ? s->busy : s->refusals);
    drop_source(now, *s, SourceState::Failed, "source refused: " + err->message);
    maybe_refresh(now, true);
    return schedule(now);
  }
}

void Download::on_block(Time now, Source& s, PeerReplyChunk& reply) {
  const auto i = reply.index;
  s.bytes += reply.data.size();
  s.refusals = 0;
  s.busy = 0;
  if (!info_ || i >= chunks_.size()) return;
  const auto size = block_size();
  const auto b = reply.offset / size;
  const bool aligned = reply.offset % size == 0 && b < blocks_in(i);
  const auto asked = aligned ? remove_asks(i, b, s) : std::nullopt;
  if (asked) {
    // Throughput from the time this block occupied the link: since it was asked for, or
    // since the previous block from this source arrived, whichever is later.
    const Duration busy = now - std::max(*asked, s.last_delivery);
    if (busy > Duration::zero()) {
      const double sample = static_cast<double>(reply.data.size()) / to_seconds(busy);
      s.throughput = s.throughput > 0 ? 0.8 * s.throughput + 0.2 * sample : sample;
    }
  }
  s.last_delivery = now;
  // Asked or not (a request a CHOKE took back, or an end-game twin), a block we still miss is
  // worth keeping: the bytes have crossed the link already.
  if (chunks_[i] == ChunkState::Have || chunks_[i] == ChunkState::Verifying) {
    duplicate_bytes_ += reply.data.size();
    return;
  }
  // ... except for a chunk that must now come whole from one source we chose: a stray block
  // (a twin sent before its cancel arrived) from another would leave it with blocks from two
  // senders that only they could complete.
  if (!asked && one_source_.contains(i)) return;
  if (!aligned || reply.data.size() != block_length(i, b)) {
    if (!asked) return;
    return strike(now, s.id, i, "wrong block offset or length");
  }
  Partial& p = start_chunk(i);
  Block& block = p.blocks[b];
  if (block.in) {
    duplicate_bytes_ += reply.data.size();
    return;
  }
  block.in = true;
  block.data = std::move(reply.data);
  block.from = &s;
  ++p.in;
  p.moved = now;
  // End-game twins of this block are no longer wanted.
  for (const auto& ask : block.asks) {
    auto& other = *ask.source;
    --other.inflight;
    if (other.conn != 0) {
      send_to(other.conn, PeerCancelChunk{name_, i, b * size});
    }
  }
  p.asks -= static_cast<std::uint32_t>(block.asks.size());
  block.asks.clear();
  if (p.in == p.blocks.size()) verify(i, p);
}

void Download::verify(std::uint32_t chunk, Partial& p) {
  Payload data;
  if (p.blocks.size() == 1) {
    data = std::move(p.blocks.front().data);
  } else if (p.blocks.front().data.is_virtual()) {
    data = Payload::virtual_bytes(info_->chunk_length(chunk));  // the simulator counts bytes
  } else {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(info_->chunk_length(chunk));
    for (const auto& b : p.blocks) {
      const auto view = b.data.bytes();
      bytes.insert(bytes.end(), view.begin(), view.end());
    }
    data = Payload::from_vector(std::move(bytes));
  }
  std::vector<std::string> from;
  for (auto& b : p.blocks) {
    b.data = Payload{};
    if (std::find(from.begin(), from.end(), b.from->id) == from.end()) from.push_back(b.from->id);
  }
  chunks_[chunk] = ChunkState::Verifying;
  ++verifying_;
  act(act::WriteChunk{chunk, std::move(data), info_->chunk_hashes[chunk], std::move(from)});
}

Download::Partial& Download::start_chunk(std::uint32_t chunk) {
  auto [it, inserted] = partial_.try_emplace(chunk);
  if (inserted) it->second.blocks.resize(blocks_in(chunk));
  chunks_[chunk] = ChunkState::Requested;
  return it->second;
}

std::optional<Time> Download::remove_asks(std::uint32_t chunk, std::optional<std::uint32_t> block,
                                          Source& s) {
  const auto it = partial_.find(chunk);
  if (it == partial_.end()) return std::nullopt;
  Partial& p = it->second;
  std::optional<Time> sent;
  for (std::uint32_t b = 0; b < p.blocks.size(); ++b) {
    if (block && b != *block) continue;
    auto& asks = p.blocks[b].asks;
    const auto a =
        std::find_if(asks.begin(), asks.end(), [&](const Ask& x) { return x.source == &s; });
    if (a == asks.end()) continue;
    sent = a->sent;
    asks.erase(a);
    --p.asks;
    --s.inflight;
  }
  settle(chunk);
  return sent;
}

void Download::settle(std::uint32_t chunk) {
  const auto it = partial_.find(chunk);
  if (it == partial_.end() || chunks_[chunk] != ChunkState::Requested) return;
  if (it->second.asks == 0 && it->second.in == 0) {
    partial_.erase(it);
    chunks_[chunk] = ChunkState::Missing;
  }
}

void Download::on_closed(Time now, ConnId conn, CloseReason reason) {
  Source* s = source_by_conn(conn);
  if (s == nullptr) return;
  unlink(*s);
  if (finished() || s->state == SourceState::Banned) return;
  drop_source(now, *s, SourceState::Failed, to_string(reason));
  maybe_refresh(now, true);
  connect_more(now);
  schedule(now);
}

void Download::drop_source(Time now, Source& s, SourceState state, std::string_view why) {
  if (state == SourceState::Failed) {
    ++s.failures;
    s.failed_at = now;
  }
  owner_counts_dirty_ = true;
  const bool was_active = s.state == SourceState::Ready || s.state == SourceState::Pinging ||
                          s.state == SourceState::Connecting;
  s.state = state;
  s.ping_nonce.reset();
  s.unchoked = false;
  s.interested = false;
  s.silent = false;
  if (s.conn != 0) {
    act(act::CloseConnection{s.conn});
    unlink(s);
  }
  requeue_from(s);
  if (was_active && state == SourceState::Failed) {
    log("source_failed", {{"file", name_}, {"peer", s.id}, {"reason", why}});
  }
}

void Download::drop_request(Time now, std::uint32_t chunk, Source& s) {
  remove_asks(chunk, std::nullopt, s);
  // A one-source chunk's wait for its sender starts now (restart_stalled_one_source_chunks).
  if (const auto it = partial_.find(chunk); it != partial_.end()) it->second.moved = now;
}

void Download::requeue_from(Source& s) {
  // Chunks it was asked for, and one-source chunks it sent blocks of: those it may hold with
  // nothing asked (a CHOKE took its requests back), and no other source may finish them.
  std::vector<std::uint32_t> chunks;
  for (const auto& [i, p] : partial_) {
    const bool sent = one_source_.contains(i) &&
                      std::any_of(p.blocks.begin(), p.blocks.end(),
                                  [&](const Block& b) { return b.in && b.from == &s; });
    if (p.asks > 0 || sent) chunks.push_back(i);
  }
  for (const auto i : chunks) {
    remove_asks(i, std::nullopt, s);
    // A one-source chunk only its sender may finish: with the sender gone or given up on
    // (timed out), start it over.
    const auto it = partial_.find(i);
    if (it != partial_.end() && one_source_.contains(i) && it->second.asks == 0 &&
        chunks_[i] == ChunkState::Requested) {
      start_over(it, "its sender left or timed out");
    }
  }
  s.inflight = 0;
}

void Download::restart_stalled_one_source_chunks(Time now) {
  for (auto it = partial_.begin(); it != partial_.end();) {
    const auto i = it->first;
    const Partial& p = it->second;
    if (chunks_[i] != ChunkState::Requested || !one_source_.contains(i) || p.asks > 0 ||
        p.in == 0 || now - p.moved < config_.request_timeout) {
      ++it;
      continue;
    }
    // Its blocks all came from one sender. One we may still ask for it is not stuck: it waits
    // on our own limits (the request rate, unverified chunks) or on other chunks' requests.
    const auto in =
        std::find_if(p.blocks.begin(), p.blocks.end(), [](const Block& b) { return b.in; });
    const Source& sender = *in->from;
    if (sender.state == SourceState::Ready && sender.unchoked && !sender.silent &&
        offers(sender, i)) {
      ++it;
      continue;
    }
    it = start_over(it, "its sender choked us or may not be asked");
  }
}

std::map<std::uint32_t, Download::Partial>::iterator Download::start_over(
    std::map<std::uint32_t, Partial>::iterator it, std::string_view why) {
  const auto [i, p] = std::tie(it->first, it->second);
  if (p.in > 0) {
    log("chunk_restarted",
        {{"file", name_}, {"index", i}, {"blocks_dropped", p.in}, {"reason", std::string(why)}});
  }
  chunks_[i] = ChunkState::Missing;
  return partial_.erase(it);
}

// ---- scheduling -----------------------------------------------------------------------------

const std::vector<std::uint32_t>& Download::owner_counts() {
  // Recounted only when an owner map changes (a HAVE is counted as it arrives); schedule()
  // asks on every delivery.
  if (owner_counts_dirty_) {
    owner_counts_.assign(chunks_.size(), 0);
    for (const auto& [id, s] : sources_) {
      // The tracker's latest answer says who is online; only a banned source does not count.
      if (s.state == SourceState::Banned) continue;
      s.has.add_to_counts(owner_counts_);
    }
    owner_counts_dirty_ = false;
    rarest_dirty_ = true;
  }
  if (rarest_dirty_ && config_.chunk_strategy == ChunkStrategy::RarestFirst) {
    rarest_.rebuild(owner_counts_, [&](std::uint32_t i) { return chunks_[i] != ChunkState::Have; });
  }
  rarest_dirty_ = false;
  return owner_counts_;
}

std::optional<std::uint32_t> Download::pick_next(const Source& s) {
  if (config_.chunk_strategy == ChunkStrategy::RarestFirst) {
    using Verdict = RarestFirstIndex::Verdict;
    return rarest_.pick(
        [&](std::uint32_t i) {
          if (chunks_[i] == ChunkState::Have) return Verdict::Drop;
          return chunks_[i] == ChunkState::Missing && offers(s, i) ? Verdict::Ask : Verdict::Skip;
        },
        rng_);
  }
  std::vector<std::uint32_t> candidates;
  for (std::uint32_t i = 0; i < chunks_.size(); ++i) {
    if (chunks_[i] == ChunkState::Missing && offers(s, i)) candidates.push_back(i);
  }
  return pick_chunk(config_.chunk_strategy, candidates, owner_counts_, rng_);
}

void Download::schedule(Time now) {
  if (phase_ != Phase::Running) return;
  request_more(now);
  for (Source* s : linked_) update_interest(*s);
}

void Download::request_more(Time now) {
  std::vector<Source*> free;
  auto refresh_free = [&] {
    free.clear();
    for (Source* s : linked_) {
      if (may_ask(*s)) free.push_back(s);
    }
  };
  refresh_free();
  if (free.empty() || verifying_ >= config_.max_unverified) return;
  owner_counts();  // up to date, with the rarest-first index
  // The source first (by the peer strategy), then what it should send: the next block of a
  // chunk in progress that it holds (a chunk whole soon is a chunk we can pass on), else the
  // first block of a new chunk by the chunk strategy, among what it holds. Every source that
  // unchoked us gets asked for what only it can give, and a fast owner of everything (a seed)
  // is not asked for chunks that others hold.
  const auto most = config_.max_inflight_total * blocks_per_chunk_;
  auto total = inflight_total();
  std::vector<Source*> askable = free;
  while (total < most && !askable.empty()) {
    if (!rate_allows(now)) return;
    Source* s = pick_free_owner(askable, std::nullopt, nullptr);
    std::optional<std::pair<std::uint32_t, std::uint32_t>> next = next_block_for(*s);
    if (!next) {
      if (const auto chunk = pick_next(*s)) next = {{*chunk, 0}};
    }
    if (!next) {
      std::erase(askable, s);
      continue;
    }
    send_request(now, next->first, next->second, *s);
    ++total;
    if (s->inflight >= pipeline_depth(*s)) std::erase(askable, s);
  }
  refresh_free();
  if (!config_.end_game || free.empty()) return;
  // End-game: nothing is left to ask for for the first time, so ask a second owner for
  // blocks still in flight; the first copy in wins and the other request is cancelled. (Not
  // while a chunk nobody was asked for waits on sources that choked us: in a swarm short of
  // seed upload that is most of the time, and regression/scarce-seed-small was 5 % slower.)
  const bool all_asked =
      std::none_of(chunks_.begin(), chunks_.end(),
                   [](ChunkState c) { return c == ChunkState::Missing; }) &&
      std::none_of(free.begin(), free.end(), [&](Source* s) { return next_block_for(*s); });
  if (!all_asked) return;
  // Twins cost: a block already on its way from the first source is sent twice. So a block
  // gets one only when a free source would bring it in half the time, or near the end (the
  // last end_game_chunks chunks' worth of blocks) when there is nothing to judge by.
  std::uint64_t left = 0;
  for (const auto& [i, p] : partial_) {
    if (chunks_[i] == ChunkState::Requested) left += p.blocks.size() - p.in;
  }
  const bool near_end =
      left <= static_cast<std::uint64_t>(config_.end_game_chunks) * blocks_per_chunk_;
  // By source, in the order asked: its queue for us. One sorted list, grouped by source (in
  // no meaningful order of sources), as this runs after every input in the end-game.
  struct Queued {
    const Source* source;
    std::uint64_t seq;
    Time sent;
  };
  // std::less: a total order on pointers, which `<` is not.
  const auto in_queue_order = [](const Queued& l, const Queued& r) {
    if (l.source != r.source) return std::less<>{}(l.source, r.source);
    return std::tie(l.seq, l.sent) < std::tie(r.seq, r.sent);
  };
  std::vector<Queued> asked;
  for (const auto& [i, p] : partial_) {
    for (const auto& block : p.blocks) {
      if (block.in) continue;
      for (const auto& ask : block.asks) asked.push_back({ask.source, ask.seq, ask.sent});
    }
  }
  std::sort(asked.begin(), asked.end(), in_queue_order);
  // Every block in flight that may get help, and when it is expected from those asked for it
  // (the soonest of them; none if one of them has given nothing to judge by yet).
  struct Stuck {
    std::uint32_t chunk;
    std::uint32_t block;
    std::optional<double> waiting;
    std::uint32_t behind;  // blocks asked before it of its only source
  };
  std::vector<Stuck> stuck;
  for (const auto& [i, p] : partial_) {
    if (chunks_[i] != ChunkState::Requested || one_source_.contains(i)) continue;
    for (std::uint32_t b = 0; b < p.blocks.size(); ++b) {
      const auto& block = p.blocks[b];
      if (block.in || block.asks.empty() || block.asks.size() >= kMostAsksPerBlock) continue;
      Stuck x{i, b, std::nullopt, 0};
      bool known = true;
      for (const auto& ask : block.asks) {
        const auto queue = std::lower_bound(asked.begin(), asked.end(),
                                            Queued{ask.source, 0, Time::min()}, in_queue_order);
        const auto at = std::lower_bound(queue, asked.end(), Queued{ask.source, ask.seq, ask.sent},
                                         in_queue_order);
        x.behind = static_cast<std::uint32_t>(at - queue);
        const auto eta = expected_wait(now, *ask.source, x.behind, queue->sent);
        known = known && eta.has_value();
        if (eta && (!x.waiting || *eta < *x.waiting)) x.waiting = eta;
      }
      if (!known) x.waiting.reset();
      stuck.push_back(x);
    }
  }
  // The block expected last gets help first.
  std::stable_sort(stuck.begin(), stuck.end(), [](const Stuck& a, const Stuck& b) {
    return a.waiting.value_or(-1.0) > b.waiting.value_or(-1.0);
  });
  const auto size = block_size();
  for (const auto& x : stuck) {
    if (free.empty()) break;
    if (!rate_allows(now)) return;
    auto& block = partial_.at(x.chunk).blocks[x.block];
    // The free owner, not asked for it yet, that would bring it soonest.
    Source* second = nullptr;
    std::optional<double> soonest;
    std::vector<Source*> unknown;  // free owners that have sent us nothing to judge by
    for (Source* s : free) {
      if (!offers(*s, x.chunk) || std::any_of(block.asks.begin(), block.asks.end(),
                                              [&](const Ask& a) { return a.source == s; }))
        continue;
      const auto eta = expected_wait(now, *s, s->inflight, now);
      if (!eta) {
        unknown.push_back(s);
      } else if (!soonest || *eta < *soonest) {
        second = s;
        soonest = eta;
      }
    }
    const bool much_sooner = second != nullptr && x.waiting && *soonest < 0.5 * *x.waiting;
    if (much_sooner && block.asks.size() == 1 && x.behind > 0 && !block.asks.front().moved) {
      // Queued behind others at its only source, so probably not sent yet: it moves, and the
      // first source is told to drop it. If the source had read it already (it reads a little
      // ahead), it still comes, and counts as a duplicate.
      const Ask first = block.asks.front();
      send_request(now, x.chunk, x.block, *second);
      block.asks.back().moved = true;
      remove_asks(x.chunk, x.block, *first.source);
      if (const auto& from = *first.source; from.conn != 0) {
        send_to(from.conn, PeerCancelChunk{name_, x.chunk, x.block * size});
      }
      log("request_moved", {{"file", name_},
                            {"index", x.chunk},
                            {"offset", x.block * size},
                            {"from", first.source->id},
                            {"peer", second->id}});
      refresh_free();
      continue;
    }
    bool twin = much_sooner;
    if (!twin && near_end && block.asks.size() == 1 && (!x.waiting || second == nullptr)) {
      if (second == nullptr) second = pick_free_owner(unknown, std::nullopt, nullptr);
      twin = second != nullptr;
    }
    if (!twin) continue;
    send_request(now, x.chunk, x.block, *second);
    log("endgame_request",
        {{"file", name_}, {"index", x.chunk}, {"offset", x.block * size}, {"peer", second->id}});
    refresh_free();
  }
}

Download::Waiting Download::waiting() const {
  Waiting w;
  if (phase_ != Phase::Running) return w;
  auto missing = [&](std::uint32_t i) { return chunks_[i] == ChunkState::Missing; };
  for (const Source* s : linked_) {
    if (!may_ask(*s) || next_block_for(*s)) continue;
    bool fresh = false;
    for (std::uint32_t i = 0; i < chunks_.size() && !fresh; ++i) {
      fresh = missing(i) && offers(*s, i);
    }
    if (!fresh) ++w.idle_sources;
  }
  for (std::uint32_t i = 0; i < chunks_.size(); ++i) {
    if (!missing(i)) continue;
    bool owned = false, free = false;
    for (const Source* s : linked_) {
      if (s->state != SourceState::Ready || !s->has.contains(i)) continue;
      owned = true;
      free = free || (may_ask(*s) && offers(*s, i));
    }
    if (owned && !free) ++w.chunks_on_busy_owners;
  }
  return w;
}

std::optional<double> Download::expected_wait(Time now, const Source& s, std::uint32_t ahead,
                                              Time asked_since) const {
  // A block's time at its rate to us; a source that has sent nothing for longer than that
  // while asked is judged by its silence instead: a source whose link or queue stalled does
  // not keep the blocks asked of it on the strength of its past rate. A source that never
  // sent us anything is judged by its silence alone, once asked.
  const double quiet =
      s.inflight > 0 ? to_seconds(now - std::max(s.last_delivery, asked_since)) : 0.0;
  if (s.throughput <= 0 && quiet <= 0) return std::nullopt;  // nothing to judge by
  const double per_block = std::max(s.throughput > 0 ? block_size() / s.throughput : 0.0, quiet);
  const double rtt = s.srtt ? to_seconds(*s.srtt) : 0.0;
  return rtt + (ahead + 1) * per_block;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> Download::next_block_for(
    const Source& s) const {
  for (const auto& [i, p] : partial_) {
    if (chunks_[i] != ChunkState::Requested || p.in + p.asks >= p.blocks.size() || !offers(s, i))
      continue;
    std::optional<std::uint32_t> first;
    bool others = false;  // blocks of a one-source chunk asked of, or sent by, someone else
    for (std::uint32_t b = 0; b < p.blocks.size(); ++b) {
      const auto& block = p.blocks[b];
      if (!block.in && block.asks.empty() && !first) first = b;
      others = others || (block.in && block.from != &s) ||
               std::any_of(block.asks.begin(), block.asks.end(),
                           [&](const Ask& a) { return a.source != &s; });
    }
    if (first && !(others && one_source_.contains(i))) return {{i, *first}};
  }
  return std::nullopt;
}

Download::Source* Download::pick_free_owner(const std::vector<Source*>& free,
                                            std::optional<std::uint32_t> chunk,
                                            const std::string* except) {
  able_.clear();
  candidates_.clear();
  for (auto* s : free) {
    if ((chunk && !offers(*s, *chunk)) || (except != nullptr && s->id == *except)) continue;
    able_.push_back(s);
    candidates_.push_back({s->srtt, s->throughput});
  }
  const auto pick = pick_source(config_.peer_strategy, candidates_, rng_);
  return pick ? able_[*pick] : nullptr;
}

void Download::send_request(Time now, std::uint32_t chunk, std::uint32_t block, Source& s) {
  const auto size = block_size();
  send_to(s.conn, PeerRequestChunk{name_, chunk, block * size, block_length(chunk, block)});
  request_pace_.take(block_length(chunk, block));
  Partial& p = start_chunk(chunk);
  p.blocks[block].asks.push_back(Ask{&s, now, next_ask_++});
  ++p.asks;
  p.moved = now;
  ++s.inflight;
}

void Download::on_written(Time now, std::uint32_t index, const StoreResult& result) {
  if (finished() || index >= chunks_.size() || chunks_[index] != ChunkState::Verifying) return;
  --verifying_;
  // Who sent its bytes: the main sender, and every sender's share when there were several.
  std::map<std::string, std::uint64_t> senders;
  if (const auto it = partial_.find(index); it != partial_.end()) {
    for (std::uint32_t b = 0; b < it->second.blocks.size(); ++b) {
      senders[it->second.blocks[b].from->id] += block_length(index, b);
    }
    partial_.erase(it);
  }
  std::string from;
  std::uint64_t most = 0;
  for (const auto& [id, bytes] : senders) {
    if (bytes > most) std::tie(from, most) = std::tie(id, bytes);
  }
  auto sender_fields = [&](nlohmann::json fields) {
    fields["from"] = from;
    if (senders.size() > 1) fields["sources"] = senders;
    return fields;
  };
  if (result.status) {
    chunks_[index] = ChunkState::Have;
    have_.insert(index);
    const auto bytes = info_->chunk_length(index);
    bytes_have_ += bytes;
    // Only a connected source can hear of it or be interesting (linked_ is in id order, as
    // sources_ is; sources_ also holds every owner the tracker ever named).
    for (Source* src : linked_) {
      // Every source hears how far along we are (it serves those furthest behind first).
      if (src->state == SourceState::Pinging || src->state == SourceState::Ready) {
        send_to(src->conn, PeerHave{name_, index}, /*may_wait=*/true);
      }
      if (src->interested) update_interest(*src);
    }
    log("chunk_received", sender_fields({{"file", name_}, {"index", index}, {"bytes", bytes}}));
    act(act::OfferChunk{index});
    if (have_.complete()) return finalize(now);
    return schedule(now);
  }
  const auto& e = result.status.error();
  if (e.code == ErrorCode::HashMismatch) {
    chunks_[index] = ChunkState::Missing;
    if (senders.size() == 1) {
      strike(now, from, index, "SHA-256 mismatch");
    } else {
      // One of several senders lied, and the hash cannot say which: the next copy comes whole
      // from one source, which then answers for it.
      one_source_.insert(index);
      log("verification_failed",
          sender_fields({{"file", name_}, {"index", index}, {"reason", "SHA-256 mismatch"}}));
    }
    return schedule(now);
  }
  fail(make_error(e.code == ErrorCode::IoError ? ErrorCode::IoError : e.code,
                  "cannot store chunk " + std::to_string(index) + " of \"" + name_ +
                      "\": " + e.message + "; " + std::to_string(have_.count()) +
                      " verified chunks are kept"));
}

void Download::strike(Time now, const std::string& source_id, std::uint32_t chunk,
                      std::string_view why) {
  if (chunks_[chunk] == ChunkState::Verifying) {
    chunks_[chunk] = ChunkState::Missing;
    --verifying_;
  }
  log("verification_failed",
      {{"file", name_}, {"index", chunk}, {"from", source_id}, {"reason", why}});
  const auto it = sources_.find(source_id);
  if (it == sources_.end()) return;
  Source& s = it->second;
  if (++s.strikes >= config_.max_strikes && s.state != SourceState::Banned) {
    log("peer_banned", {{"file", name_}, {"peer", s.id}, {"strikes", s.strikes}});
    drop_source(now, s, SourceState::Banned, "banned");
    maybe_refresh(now, true);
    connect_more(now);
  }
}

std::string Download::no_owner_text(std::uint32_t orphaned) const {
  std::string text = std::to_string(orphaned) + " of " + std::to_string(info_->chunk_count()) +
                     " chunks have no online owner";
  // Owners this download banned still hold them: say so, or "no owner" reads as a tracker
  // or network problem when the cause is a source that sent corrupt data.
  std::vector<std::string> banned;
  for (const auto& [id, s] : sources_) {
    if (s.state == SourceState::Banned && s.has.has_any_missing_from(have_)) banned.push_back(id);
  }
  if (banned.empty()) return text;
  text += " other than ";
  for (std::size_t i = 0; i < banned.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == banned.size() ? " and " : ", ") + banned[i];
  }
  return text + ", banned for sending corrupt chunks";
}

std::uint32_t Download::missing_without_owner() {
  const auto& owners = owner_counts();
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < chunks_.size(); ++i) {
    if (chunks_[i] != ChunkState::Have && owners[i] == 0) ++n;
  }
  return n;
}

void Download::maybe_refresh(Time now, bool urgent) {
  if (refresh_pending_ || !tracker_online_) return;
  if (urgent && now - last_refresh_ < config_.min_refresh_gap) {
    // Asked once the gap is over (on_deadline): refusals in a row make one refresh.
    refresh_wanted_ = true;
    const Time due = last_refresh_ + config_.min_refresh_gap;
    deadline_ = deadline_ ? std::min(*deadline_, due) : due;
    return;
  }
  if (!urgent && now - last_refresh_ < refresh_gap_) return;
  refresh_wanted_ = false;
  if (!urgent) refresh_gap_ = std::min(refresh_gap_ * 2, config_.refresh_interval);
  refresh_pending_ = true;
  // A refresh asks for owners only once the hash list outweighs what an owner list may
  // (the header limit): then it is the bulk of the reply (512 KiB per refresh for 8 GiB).
  // Below that, leaving it out changes nothing that matters, and the simulated swarms were
  // measured slightly slower without it (docs/models.md, "Location replies").
  act(act::AskOwners{!info_ || std::uint64_t{info_->chunk_count()} * 32 <= kMaxHeaderBytes});
}

bool Download::rate_allows(Time now) {
  // A quarter second of allowance at most: short bursts after a pause, no flood.
  paced_until_ = request_pace_.wait_until(now, config_.rate_limit_bps, 250ms);
  return !paced_until_;
}

void Download::on_deadline(Time now) {
  if (paced_until_ && now >= *paced_until_) {
    paced_until_.reset();
    schedule(now);
  }
  if (!deadline_ || now < *deadline_) return;
  deadline_.reset();
  if (refresh_wanted_ && (phase_ == Phase::Running || phase_ == Phase::Locating)) {
    maybe_refresh(now, true);
  }
  if (phase_ == Phase::Locating && !finished()) return maybe_refresh(now, true);  // asking again
  if (phase_ != Phase::Running) return;
  // Pinging and ready sources are connected: linked_, copied since a stalled one is unlinked.
  const auto linked = linked_;
  for (Source* source : linked) {
    Source& s = *source;
    const bool active = s.state == SourceState::Ready || s.state == SourceState::Pinging;
    if (!active) continue;
    // Stalled: a ping is unanswered and nothing else has come either. Pings queue behind
    // chunks on a busy source's connection, so chunk data counts as a sign of life.
    if (s.ping_nonce && now - std::max(s.ping_sent, s.last_heard) >= config_.stall_timeout) {
      drop_source(now, s, SourceState::Failed, "no answer to ping");
      maybe_refresh(now, true);
    } else if (!s.ping_nonce && s.state == SourceState::Ready &&
               now - s.ping_sent >= config_.ping_interval) {
      send_ping(now, s);
    }
    if (s.state == SourceState::Ready && s.inflight > 0 &&
        now - s.last_heard >= config_.request_timeout) {
      Time oldest = now;
      for (const auto& [i, p] : partial_) {
        for (const auto& b : p.blocks) {
          for (const auto& a : b.asks) {
            if (a.source == &s) oldest = std::min(oldest, a.sent);
          }
        }
      }
      if (now - oldest >= config_.request_timeout) {
        log("requests_timed_out", {{"file", name_}, {"peer", s.id}, {"requests", s.inflight}});
        requeue_from(s);
        s.silent = true;
      }
    }
  }
  restart_stalled_one_source_chunks(now);
  maybe_refresh(now, false);
  connect_more(now);
  schedule(now);
  if (now - last_progress_ >= config_.progress_interval) report_progress(now);
  // (A refresh deferred during this tick may have set an earlier deadline.)
  deadline_ = std::min(deadline_.value_or(Time::max()), now + config_.tick_interval);
}

void Download::report_progress(Time now) {
  const double window = to_seconds(now - last_progress_);
  if (window > 0) {
    const double sample = static_cast<double>(bytes_have_ - bytes_at_last_progress_) * 8 / window;
    rate_bps_ = rate_bps_ > 0 ? 0.5 * rate_bps_ + 0.5 * sample : sample;
    // Each source's recent rate likewise (the peers view): what arrived, not how fast one
    // chunk came once asked, which on a LAN says little.
    for (auto& [id, s] : sources_) {
      const double got = static_cast<double>(s.bytes - s.bytes_at_last_progress) * 8 / window;
      s.recent_bps = s.recent_bps > 0 ? 0.5 * s.recent_bps + 0.5 * got : got;
      s.bytes_at_last_progress = s.bytes;
    }
  }
  last_progress_ = now;
  bytes_at_last_progress_ = bytes_have_;
  const auto st = status();
  act(act::Tell{DownloadProgress{name_, st.bytes_have, st.bytes_total, st.chunks_have,
                                 st.chunks_total, rate_bps_, st.sources}});
}

// ---- the end --------------------------------------------------------------------------------

void Download::finalize(Time now) {
  phase_ = Phase::Finalizing;
  close_all_sources();
  act(act::FinishFile{});
  (void)now;
}

void Download::on_finalized(Time now, const StoreResult& result) {
  if (phase_ != Phase::Finalizing) return;
  if (!result.status) {
    return fail(make_error(result.status.error().code,
                           "cannot finish " + dest_ + ": " + result.status.error().message));
  }
  phase_ = Phase::Completed;
  deadline_.reset();
  act(act::FileCompleted{});
  const double secs = to_seconds(now - started_);
  std::uint32_t used = 0;
  for (const auto& [id, s] : sources_) used += s.bytes > 0 ? 1 : 0;
  log("download_completed", {{"file", name_},
                             {"duration", secs},
                             {"bytes", info_->size},
                             {"resumed_chunks", resumed_chunks_},
                             {"sources_used", used},
                             {"duplicate_bytes", duplicate_bytes_}});
  act(act::Tell{DownloadCompleted{name_, dest_, now - started_, info_->size, resumed_chunks_,
                                  info_->size - resumed_bytes_}});
}

void Download::fail(Error error) {
  if (finished()) return;
  const bool had_started = phase_ == Phase::Running || phase_ == Phase::Finalizing;
  phase_ = Phase::Failed;
  error_ = error;
  deadline_.reset();
  paced_until_.reset();
  close_all_sources();
  if (had_started && error.code == ErrorCode::DownloadIncomplete) act(act::WithdrawFile{});
  const std::uint32_t missing = info_ ? info_->chunk_count() - have_.count() : 0;
  log("download_failed", {{"file", name_},
                          {"code", to_string(error.code)},
                          {"message", error.message},
                          {"missing_chunks", missing}});
  act(act::Tell{DownloadFailed{name_, dest_, error, missing}});
}

void Download::close_all_sources() {
  refresh_wanted_ = false;
  for (auto& [id, s] : sources_) {
    if (s.conn != 0) act(act::CloseConnection{s.conn});
    s.conn = 0;
    if (s.state != SourceState::Banned) s.state = SourceState::Idle;
    s.inflight = 0;
    s.unchoked = false;
    s.interested = false;
  }
  conn_to_source_.clear();
  linked_.clear();
  for (auto it = partial_.begin(); it != partial_.end();) {
    if (chunks_[it->first] != ChunkState::Requested) {
      ++it;
      continue;
    }
    chunks_[it->first] = ChunkState::Missing;
    it = partial_.erase(it);
  }
}

void Download::stop([[maybe_unused]] Time now) {
  if (finished()) return;
  deadline_.reset();
  close_all_sources();
  phase_ = Phase::Stopped;
  paced_until_.reset();
  log("download_paused", {{"file", name_}, {"chunks", have_.count()}});
}

void Download::abort([[maybe_unused]] Time now) {
  deadline_.reset();
  paced_until_.reset();
  close_all_sources();
  if (!finished()) {
    phase_ = Phase::Failed;
    error_ = make_error(ErrorCode::Closed, "the peer is shutting down");
    log("download_stopped", {{"file", name_}, {"chunks", have_.count()}});
  }
}

DownloadStatus Download::status() const {
  DownloadStatus st;
  st.name = name_;
  st.dest = dest_;
  st.phase = phase_;
  st.error = error_;
  st.chunks_have = have_.count();
  st.chunks_total = info_ ? info_->chunk_count() : 0;
  st.bytes_have = bytes_have_;
  st.bytes_total = info_ ? info_->size : 0;
  st.rate_bps = rate_bps_;
  for (const auto& [id, s] : sources_) {
    if (s.state != SourceState::Ready) continue;
    ++st.sources;
    st.connected.push_back(
        {s.id, s.address, s.srtt, s.recent_bps, s.bytes, s.inflight, s.unchoked});
  }
  return st;
}

}  // namespace swarmlab

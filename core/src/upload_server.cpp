#include "swarmlab/upload_server.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

#include "swarmlab/units.hpp"

namespace swarmlab {

namespace act = upload_action;

UploadServer::UploadServer(UploadConfig config, Held held)
    : config_(std::move(config)), held_(std::move(held)), rng_(config_.seed) {
}

std::optional<UploadAction> UploadServer::poll_action() {
  if (actions_.empty()) return std::nullopt;
  UploadAction a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

std::optional<Time> UploadServer::next_deadline() const {
  std::optional<Time> t = next_rechoke_;
  if (next_pump_ && (!t || *next_pump_ < *t)) t = next_pump_;
  if (!delayed_.empty() && (!t || delayed_.front().due < *t)) t = delayed_.front().due;
  if (const auto quiet = quietest();
      quiet != conns_.end() && config_.idle_timeout > Duration::zero()) {
    const Time due = quiet->second.last_heard + config_.idle_timeout;
    if (!t || due < *t) t = due;
  }
  for (const auto& [conn, c] : conns_) {
    if (!c.hearing) continue;
    const Time due = c.accepted + config_.evict_nameless_after;
    if (!t || due < *t) t = due;
  }
  return t;
}

std::map<ConnId, UploadServer::Conn>::const_iterator UploadServer::quietest() const {
  return std::min_element(conns_.begin(), conns_.end(), [](const auto& a, const auto& b) {
    return a.second.last_heard < b.second.last_heard;
  });
}

void UploadServer::drop(Time now, ConnId conn) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  act(act::CloseConnection{conn});
  on_closed(now, conn);
}

std::size_t UploadServer::unchoked() const {
  return static_cast<std::size_t>(
      std::count_if(conns_.begin(), conns_.end(), [](const auto& e) { return e.second.unchoked; }));
}

UploadServer::Load UploadServer::load() const {
  Load l;
  for (const auto& [conn, c] : conns_) {
    for (const auto& r : c.queue) l.queued_bytes += r.length;
    if (c.interested && c.asks_nothing()) ++l.unchoked_asking_none;
  }
  return l;
}

std::map<ConnId, UploadServer::Conn>::const_iterator UploadServer::evictable(Time now) const {
  auto victim = conns_.end();
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    const Conn& c = it->second;
    // A hearing holds no place (end_hearings closes it in time).
    if (c.hearing || c.unchoked || !c.queue.empty() || !c.out.empty()) continue;
    const bool nameless = c.file.empty() && now - c.accepted >= config_.evict_nameless_after;
    if (!nameless && now - c.last_heard < config_.evict_silent_after) continue;
    if (victim == conns_.end() || c.last_heard < victim->second.last_heard) victim = it;
  }
  return victim;
}

std::string UploadServer::busy_text() const {
  return "already serving " + std::to_string(conns_.size() - hearings()) +
         " downloaders; try again later";
}

void UploadServer::refuse(Time now, ConnId conn, std::string why) {
  send_to(conn, ErrorMessage{0, ErrorCode::Busy, std::move(why), ""});
  drop(now, conn);
}

bool UploadServer::on_accepted(Time now, ConnId conn) {
  const auto full = [&] {
    return config_.max_connections > 0 && conns_.size() - hearings() >= config_.max_connections;
  };
  if (full()) {
    // Full: a connection that is no downloader, or says nothing and is not being served,
    // gives way.
    if (const auto victim = evictable(now); victim != conns_.end()) {
      const Conn& v = victim->second;
      refuse(now, victim->first,
             v.file.empty()
                 ? "closing a connection that named no file in " +
                       format_duration(now - v.accepted) + ": another downloader needs it"
                 : "closing a connection that said nothing for " +
                       format_duration(now - v.last_heard) + ": another downloader needs it");
    }
  }
  bool hearing = false;
  if (full()) {
    end_hearings(now);
    if (hearings() >= config_.hearings) {
      turned_away_ = true;
      send_to(conn, ErrorMessage{0, ErrorCode::Busy, busy_text(), ""});
      act(act::CloseConnection{conn});
      return false;
    }
    hearing = true;
  }
  Conn c;
  c.since = now;
  c.last_heard = now;
  c.accepted = now;
  c.hearing = hearing;
  c.draw = rng_.next();
  conns_.emplace(conn, std::move(c));
  return true;
}

void UploadServer::hear(Time now, ConnId conn, Conn& c) {
  // A place came free while it waited: it takes that one.
  if (conns_.size() - hearings() < config_.max_connections) {
    c.hearing = false;
    return set_interest(now, conn, c, c.file, true);
  }
  // The downloader furthest along, of those that do not upload faster than the newcomer (a
  // fast uploader passes its chunks on sooner than the newcomer would); of equals, one not
  // being served loses the least.
  auto victim = conns_.end();
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    const Conn& o = it->second;
    if (o.hearing || o.file != c.file || uploads_faster(o, c)) continue;
    if (victim == conns_.end() || held(o) > held(victim->second) ||
        (held(o) == held(victim->second) && victim->second.unchoked && !o.unchoked)) {
      victim = it;
    }
  }
  if (victim != conns_.end() && 2 * std::uint64_t{held(c)} < held(victim->second)) {
    const ConnId gone = victim->first;
    const std::string why = "closing this connection for a downloader further behind (it holds " +
                            std::to_string(held(c)) + " chunks, this one " +
                            std::to_string(held(victim->second)) + "); try again later";
    // The newcomer first: if the one that goes held a slot, the newcomer ranks for it.
    c.hearing = false;
    set_interest(now, conn, c, c.file, true);
    return refuse(now, gone, why);
  }
  turned_away_ = true;
  refuse(now, conn,
         "already serving " + std::to_string(conns_.size() - hearings()) +
             " downloaders, none twice as far along as you and no faster; try again later");
}

void UploadServer::end_hearings(Time now) {
  std::vector<ConnId> over;
  for (const auto& [conn, c] : conns_) {
    if (c.hearing && now - c.accepted >= config_.evict_nameless_after) over.push_back(conn);
  }
  for (const ConnId conn : over) {
    turned_away_ = true;
    refuse(now, conn, busy_text());
  }
}

void UploadServer::on_closed(Time now, ConnId conn) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  const bool freed = it->second.unchoked;
  conns_.erase(it);
  // A first copy cut off with its connection never reached the swarm: the chunk is again one
  // no one got, and the next downloader to ask gets it. Otherwise an origin spreading first
  // copies refuses it to everyone while it spreads, and the swarm waits for it at the end
  // (flash-crowd with hearings: the last chunks first reached a leecher at 44-54 s of a 61 s
  // run).
  for (auto& [name, spread] : spread_) {
    for (std::size_t i = 0; i < spread.first_to.size(); ++i) {
      if (spread.first_to[i] == conn && !spread.whole[i]) spread.first_to[i] = 0;
    }
  }
  if (freed) fill_slots(now);
}

void UploadServer::shutdown() {
  for (const auto& [conn, c] : conns_) act(act::CloseConnection{conn});
  conns_.clear();
  delayed_.clear();
  next_rechoke_.reset();
}

void UploadServer::on_message(Time now, ConnId conn, Message m) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  c.last_heard = now;
  if (auto* ping = std::get_if<PeerPing>(&m)) return reply(now, conn, PeerPong{ping->nonce}, false);
  if (auto* req = std::get_if<PeerRequestChunk>(&m))
    return on_request(now, conn, c, std::move(*req));
  if (auto* i = std::get_if<PeerInterested>(&m)) {
    if (i->name != c.file) {
      c.sent_whole = 0;
      c.sent_of.clear();
    }
    c.holds = i->have;
    c.upload_bps = i->upload_bps;
    if (c.hearing) {
      c.file = i->name;
      return hear(now, conn, c);
    }
    return set_interest(now, conn, c, i->name, true);
  }
  // The downloader verified a chunk: it is that much further along.
  if (auto* have = std::get_if<PeerHave>(&m)) {
    if (have->name != c.file) return;
    c.sent_of.erase(have->index);
    if (c.holds < UINT32_MAX) ++c.holds;
    // The chunk is in the swarm now, whoever sent it: no first copy of it is awaited any more.
    if (auto sp = spread_.find(c.file); sp != spread_.end()) sp->second.mark_whole(have->index);
    // Not at a seed: who gets its chunks matters less than that its uplink never idles, and
    // the newcomer's requests take a round trip to come.
    if (config_.newcomers_first && c.unchoked && !seeding(c.file) && newcomer_waits(c)) {
      choke(now, conn, c);
      fill_slots(now);
    }
    return;
  }
  if (auto* n = std::get_if<PeerNotInterested>(&m)) {
    if (c.hearing) {
      return refuse(now, conn, busy_text());
    }
    return set_interest(now, conn, c, n->name, false);
  }
  if (auto* cancel = std::get_if<PeerCancelChunk>(&m)) {
    std::erase_if(c.queue, [&](const PeerRequestChunk& r) {
      return r.name == cancel->name && r.index == cancel->index &&
             (!cancel->offset || r.offset == *cancel->offset);
    });
    return release_first_copies(conn, c, cancel->index);
  }
  if (std::holds_alternative<ErrorMessage>(m) || std::holds_alternative<PeerPong>(m)) return;
  send_to(conn, ErrorMessage{0, ErrorCode::UnknownMessage,
                             std::string(message_type(m)) + " is not a peer-to-peer request",
                             std::string(message_type(m))});
}

void UploadServer::on_request(Time now, ConnId conn, Conn& c, PeerRequestChunk r) {
  const auto [file, held] = held_(r.name);
  if (file == nullptr || held == nullptr || !held->contains(r.index)) {
    return send_to(conn, ErrorMessage{0, ErrorCode::NotFound,
                                      "this peer does not hold chunk " + std::to_string(r.index) +
                                          " of \"" + r.name + "\"",
                                      "PEER_REQUEST_CHUNK"});
  }
  r.length = file->block_length(r.index, r.offset, r.length);
  if (r.length == 0) {
    return send_to(conn, ErrorMessage{0, ErrorCode::OutOfRange,
                                      "offset " + std::to_string(r.offset) + " and length are " +
                                          "not within chunk " + std::to_string(r.index) + " of \"" +
                                          r.name + "\"",
                                      "PEER_REQUEST_CHUNK"});
  }
  if (const auto [it, first] = spread_.try_emplace(r.name); first) {
    it->second.origin = held->complete();
    it->second.first_to.resize(held->size());
    it->second.whole.resize(held->size());
    it->second.moved.resize(held->size());
  }
  // A request that crossed our CHOKE on the wire (or came unasked): dropped, and said so.
  if (!c.unchoked) return send_to(conn, PeerChoke{r.name, {{r.index, r.index}}});
  // Said at once, while the downloader's other requests keep this connection busy.
  if (spread_first(now, r, conn)) return reject_chunk(conn, c, r);
  if (c.queue.size() >= config_.max_queued_requests) {
    return send_to(conn, ErrorMessage{0, ErrorCode::Busy,
                                      "more than " + std::to_string(config_.max_queued_requests) +
                                          " requests queued on this connection",
                                      "PEER_REQUEST_CHUNK"});
  }
  c.queue.push_back(std::move(r));
  pump_reads(now);
}

void UploadServer::set_interest(Time now, ConnId conn, Conn& c, const std::string& name,
                                bool interested) {
  c.file = name;
  if (c.interested == interested) return;
  c.interested = interested;
  if (!interested) {
    if (c.unchoked) {
      choke(now, conn, c);
      fill_slots(now);
    }
    return;
  }
  if (!next_rechoke_) next_rechoke_ = now + config_.rechoke_interval;
  fill_slots(now);
  if (c.unchoked || !config_.optimistic_slot || c.served > 0) return;
  // A newcomer with nothing yet takes the optimistic slot from a holder that had its turn:
  // its first chunk makes it a source for the others.
  for (auto& [other_conn, other] : conns_) {
    if (other.optimistic && now - other.since >= config_.rechoke_interval / 2) {
      choke(now, other_conn, other);
      unchoke(now, conn, c, true);
      return;
    }
  }
}

void UploadServer::unchoke(Time now, ConnId conn, Conn& c, bool optimistic) {
  c.unchoked = true;
  c.optimistic = optimistic;
  c.turn_bytes = 0;
  c.finishing = 0;
  c.since = now;
  send_to(conn, PeerUnchoke{c.file});
}

void UploadServer::choke(Time now, ConnId conn, Conn& c) {
  c.unchoked = false;
  c.optimistic = false;
  c.since = now;
  // What is being read or sent already still goes out, and so do the other blocks of its
  // chunks: a chunk cut in the middle is of use to no one until its last block comes. The rest
  // is dropped, and said so.
  std::vector<std::uint32_t> dropped;
  std::deque<PeerRequestChunk> kept;
  for (auto& r : c.queue) {
    if (r.name != c.file) continue;
    const bool started = std::any_of(c.out.begin(), c.out.end(),
                                     [&](const Conn::Out& o) { return o.index == r.index; });
    if (started) {
      kept.push_back(std::move(r));
    } else {
      dropped.push_back(r.index);
    }
  }
  c.queue = std::move(kept);
  c.finishing = static_cast<std::uint32_t>(c.queue.size());
  release_first_copies(conn, c);
  std::sort(dropped.begin(), dropped.end());
  std::vector<ChunkRange> ranges;
  for (const auto i : dropped) {
    if (!ranges.empty() && ranges.back().last + 1 >= i) {
      ranges.back().last = std::max(ranges.back().last, i);
    } else {
      ranges.push_back({i, i});
    }
  }
  send_to(conn, PeerChoke{c.file, std::move(ranges)});
}

void UploadServer::fill_slots(Time now) {
  std::uint32_t open = 0, regular = 0;
  std::vector<std::pair<std::tuple<SlotRank, std::uint64_t, ConnId>, Conn*>> waiting;
  for (auto& [conn, c] : conns_) {
    if (c.unchoked) {
      ++open;
      regular += c.optimistic ? 0 : 1;
    } else if (c.interested) {
      waiting.push_back({{rank(c), c.draw, conn}, &c});
    }
  }
  std::sort(waiting.begin(), waiting.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto regular_most = regular_slots_now();  // unchoking changes neither
  const auto most = regular_most + (config_.optimistic_slot ? 1 : 0);
  for (auto& [key, c] : waiting) {
    if (open >= most) break;
    const bool optimistic = regular >= regular_most;
    unchoke(now, std::get<2>(key), *c, optimistic);
    ++open;
    regular += optimistic ? 0 : 1;
  }
}

// Every rechoke_interval: the downloaders furthest behind (then served least so far) get the
// regular slots (an unchoked one that asked nothing for a while counts last), and the one that
// waited longest among the rest gets the optimistic slot. Over a download, every interested
// downloader gets its turn, and a newcomer's turn comes first.
void UploadServer::rechoke(Time now) {
  if (config_.turn_chunks > 0) return end_idle_turns(now);
  struct Rank {
    bool idle;
    SlotRank rank;
    Time since;
    ConnId conn;
    auto key() const { return std::tie(idle, rank, since, conn); }
  };
  std::vector<Rank> ranks;
  for (auto& [conn, c] : conns_) {
    if (!c.interested) continue;
    const bool idle = idle_turn(c, now);
    ranks.push_back({idle, rank(c), c.since, conn});
  }
  if (ranks.empty()) {
    next_rechoke_.reset();
    return;
  }
  std::sort(ranks.begin(), ranks.end(),
            [](const Rank& a, const Rank& b) { return a.key() < b.key(); });
  std::map<ConnId, bool> keep;  // conn -> optimistic
  const std::size_t regular = regular_slots_now();
  for (std::size_t i = 0; i < ranks.size() && i < regular; ++i) keep[ranks[i].conn] = false;
  if (config_.optimistic_slot && ranks.size() > regular) {
    // Longest waiting among the rest: choked for the longest time.
    const Rank* pick = nullptr;
    for (std::size_t i = regular; i < ranks.size(); ++i) {
      const Conn& c = conns_.at(ranks[i].conn);
      if (c.unchoked) continue;
      if (pick == nullptr || c.since < conns_.at(pick->conn).since) pick = &ranks[i];
    }
    if (pick == nullptr) pick = &ranks[regular];
    keep[pick->conn] = true;
  }
  for (auto& [conn, c] : conns_) {
    const auto k = keep.find(conn);
    if (k == keep.end()) {
      if (c.unchoked) choke(now, conn, c);
    } else if (!c.unchoked) {
      unchoke(now, conn, c, k->second);
    } else {
      c.optimistic = k->second;
    }
  }
  next_rechoke_ = now + config_.rechoke_interval;
}

std::uint32_t UploadServer::regular_slots() const {
  const auto configured = config_.regular_slots();
  if (!config_.fastest_first || config_.slots > 0 || config_.upload_bps == 0) return configured;
  // The spread of the rates its downloaders said: none in a crowd of equal downloaders.
  std::uint64_t fastest = 0, slowest = UINT64_MAX;
  for (const auto& [conn, c] : conns_) {
    if (!c.interested || c.hearing || c.upload_bps == 0 || !is_origin(c.file)) continue;
    fastest = std::max(fastest, said_rate(c));
    slowest = std::min(slowest, said_rate(c));
  }
  if (fastest == 0) return configured;
  return config_.slots_at(std::max(config_.slot_bps, (fastest - slowest) / 4));
}

std::uint32_t UploadServer::regular_slots_now() const {
  const auto regular = regular_slots();
  if (config_.newcomer_slots == 0 || !newcomer_waits_for_slot()) return regular;
  return std::min(regular, config_.newcomer_slots);
}

bool UploadServer::is_origin(const std::string& name) const {
  // Whole before anyone asked it for a chunk (the Spread is made at the first request).
  const auto it = spread_.find(name);
  return seeding(name) && (it == spread_.end() || it->second.origin);
}

bool UploadServer::uploads_faster(const Conn& a, const Conn& b) {
  return a.upload_bps > 0 && b.upload_bps > 0 && a.upload_bps > b.upload_bps;
}

bool UploadServer::seeding(const std::string& name) const {
  const ChunkSet* have = held_(name).have;
  return have != nullptr && have->complete();
}

bool UploadServer::newcomer_waits(const Conn& than) const {
  if (held(than) == 0) return false;
  return std::any_of(conns_.begin(), conns_.end(), [&](const auto& e) {
    const Conn& o = e.second;
    return waiting_newcomer(o) && o.file == than.file && !uploads_faster(than, o);
  });
}

bool UploadServer::newcomer_waits_for_slot() const {
  return std::any_of(conns_.begin(), conns_.end(),
                     [](const auto& e) { return waiting_newcomer(e.second); });
}

bool UploadServer::someone_waits() const {
  return std::any_of(conns_.begin(), conns_.end(),
                     [](const auto& e) { return e.second.interested && !e.second.unchoked; });
}

bool UploadServer::someone_ranks_before(const Conn& than) const {
  return std::any_of(conns_.begin(), conns_.end(), [&](const auto& e) {
    return e.second.interested && !e.second.unchoked && rank(e.second) < rank(than);
  });
}

void UploadServer::end_idle_turns(Time now) {
  bool any_interested = false;
  for (auto& [conn, c] : conns_) {
    any_interested = any_interested || c.interested;
    const bool idle = idle_turn(c, now);
    if (idle) release_first_copies(conn, c);
    if (idle && someone_waits()) choke(now, conn, c);
  }
  fill_slots(now);
  if (any_interested) {
    next_rechoke_ = now + config_.rechoke_interval;
  } else {
    next_rechoke_.reset();
  }
}

void UploadServer::release_first_copies(ConnId conn, const Conn& c,
                                        std::optional<std::uint32_t> only) {
  const auto it = spread_.find(c.file);
  if (it == spread_.end()) return;
  auto& spread = it->second;
  for (std::uint32_t i = 0; i < spread.first_to.size(); ++i) {
    if (spread.first_to[i] != conn || spread.whole[i] || (only && i != *only)) continue;
    const bool queued = std::any_of(c.queue.begin(), c.queue.end(), [&](const auto& r) {
      return r.name == c.file && r.index == i;
    });
    const bool going =
        std::any_of(c.out.begin(), c.out.end(), [&](const Conn::Out& o) { return o.index == i; });
    if (queued || going) continue;
    spread.first_to[i] = 0;
  }
}

std::uint64_t UploadServer::chunk_size(const std::string& name) const {
  const auto* file = held_(name).file;
  return file != nullptr ? file->chunk_size : 0;
}

bool UploadServer::spread_first(Time now, const PeerRequestChunk& r, ConnId conn) const {
  const auto index = r.index;
  const ChunkSet* held = held_(r.name).have;
  const auto it = spread_.find(r.name);
  if (!config_.spread_first_copies || held == nullptr || it == spread_.end() || !it->second.origin)
    return false;
  const auto& spread = it->second;
  // Only while this peer's uplink is what the swarm waits for (downloaders wait for a slot,
  // or were turned away for want of a connection): then a duplicate costs a chunk of the
  // scarcest upload, more than the downloader's round trip to ask for another. With uplink to
  // spare, what is asked is served.
  return index < spread.first_to.size() && spread.first_to[index] != 0 &&
         spread.first_to[index] != conn && spread.left_whole < spread.whole.size() &&
         (someone_waits() || turned_away_) &&
         !spread.stalled(index, now, first_copy_stall(r.length));
}

void UploadServer::reject_chunk(ConnId conn, Conn& c, const PeerRequestChunk& r) {
  // The downloader drops every request for the chunk it is told to ask another for, so its
  // blocks still queued here go too. Sent later, they would leave it part of a first copy it
  // no longer asks this peer to finish, while everyone else is told to ask for another
  // (scarce-seed, seed 6: two leechers held three of the four blocks of the last chunk for
  // six seconds while the whole swarm waited for it).
  std::erase_if(c.queue,
                [&](const PeerRequestChunk& q) { return q.name == r.name && q.index == r.index; });
  c.finishing = std::min(c.finishing, static_cast<std::uint32_t>(c.queue.size()));
  send_to(conn, PeerRejectChunk{r.name, r.index});
}

Duration UploadServer::first_copy_stall(std::uint32_t block_bytes) const {
  if (config_.first_copy_stall_blocks == 0) return Duration::max();
  if (config_.upload_bps == 0) {
    return config_.first_copy_stall_time > Duration::zero() ? config_.first_copy_stall_time
                                                            : Duration::max();
  }
  const double share = static_cast<double>(config_.upload_bps) /
                       (regular_slots_now() + (config_.optimistic_slot ? 1 : 0));
  return from_seconds(config_.first_copy_stall_blocks * 8.0 * block_bytes / share);
}

void UploadServer::pump_reads(Time now) {
  while (reads_in_progress_ < config_.max_reads) {
    if (!rate_allows(now)) return;
    // Round-robin over connections, so one greedy downloader cannot starve the others.
    auto has_work = [&](const auto& entry) {
      const Conn& c = entry.second;
      if (!(c.unchoked || c.finishing > 0) || c.queue.empty()) return false;
      return c.out_bytes < out_budget(c.queue.front());
    };
    auto it = std::find_if(conns_.upper_bound(next_turn_), conns_.end(), has_work);
    if (it == conns_.end()) it = std::find_if(conns_.begin(), conns_.end(), has_work);
    if (it == conns_.end()) return;
    next_turn_ = it->first;
    Conn& c = it->second;
    PeerRequestChunk r = std::move(c.queue.front());
    c.queue.pop_front();
    if (!c.unchoked) --c.finishing;
    if (spread_first(now, r, it->first)) {
      reject_chunk(it->first, c, r);
      continue;
    }
    auto& spread = spread_[r.name];  // made by on_request
    // Promised to this one if to nobody yet, or if it stalled with the one it was promised to
    // (while first copies are spread, that one's further requests for it are then rejected).
    if (r.index < spread.first_to.size() &&
        (spread.first_to[r.index] == 0 ||
         (spread.first_to[r.index] != it->first &&
          spread.stalled(r.index, now, first_copy_stall(r.length))))) {
      spread.first_to[r.index] = it->first;
      spread.moved[r.index] = now;
    }
    c.out.push_back({r.index, r.offset, r.length});  // the length on_request settled
    c.out_bytes += r.length;
    pace_.take(r.length);
    ++reads_in_progress_;
    act(act::ReadChunk{it->first, std::move(r.name), r.index, r.offset, r.length});
  }
}

std::uint64_t UploadServer::out_budget(const PeerRequestChunk& next) const {
  // A file no longer offered gets budget for one read, which fails and says so.
  std::uint64_t budget =
      std::max<std::uint64_t>(1, config_.chunks_per_downloader * chunk_size(next.name));
  if (config_.upload_bps > 0 && config_.out_time > Duration::zero()) {
    const auto time = static_cast<std::uint64_t>(static_cast<double>(config_.upload_bps) / 8.0 *
                                                 to_seconds(config_.out_time));
    budget = std::min(budget, std::max<std::uint64_t>(time, 2 * std::uint64_t{next.length}));
  }
  return budget;
}

bool UploadServer::rate_allows(Time now) {
  std::uint64_t limit = config_.rate_limit_bps;
  if (downloading_ && config_.downloading_rate_limit_bps > 0) {
    limit = limit == 0 ? config_.downloading_rate_limit_bps
                       : std::min(limit, config_.downloading_rate_limit_bps);
  }
  // In debt for the last block: the next read waits until the debt is paid.
  const auto at = pace_.wait_until(now, limit, config_.rate_burst);
  if (!at) return true;
  next_pump_ = at;
  return false;
}

void UploadServer::on_read(Time now, ConnId conn, const std::string& name, std::uint32_t index,
                           std::uint32_t offset, StoreResult result) {
  const auto it = conns_.find(conn);
  if (it == conns_.end()) return read_done(now);
  Conn& c = it->second;
  if (!result.status) {
    send_to(conn, ErrorMessage{0, ErrorCode::NotFound,
                               "cannot read chunk " + std::to_string(index) + " of \"" + name +
                                   "\": " + result.status.error().message,
                               "PEER_REQUEST_CHUNK"});
    // It will not be sent: it no longer counts against the connection's budget.
    const auto out = std::find_if(c.out.begin(), c.out.end(), [&](const Conn::Out& o) {
      return o.index == index && o.offset == offset;
    });
    if (out != c.out.end()) {
      c.out_bytes -= out->bytes;
      c.out.erase(out);
    }
    // Nor will a first copy it began: the next downloader to ask may have it.
    release_first_copies(conn, c, index);
    return read_done(now);
  }
  auto data = std::get<Payload>(std::move(result.value));
  c.served += data.size();
  reply(now, conn, PeerReplyChunk{name, index, offset, std::move(data)}, true);
}

void UploadServer::reply(Time now, ConnId conn, Message m, bool chunk) {
  if (config_.reply_delay > Duration::zero()) {
    const Time due = now + config_.reply_delay;
    const auto at = std::upper_bound(delayed_.begin(), delayed_.end(), due,
                                     [](Time t, const Delayed& d) { return t < d.due; });
    delayed_.insert(at, Delayed{due, conn, std::move(m), chunk});
    return;
  }
  send_to(conn, std::move(m), chunk);
  if (chunk) read_done(now);
}

void UploadServer::read_done(Time now) {
  --reads_in_progress_;
  pump_reads(now);
}

void UploadServer::on_sent(Time now, ConnId conn) {
  const auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.out.empty()) return;
  Conn& c = it->second;
  const auto sent = c.out.front();
  c.out.pop_front();
  c.out_bytes -= sent.bytes;
  c.turn_bytes += sent.bytes;
  if (const auto* file = held_(c.file).file; file != nullptr) {
    auto& bytes = c.sent_of[sent.index];
    bytes += sent.bytes;
    if (bytes >= file->chunk_length(sent.index)) {
      c.sent_of.erase(sent.index);
      if (c.sent_whole < UINT32_MAX) ++c.sent_whole;
      // A copy left whole, the first or (sent while nobody waited) another: the chunk is out.
      if (auto s = spread_.find(c.file); s != spread_.end()) s->second.mark_whole(sent.index);
    }
  }
  if (auto s = spread_.find(c.file); s != spread_.end() && sent.index < s->second.first_to.size() &&
                                     s->second.first_to[sent.index] == conn) {
    s->second.moved[sent.index] = now;  // its first copy is moving
  }
  if (c.out.empty() && c.queue.empty()) {
    c.idle_since = now;
    // Choked with a first copy cut short: it gets no more of it here.
    if (!c.unchoked) release_first_copies(conn, c);
  }
  const auto chunk = chunk_size(c.file);
  // A turn is turn_chunks chunks, or one while a downloader that holds nothing waits: its
  // first chunk makes it a source, a second one here makes this one no more of a source.
  if (c.unchoked && config_.turn_chunks > 0 && chunk > 0 && c.turn_bytes >= chunk &&
      (c.turn_bytes >= config_.turn_chunks * chunk ||
       (config_.newcomers_first && newcomer_waits(c)))) {
    // Its turn is over: the slot goes to whoever ranks first (furthest behind, then served
    // least), which may be it again.
    c.turn_bytes = 0;
    if (someone_ranks_before(c)) {
      choke(now, conn, c);
      fill_slots(now);
    }
  }
  pump_reads(now);
}

void UploadServer::on_have(Time, const std::string& name, std::uint32_t index) {
  for (const auto& [conn, c] : conns_) {
    // One that waits on nothing from us may want this chunk at once; to the others it goes
    // with the next block, or soon.
    if (c.file == name)
      act(upload_action::SendMessage{conn, PeerHave{name, index}, false, !c.asks_nothing()});
  }
}

void UploadServer::on_deadline(Time now) {
  end_hearings(now);
  if (config_.idle_timeout > Duration::zero()) {
    for (auto quiet = quietest();
         quiet != conns_.end() && now - quiet->second.last_heard >= config_.idle_timeout;
         quiet = quietest()) {
      send_to(quiet->first, ErrorMessage{0, ErrorCode::Timeout,
                                         "closing a connection that said nothing for " +
                                             format_duration(now - quiet->second.last_heard),
                                         ""});
      drop(now, quiet->first);
    }
  }
  while (!delayed_.empty() && delayed_.front().due <= now) {
    Delayed d = std::move(delayed_.front());
    delayed_.pop_front();
    if (conns_.count(d.conn) != 0) send_to(d.conn, std::move(d.message), d.chunk);
    if (d.chunk) read_done(now);
  }
  if (next_pump_ && *next_pump_ <= now) {
    next_pump_.reset();
    pump_reads(now);
  }
  if (next_rechoke_ && *next_rechoke_ <= now) rechoke(now);
}

}  // namespace swarmlab

#include "swarmlab/tracker.hpp"

#include <algorithm>

namespace swarmlab {

Tracker::Tracker(TrackerConfig config) : config_(std::move(config)), rng_(config_.seed) {
}

void Tracker::record(Time now, std::string type, nlohmann::json fields) {
  emit(Record{Event{now, config_.name, std::move(type), std::move(fields)}});
}

void Tracker::handle_start(Time now) {
  started_ = true;
  record(now, "tracker_started", {});
  sweep_timer_ = start_timer(now + config_.keepalive_timeout / 3);
}

void Tracker::handle_accepted(Time now, ConnId conn, const Endpoint& remote) {
  if (!config_.allow.empty()) {
    const auto ip = IpAddress::parse(remote.host);
    const bool admitted = ip.ok() && std::any_of(config_.allow.begin(), config_.allow.end(),
                                                 [&](const Cidr& c) { return c.contains(*ip); });
    if (!admitted) {
      reply_error(conn, 0,
                  make_error(ErrorCode::Refused,
                             "address " + remote.host + " is not in the tracker's allow-list"),
                  "");
      close(conn);
      record(now, "peer_refused", {{"address", remote.host}});
      return;
    }
  }
  sessions_[conn] = Session{remote, std::nullopt, now, 0};
}

void Tracker::handle_shutdown(Time now) {
  cancel_timer(sweep_timer_);
  sessions_.clear();  // Node::shutdown closes their connections
  record(now, "tracker_stopped", {});
}

void Tracker::reply_error(ConnId conn, std::uint32_t req, const Error& e,
                          std::string_view in_reply_to) {
  send(conn, ErrorMessage{req, e.code, e.message, std::string(in_reply_to)});
}

void Tracker::handle_frame(Time now, ConnId conn, RawFrame frame) {
  const auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  s.last_heard = now;
  auto decoded = decode_message(frame);
  if (!decoded) {
    const auto [type, req] = peek_type_and_req(frame.header);
    reply_error(conn, req, decoded.error(), type);
    if (++s.protocol_errors >= config_.max_protocol_errors) {
      end_session(now, conn, "too many protocol errors", true);
    }
    return;
  }
  Message& m = *decoded;
  if (auto* r = std::get_if<RequestRegistry>(&m)) return handle(now, conn, s, std::move(*r));
  if (auto* p = std::get_if<PeerPing>(&m)) return send(conn, PeerPong{p->nonce});  // keep-alive
  if (!s.peer_id) {
    const auto [type, req] = peek_type_and_req(frame.header);
    return reply_error(conn, req,
                       make_error(ErrorCode::NotRegistered, "send REQUEST_REGISTRY first"), type);
  }
  std::visit(
      [&](auto&& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RequestToPublish>) {
          handle(now, conn, s, std::move(x));
        } else if constexpr (std::is_same_v<T, RequestFilesList> ||
                             std::is_same_v<T, RequestFileLocation> ||
                             std::is_same_v<T, RequestChunksRegister> ||
                             std::is_same_v<T, RequestChunksUnregister>) {
          handle(now, conn, s, x);
        } else if constexpr (std::is_same_v<T, PeerPong> || std::is_same_v<T, ErrorMessage>) {
          // Nothing to do: answers to nothing we asked, or a peer's complaint (logged by it).
        } else {
          reply_error(conn, 0,
                      make_error(ErrorCode::UnknownMessage,
                                 std::string(message_type(m)) + " is not a tracker message"),
                      message_type(m));
        }
      },
      m);
}

void Tracker::handle(Time now, ConnId conn, Session& s, RequestRegistry m) {
  if (m.version != kProtocolVersion) {
    reply_error(
        conn, m.req,
        make_error(ErrorCode::VersionMismatch, "protocol version " + std::to_string(m.version) +
                                                   " is not supported (tracker speaks " +
                                                   std::to_string(kProtocolVersion) + ")"),
        "REQUEST_REGISTRY");
    return end_session(now, conn, "protocol version mismatch", true);
  }
  if (s.peer_id) {
    return reply_error(conn, m.req,
                       make_error(ErrorCode::AlreadyConnected,
                                  "this connection is already registered as " + *s.peer_id),
                       "REQUEST_REGISTRY");
  }
  // A peer that re-registers after losing its connection replaces its stale session. If the
  // old session is in fact another live peer started with the same id, it is told why it is
  // off the tracker (and stops reconnecting) instead of the two pushing each other off.
  if (const auto old = peers_.find(m.peer_id); old != peers_.end()) {
    const ConnId old_conn = old->second.conn;
    const auto old_address = old->second.address.to_string();
    drop_peer(now, m.peer_id, "replaced by a new connection from " + s.remote.to_string());
    if (sessions_.count(old_conn) != 0) {
      send(old_conn, ErrorMessage{0, ErrorCode::NameTaken,
                                  "another peer registered as \"" + m.peer_id + "\" from " +
                                      s.remote.host + ", so this one (" + old_address +
                                      ") is off the tracker; give each peer its own id",
                                  "REQUEST_REGISTRY"});
      close(old_conn);
      sessions_.erase(old_conn);
    }
  }
  Endpoint advertised = m.listen;
  const auto ip = IpAddress::parse(advertised.host);
  if (advertised.host.empty() || (ip.ok() && ip->is_unspecified())) advertised.host = s.remote.host;
  s.peer_id = m.peer_id;
  peers_[m.peer_id] = PeerRecord{conn, advertised, now};
  send(conn, ReplyRegistry{m.req, kProtocolVersion, advertised});
  record(now, "peer_joined", {{"peer", m.peer_id}, {"address", advertised.to_string()}});
}

void Tracker::handle(Time now, ConnId conn, Session& s, RequestToPublish m) {
  const std::string& peer = *s.peer_id;
  auto it = files_.find(m.file.name);
  if (it != files_.end() && it->second.info != m.file) {
    return reply_error(conn, m.req,
                       make_error(ErrorCode::NameTaken, "a different file named \"" + m.file.name +
                                                            "\" is already published"),
                       "REQUEST_TO_PUBLISH");
  }
  const std::uint32_t n = m.file.chunk_count();
  ChunkSet chunks = m.chunks.empty() ? ChunkSet::full(n) : *ChunkSet::from_ranges(m.chunks, n);
  if (it == files_.end()) {
    it = files_.emplace(m.file.name, FileRecord{m.file, {}, {}}).first;
    record(now, "file_published",
           {{"file", m.file.name}, {"peer", peer}, {"size", m.file.size}, {"chunks", n}});
  }
  owned_by(it->second, peer).insert_all(chunks);
  send(conn, ReplyToPublish{m.req, m.file.name});
}

void Tracker::handle(Time, ConnId conn, Session&, const RequestFilesList& m) {
  ReplyFilesList reply{m.req, files(), 0};
  // A header over 64 KiB would be refused by the peer: list what fits and say how many not.
  while (!reply.files.empty() && encode_message(reply).header.size() > kMaxHeaderBytes) {
    const auto keep = reply.files.size() * 9 / 10;
    reply.omitted += static_cast<std::uint32_t>(reply.files.size() - keep);
    reply.files.resize(keep);
  }
  send(conn, reply);
}

void Tracker::handle(Time, ConnId conn, Session& s, const RequestFileLocation& m) {
  const auto it = files_.find(m.name);
  if (it == files_.end()) {
    return reply_error(
        conn, m.req, make_error(ErrorCode::NotFound, "no file named \"" + m.name + "\" is listed"),
        "REQUEST_FILE_LOCATION");
  }
  FileRecord& f = it->second;
  // The asker is downloading the file: list it to the others as a member of the swarm, with
  // no chunks yet, so that they connect to it and hear its HAVEs.
  owned_by(f, *s.peer_id);
  ReplyFileLocation reply{m.req, {}, {}, true};
  reply.file.name = f.info.name;
  reply.file.size = f.info.size;
  reply.file.chunk_size = f.info.chunk_size;
  reply.file.file_hash = f.info.file_hash;
  list_owners(f, *s.peer_id, reply);
  RawFrame frame = encode_message(reply);
  // The hash list is built once per file and shared by every reply that carries it: a
  // client that pipelines requests for a large file and never reads costs headers only.
  if (m.hashes) {
    if (f.hashes.empty()) f.hashes = hashes_payload(f.info);
    frame.payload = f.hashes;
  }
  emit(Send{conn, std::move(frame)});
}

// Which owners a location reply lists, within max_owners_per_reply and the header limit.
// Owners are taken in a random order (seeded), first those that hold a chunk none taken
// so far holds, so that a sample of a large swarm still names an owner of every chunk
// anyone holds; then the rest; then members that hold nothing yet. An owner whose chunk
// set alone would not fit is listed with the part that does. Whatever is left out makes
// the reply incomplete, and the downloader keeps what it knew.
void Tracker::list_owners(const FileRecord& f, const std::string& asker, ReplyFileLocation& reply) {
  const std::uint32_t n = f.info.chunk_count();
  std::vector<std::pair<const std::string*, const ChunkSet*>> owners, members;
  for (const auto& [peer, chunks] : f.owners) {
    if (peer != asker) (chunks.empty() ? members : owners).emplace_back(&peer, &chunks);
  }
  auto shuffle = [&](auto& v) {
    for (std::size_t i = 0; i + 1 < v.size(); ++i) std::swap(v[i], v[i + rng_.below(v.size() - i)]);
  };
  // A sample is drawn only when not everyone can be listed.
  if (owners.size() + members.size() > config_.max_owners_per_reply) {
    shuffle(owners);
    shuffle(members);
  }
  std::vector<std::pair<const std::string*, const ChunkSet*>> order;
  order.reserve(owners.size() + members.size());
  ChunkSet covered(n);
  std::vector<bool> taken(owners.size(), false);
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (!owners[i].second->has_any_missing_from(covered)) continue;
    covered.insert_all(*owners[i].second);
    order.push_back(owners[i]);
    taken[i] = true;
  }
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (!taken[i]) order.push_back(owners[i]);
  }
  order.insert(order.end(), members.begin(), members.end());

  if (order.size() > config_.max_owners_per_reply) {
    order.resize(config_.max_owners_per_reply);
    reply.complete = false;
  }
  std::vector<OwnerEntry> entries;
  entries.reserve(order.size());
  for (const auto& [peer, chunks] : order) {
    entries.push_back(OwnerEntry{*peer, peers_.at(*peer).address, chunks->ranges()});
  }
  // Header bytes for the owner list: the limit less room for the rest of the reply. An
  // entry's cost is bounded from above: every byte of its id escaped as \u00XX, each range
  // as its digits, a dash and a comma.
  const std::size_t budget = kMaxHeaderBytes - 4096;
  auto digits = [](std::uint32_t v) {
    std::size_t count = 1;
    for (; v >= 10; v /= 10) ++count;
    return count;
  };
  auto range_cost = [&](const ChunkRange& r) {
    return digits(r.first) + 1 + (r.first == r.last ? 0 : digits(r.last) + 1);
  };
  auto fixed_cost = [](const OwnerEntry& e) {
    return 6 * e.peer_id.size() + e.address.host.size() + 80;
  };
  std::size_t total = 0;
  for (const auto& e : entries) {
    total += fixed_cost(e);
    for (const auto& r : e.chunks) total += range_cost(r);
  }
  if (total <= budget) {  // the usual case: everything fits as it is
    reply.owners = std::move(entries);
    return;
  }
  // The most compact entries first, so that one owner with a fragmented chunk set cannot
  // crowd everyone else out of the frame; it is the one cut short.
  std::stable_sort(entries.begin(), entries.end(), [](const OwnerEntry& a, const OwnerEntry& b) {
    return a.chunks.size() < b.chunks.size();
  });
  std::size_t left = budget;
  for (auto& e : entries) {
    if (left < 256) break;
    std::size_t used = fixed_cost(e);
    std::size_t keep = 0;
    for (; keep < e.chunks.size() && used + range_cost(e.chunks[keep]) <= left; ++keep) {
      used += range_cost(e.chunks[keep]);
    }
    if (keep < e.chunks.size()) {
      if (keep == 0) break;
      e.chunks.resize(keep);
      reply.complete = false;
    }
    left -= used;
    reply.owners.push_back(std::move(e));
  }
  if (reply.owners.size() < entries.size()) reply.complete = false;
}

ChunkSet& Tracker::owned_by(FileRecord& f, const std::string& peer_id) {
  auto& owned = f.owners[peer_id];
  if (owned.size() != f.info.chunk_count()) owned = ChunkSet(f.info.chunk_count());
  return owned;
}

void Tracker::handle(Time, ConnId conn, Session& s, const RequestChunksRegister& m) {
  const auto it = files_.find(m.name);
  if (it == files_.end()) {
    return reply_error(
        conn, 0, make_error(ErrorCode::NotFound, "no file named \"" + m.name + "\" is listed"),
        "REQUEST_CHUNKS_REGISTER");
  }
  auto chunks = ChunkSet::from_ranges(m.chunks, it->second.info.chunk_count());
  if (!chunks) return reply_error(conn, 0, chunks.error(), "REQUEST_CHUNKS_REGISTER");
  owned_by(it->second, *s.peer_id).insert_all(*chunks);
}

void Tracker::handle(Time now, ConnId conn, Session& s, const RequestChunksUnregister& m) {
  const auto it = files_.find(m.name);
  if (it == files_.end()) return;  // already gone: nothing to withdraw
  auto chunks = ChunkSet::from_ranges(m.chunks, it->second.info.chunk_count());
  if (!chunks) return reply_error(conn, 0, chunks.error(), "REQUEST_CHUNKS_UNREGISTER");
  const auto owned = it->second.owners.find(*s.peer_id);
  if (owned == it->second.owners.end()) return;
  for (auto i : chunks->indexes()) owned->second.erase(i);
  if (owned->second.empty()) drop_ownership(now, m.name, *s.peer_id);
}

void Tracker::drop_ownership(Time now, const std::string& file, const std::string& peer_id) {
  const auto it = files_.find(file);
  if (it == files_.end()) return;
  it->second.owners.erase(peer_id);
  const bool anyone = std::any_of(it->second.owners.begin(), it->second.owners.end(),
                                  [](const auto& o) { return !o.second.empty(); });
  if (!anyone) {
    record(now, "file_delisted", {{"file", file}});
    files_.erase(it);
  }
}

void Tracker::drop_peer(Time now, const std::string& peer_id, std::string_view reason) {
  if (peers_.erase(peer_id) == 0) return;
  std::vector<std::string> held;
  for (const auto& [name, f] : files_) {
    if (f.owners.count(peer_id) != 0) held.push_back(name);
  }
  for (const auto& name : held) drop_ownership(now, name, peer_id);
  record(now, "peer_left", {{"peer", peer_id}, {"reason", reason}});
}

void Tracker::handle_closed(Time now, ConnId conn, CloseReason reason) {
  end_session(now, conn, to_string(reason), false);
}

void Tracker::end_session(Time now, ConnId conn, std::string_view reason, bool close_it) {
  const auto it = sessions_.find(conn);
  if (it == sessions_.end()) return;
  const auto peer = it->second.peer_id;
  sessions_.erase(it);
  if (close_it) close(conn);
  // The peer goes with it only if this connection is still its current one.
  if (peer && peers_.count(*peer) != 0 && peers_.at(*peer).conn == conn) {
    drop_peer(now, *peer, reason);
  }
}

void Tracker::handle_timer(Time now, TimerId timer) {
  if (timer != sweep_timer_) return;
  std::vector<ConnId> stale;
  for (const auto& [conn, s] : sessions_) {
    if (now - s.last_heard >= config_.keepalive_timeout) stale.push_back(conn);
  }
  for (const auto conn : stale) end_session(now, conn, "keep-alive timeout", true);
  sweep_timer_ = start_timer(now + config_.keepalive_timeout / 3);
}

FileSummary Tracker::summarize(const FileRecord& f) const {
  FileSummary s;
  s.name = f.info.name;
  s.size = f.info.size;
  s.chunk_size = f.info.chunk_size;
  s.chunks = f.info.chunk_count();
  ChunkSet any(s.chunks);
  for (const auto& [peer, chunks] : f.owners) {
    if (chunks.empty()) continue;
    ++s.owners;
    any.insert_all(chunks);
  }
  s.availability = s.chunks == 0 ? 0.0 : static_cast<double>(any.count()) / s.chunks;
  return s;
}

std::vector<FileSummary> Tracker::files() const {
  std::vector<FileSummary> out;
  for (const auto& [name, f] : files_) out.push_back(summarize(f));
  return out;
}

std::vector<Tracker::PeerView> Tracker::peers() const {
  std::vector<PeerView> out;
  for (const auto& [id, p] : peers_) {
    PeerView v{id, p.address, {}, p.since, 0, 0};
    if (const auto s = sessions_.find(p.conn); s != sessions_.end()) v.remote = s->second.remote;
    for (const auto& [name, f] : files_) {
      if (const auto o = f.owners.find(id); o != f.owners.end() && !o->second.empty()) {
        ++v.files;
        v.chunks += o->second.count();
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Tracker::ChunkInfoView> Tracker::chunk_info() const {
  std::vector<ChunkInfoView> out;
  for (const auto& [name, f] : files_) {
    for (const auto& [peer, chunks] : f.owners) {
      if (chunks.empty()) continue;
      out.push_back(ChunkInfoView{name, peer, peers_.at(peer).address, chunks});
    }
  }
  return out;
}

}  // namespace swarmlab

#include "swarmlab/tracker_client.hpp"

#include <algorithm>

#include "swarmlab/units.hpp"

namespace swarmlab {

namespace act = tracker_action;

std::string_view to_string(TrackerClient::State s) {
  switch (s) {
    case TrackerClient::State::Disconnected:
      return "disconnected";
    case TrackerClient::State::Connecting:
      return "connecting";
    case TrackerClient::State::Registering:
      return "registering";
    case TrackerClient::State::Online:
      return "online";
  }
  return "?";
}

TrackerClient::TrackerClient(TrackerClientConfig config, Rng& rng)
    : config_(std::move(config)), rng_(rng) {
}

std::optional<TrackerAction> TrackerClient::poll_action() {
  if (actions_.empty()) return std::nullopt;
  TrackerAction a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

std::optional<Time> TrackerClient::next_deadline() const {
  std::optional<Time> t;
  for (const auto& d : {reconnect_at_, keepalive_at_, flush_at_, register_by_}) {
    if (d && (!t || *d < *t)) t = d;
  }
  return t;
}

void TrackerClient::start(Time now, const Endpoint& tracker) {
  endpoint_ = tracker;
  reconnect_ = true;
  begin_connect(now);
}

Status TrackerClient::connect(Time now, const Endpoint& tracker) {
  if (state_ != State::Disconnected) {
    return make_error(ErrorCode::AlreadyConnected,
                      "already connected to the tracker at " + endpoint_->to_string());
  }
  reconnect_at_.reset();
  endpoint_ = tracker;
  begin_connect(now);
  return {};
}

void TrackerClient::begin_connect(Time now) {
  state_ = State::Connecting;
  last_heard_ = now;
  register_by_ = now + config_.register_timeout;
  act(act::Connect{*endpoint_});
}

void TrackerClient::on_connected(Time now, RequestRegistry registry) {
  state_ = State::Registering;
  last_heard_ = now;
  request(TrackerRequest::Registry, {}, std::move(registry));
}

void TrackerClient::request(TrackerRequest kind, const std::string& name, Message m) {
  const std::uint32_t req = next_req_++;
  std::visit(
      [&](auto& x) {
        if constexpr (requires { x.req; }) x.req = req;
      },
      m);
  pending_[req] = Pending{kind, name};
  send(std::move(m));
}

void TrackerClient::announce(const FileInfo& file, const ChunkSet& have) {
  if (have.empty()) return;
  if (have.complete())
    return request(TrackerRequest::Publish, file.name, RequestToPublish{0, file, {}});
  // A fragmented partial copy: the first ranges with the file, the rest registered after it
  // on the same connection, so that no header outgrows a frame.
  auto pieces = split_ranges(have.ranges(), kMaxRangesPerMessage);
  request(TrackerRequest::Publish, file.name, RequestToPublish{0, file, std::move(pieces[0])});
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    send(RequestChunksRegister{file.name, std::move(pieces[i])});
  }
}

void TrackerClient::on_closed(Time now, std::string_view why) {
  conn_ = 0;
  lost(now, why);
}

void TrackerClient::shutdown() {
  reconnect_ = false;
  stopped_ = true;
  if (conn_ != 0) act(act::CloseConnection{conn_});
  conn_ = 0;
  state_ = State::Disconnected;
  reconnect_at_.reset();
  keepalive_at_.reset();
  flush_at_.reset();
}

void TrackerClient::lost(Time now, std::string_view why, bool explained) {
  const bool was_online = state_ == State::Online;
  const bool never_online = !ever_online_;
  if (conn_ != 0) act(act::CloseConnection{conn_});
  conn_ = 0;
  state_ = State::Disconnected;
  keepalive_at_.reset();
  flush_at_.reset();
  register_by_.reset();
  to_register_.clear();  // everything is announced again on reconnect
  act(act::Offline{});
  auto pending = std::move(pending_);
  pending_.clear();
  for (const auto& [req, p] : pending) act(act::Unanswered{p.kind, p.name});
  if (was_online) log("tracker_lost", {{"reason", why}, {"reconnecting", reconnect_ && !stopped_}});
  if (never_online && !reconnect_) {
    if (explained) return;
    act(act::Failed{make_error(
        ErrorCode::TrackerNotConnected,
        "cannot reach the tracker at " + endpoint_->to_string() + " (" + std::string(why) + ")")});
    return;
  }
  if (!reconnect_ || stopped_) return;
  backoff_ = backoff_ == Duration::zero() ? config_.reconnect_min
                                          : std::min(backoff_ * 2, config_.reconnect_max);
  const auto wait = std::chrono::duration_cast<Duration>(backoff_ * (0.8 + 0.4 * rng_.unit()));
  reconnect_at_ = now + wait;
  // Every failed attempt is said, so a peer that cannot get through is never silent.
  if (!was_online) {
    log("tracker_unreachable",
        {{"tracker", endpoint_->to_string()}, {"reason", why}, {"retry_in_s", to_seconds(wait)}});
  }
}

void TrackerClient::on_bad_frame(Time now, const Error& error) {
  last_heard_ = now;
  log("tracker_error", {{"code", to_string(error.code)}, {"message", error.message}});
}

void TrackerClient::on_message(Time now, Message m) {
  last_heard_ = now;
  if (std::holds_alternative<PeerPong>(m)) return;
  if (auto* err = std::get_if<ErrorMessage>(&m)) {
    const Error e{err->code, err->message};
    const auto it = pending_.find(err->req);
    if (err->req == 0 || it == pending_.end()) {
      log("tracker_error", {{"code", to_string(err->code)}, {"message", err->message}});
      // Refused (not on the allow-list), or pushed off by a peer registering with our id:
      // trying again would not help, or would push that one off in turn.
      if (err->code == ErrorCode::Refused || err->code == ErrorCode::NameTaken) {
        act(act::Failed{e});
        reconnect_ = false;
        lost(now, err->code == ErrorCode::Refused ? "refused" : "id taken", true);
      }
      return;
    }
    const Pending p = it->second;
    pending_.erase(it);
    if (p.kind == TrackerRequest::Registry) {
      act(act::Failed{e});
      reconnect_ = false;
      return lost(now, e.describe(), true);
    }
    return act(act::Refused{p.kind, p.name, e});
  }
  const auto req = std::visit(
      [](const auto& x) -> std::uint32_t {
        if constexpr (requires { x.req; }) {
          return x.req;
        } else {
          return 0;
        }
      },
      m);
  const auto it = pending_.find(req);
  if (req == 0 || it == pending_.end()) return;
  const Pending p = it->second;
  pending_.erase(it);
  if (auto* r = std::get_if<ReplyRegistry>(&m);
      r != nullptr && p.kind == TrackerRequest::Registry) {
    state_ = State::Online;
    register_by_.reset();
    backoff_ = Duration::zero();
    act(act::Online{*endpoint_, r->advertised, ever_online_});
    ever_online_ = true;
    reconnect_ = true;
    keepalive_at_ = now + config_.keepalive_interval;
    return;
  }
  act(act::Answer{p.kind, p.name, std::move(m)});
}

void TrackerClient::on_deadline(Time now) {
  if (register_by_ && *register_by_ <= now) {
    register_by_.reset();
    if (state_ == State::Connecting || state_ == State::Registering) {
      return lost(now, state_ == State::Connecting
                           ? "no connection within " + format_duration(config_.register_timeout)
                           : "no answer within " + format_duration(config_.register_timeout));
    }
  }
  if (reconnect_at_ && *reconnect_at_ <= now) {
    reconnect_at_.reset();
    if (state_ == State::Disconnected && !stopped_) begin_connect(now);
  }
  if (keepalive_at_ && *keepalive_at_ <= now) {
    keepalive_at_.reset();
    if (state_ == State::Online) {
      if (now - last_heard_ >= config_.tracker_timeout) return lost(now, "tracker silent");
      send(PeerPing{rng_.next()});
      keepalive_at_ = now + config_.keepalive_interval;
    }
  }
  if (flush_at_ && *flush_at_ <= now) {
    flush_at_.reset();
    flush_registrations();
  }
}

void TrackerClient::register_chunk(Time now, const std::string& name, std::uint32_t index,
                                   std::uint32_t chunks) {
  auto& batch = to_register_[name];
  if (batch.size() != chunks) batch = ChunkSet(chunks);
  batch.insert(index);
  if (!flush_at_) flush_at_ = now + config_.register_delay;
}

void TrackerClient::flush_registrations() {
  if (online()) {
    for (const auto& [name, set] : to_register_) {
      for (auto& piece : split_ranges(set.ranges(), kMaxRangesPerMessage)) {
        send(RequestChunksRegister{name, std::move(piece)});
      }
    }
  }
  to_register_.clear();
}

void TrackerClient::unregister(const std::string& name, std::vector<ChunkRange> ranges) {
  // Also when it holds nothing: the tracker lists downloaders as members of the swarm.
  if (online()) {
    if (ranges.empty()) send(RequestChunksUnregister{name, {}});
    for (auto& piece : split_ranges(ranges, kMaxRangesPerMessage)) {
      send(RequestChunksUnregister{name, std::move(piece)});
    }
  }
  to_register_.erase(name);
}

}  // namespace swarmlab

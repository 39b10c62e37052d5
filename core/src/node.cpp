#include "swarmlab/node.hpp"

namespace swarmlab {

void Node::on_start(Time now) {
  if (stopped_) return;
  handle_start(now);
}

void Node::on_accepted(Time now, ConnId conn, const Endpoint& remote) {
  if (stopped_) return emit(Close{conn, false});
  open_decoder(conn);
  handle_accepted(now, conn, remote);
}

void Node::on_connected(Time now, ConnId conn) {
  if (stopped_ || !decoders_.contains(conn)) return;
  handle_connected(now, conn);
}

void Node::on_bytes(Time now, ConnId conn, std::span<const std::uint8_t> bytes) {
  const auto it = decoders_.find(conn);
  if (stopped_ || it == decoders_.end()) return;
  dispatch(now, conn, tracked(it->second, [&](FrameDecoder& d) { return d.feed(bytes); }));
  enforce_receive_budget(now);
}

void Node::on_virtual_bytes(Time now, ConnId conn, std::size_t count) {
  const auto it = decoders_.find(conn);
  if (stopped_ || it == decoders_.end()) return;
  dispatch(now, conn, tracked(it->second, [&](FrameDecoder& d) { return d.feed_virtual(count); }));
}

Node::ReceiveWindow Node::receive_window(ConnId conn) {
  const auto it = decoders_.find(conn);
  if (stopped_ || it == decoders_.end()) return {};
  const auto bytes = tracked(it->second, [](FrameDecoder& d) { return d.payload_window(); });
  return {bytes, it->second.payload_buffer()};
}

void Node::on_received(Time now, ConnId conn, std::size_t count) {
  const auto it = decoders_.find(conn);
  if (stopped_ || it == decoders_.end()) return;
  dispatch(now, conn, tracked(it->second, [&](FrameDecoder& d) { return d.commit(count); }));
  enforce_receive_budget(now);
}

void Node::enforce_receive_budget(Time now) {
  while (!stopped_ && held_total_ > receive_budget_) {
    auto heaviest = decoders_.begin();
    for (auto d = decoders_.begin(); d != decoders_.end(); ++d) {
      if (d->second.held_bytes() > heaviest->second.held_bytes()) heaviest = d;
    }
    if (heaviest == decoders_.end() || heaviest->second.held_bytes() == 0) return;
    const ConnId victim = heaviest->first;
    drop_decoder(victim);
    emit(Close{victim, /*reset=*/true});
    handle_closed(now, victim, CloseReason::Overloaded);
  }
}

bool Node::drop_decoder(ConnId conn) {
  const auto it = decoders_.find(conn);
  if (it == decoders_.end()) return false;
  held_total_ -= std::min(held_total_, it->second.held_bytes());
  decoders_.erase(it);
  return true;
}

void Node::on_arriving(Time now, ConnId conn) {
  if (stopped_ || !decoders_.contains(conn)) return;
  handle_bytes_arrived(now, conn);
}

void Node::dispatch(Time now, ConnId conn, const Status& fed) {
  handle_bytes_arrived(now, conn);
  // Looked up again after every frame: handling one may close the connection, and what
  // follows on a connection the node closed is not read.
  for (auto it = decoders_.find(conn); it != decoders_.end(); it = decoders_.find(conn)) {
    auto frame = it->second.next();
    if (!frame) break;
    handle_frame(now, conn, std::move(*frame));
    if (stopped_) return;
  }
  if (fed.ok() || !drop_decoder(conn)) return;
  // Broken framing cannot be resynchronised: reset the stream and handle it as lost.
  emit(Close{conn, /*reset=*/true});
  handle_closed(now, conn, CloseReason::ProtocolError);
}

void Node::on_closed(Time now, ConnId conn, CloseReason reason) {
  if (stopped_ || !drop_decoder(conn)) return;
  handle_closed(now, conn, reason);
}

void Node::on_sent(Time now, ConnId conn) {
  if (stopped_ || decoders_.count(conn) == 0) return;
  handle_sent(now, conn);
}

void Node::on_deadline(Time now) {
  // Only timers that exist now: one started by a handler, even if already due, waits for the
  // next call, so a zero interval cannot keep this loop from returning to the driver.
  const TimerId first_new = next_timer_;
  while (!stopped_ && !deadlines_.empty() && deadlines_.begin()->first <= now &&
         deadlines_.begin()->second < first_new) {
    const TimerId id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    timers_.erase(id);
    handle_timer(now, id);
  }
}

void Node::on_store_done(Time now, StoreOpId op, StoreResult result) {
  if (stopped_) return;
  handle_store_done(now, op, std::move(result));
}

void Node::shutdown(Time now) {
  if (stopped_) return;
  handle_shutdown(now);
  stopped_ = true;
  for (const auto& [conn, decoder] : decoders_) emit(Close{conn, false});
  decoders_.clear();
  held_total_ = 0;
  timers_.clear();
  deadlines_.clear();
}

std::optional<Effect> Node::poll_effect() {
  if (effects_.empty()) return std::nullopt;
  Effect e = std::move(effects_.front());
  effects_.pop_front();
  return e;
}

std::optional<Time> Node::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void Node::open_decoder(ConnId conn) {
  drop_decoder(conn);
  decoders_.emplace(conn, FrameDecoder(kMaxChunkSize, alloc_));
}

void Node::close(ConnId conn) {
  if (drop_decoder(conn)) emit(Close{conn, false});
}

ConnId Node::connect(const Endpoint& to) {
  const ConnId id = next_conn_++;
  open_decoder(id);
  emit(Connect{id, to});
  return id;
}

TimerId Node::start_timer(Time deadline) {
  const TimerId id = next_timer_++;
  timers_.emplace(id, deadline);
  deadlines_.emplace(deadline, id);
  return id;
}

void Node::cancel_timer(TimerId& id) {
  if (const auto it = timers_.find(id); it != timers_.end()) {
    deadlines_.erase({it->second, id});
    timers_.erase(it);
  }
  id = 0;
}

std::string_view to_string(CloseReason r) {
  switch (r) {
    case CloseReason::Normal:
      return "closed";
    case CloseReason::Reset:
      return "reset";
    case CloseReason::ConnectFailed:
      return "connect failed";
    case CloseReason::ProtocolError:
      return "protocol error";
    case CloseReason::Local:
      return "closed locally";
    case CloseReason::Overloaded:
      return "dropped: too much unfinished data buffered";
  }
  return "unknown";
}

nlohmann::json Event::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["t"] = to_seconds(time);
  j["node"] = node;
  j["type"] = type;
  for (const auto& [k, v] : fields.items()) j[k] = v;
  return j;
}

}  // namespace swarmlab

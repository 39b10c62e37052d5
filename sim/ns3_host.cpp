#include "sim/ns3_host.hpp"

#include <algorithm>
#include <sstream>

#include "sim/linux_tcp_socket.hpp"

namespace swarmlab::sim {
namespace {

ns3::InetSocketAddress to_ns3(const Endpoint& e) {
  return ns3::InetSocketAddress(ns3::Ipv4Address(e.host.c_str()), e.port);
}

Endpoint from_ns3(const ns3::Address& a) {
  const auto inet = ns3::InetSocketAddress::ConvertFrom(a);
  std::ostringstream host;
  inet.GetIpv4().Print(host);
  return Endpoint{host.str(), inet.GetPort()};
}

// A socket this host let go of still receives until the peer learns of the close, which
// waits behind whatever we had left to send (a Close with unsent data only sends its FIN once
// the data is out: tens of seconds behind a slow uplink). Its bytes are read and dropped
// (Linux would answer them with a reset; either way they are lost). Left unread they would
// shrink the window the peer sees until its bytes in flight fill it exactly, and ns-3 3.37
// then builds a zero-length segment and crashes in TcpRateLinux::SkbSent (ns-3 issue 991,
// TcpTxBuffer::NextSeg's `m_sentSize <= rWnd`, fixed in 3.41 by commit 13c1b9b63).
void DiscardReceived(ns3::Ptr<ns3::Socket> socket) {
  while (socket->Recv()) {
  }
}

}  // namespace

ns3::TypeId Ns3Host::GetTypeId() {
  static ns3::TypeId tid =
      ns3::TypeId("swarmlab::sim::Ns3Host").SetParent<ns3::Application>().AddConstructor<Ns3Host>();
  return tid;
}

Ns3Host::~Ns3Host() = default;

void Ns3Host::Setup(std::size_t index, NodeFactory factory, const std::string& address,
                    std::uint16_t listen_port, SimChunkStore* store, FrameChannel* channel,
                    HostObserver* observer, std::uint32_t segment_size) {
  index_ = index;
  factory_ = std::move(factory);
  ip_ = ns3::Ipv4Address(address.c_str()).Get();
  listen_port_ = listen_port;
  store_ = store;
  channel_ = channel;
  observer_ = observer;
  segment_size_ = segment_size;
}

Time Ns3Host::now() {
  return time_at(Duration(ns3::Simulator::Now().GetNanoSeconds()));
}

void Ns3Host::StartApplication() {
  Boot();
}

// A graceful stop: the node says goodbye (the peer unregisters and closes), then the
// host closes what is left once queued frames are out.
void Ns3Host::StopApplication() {
  if (!node_) return;
  node_->shutdown(now());
  Drain();
  TearDown(/*graceful=*/true);
}

void Ns3Host::DoDispose() {
  TearDown(/*graceful=*/false);
  ns3::Application::DoDispose();
}

void Ns3Host::Boot() {
  if (node_ || !factory_) return;
  node_ = factory_();
  listener_ = make_tcp_socket(GetNode());
  listener_->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), listen_port_));
  listener_->Listen();
  listener_->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::MakeCallback(&Ns3Host::OnAccept, this));
  if (trace_ != nullptr) trace_->listen(now(), index_, listen_port_);
  node_->on_start(now());
  Drain();
}

void Ns3Host::Crash() {
  TearDown(/*graceful=*/false);
}

void Ns3Host::Restart() {
  Boot();
}

void Ns3Host::TearDown(bool graceful) {
  ++epoch_;
  node_.reset();
  if (store_ != nullptr) store_->forget_open_files();
  ns3::Simulator::Cancel(wake_);
  wake_at_.reset();
  if (listener_) {
    listener_->SetAcceptCallback(
        ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
        ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>());
    listener_->Close();
    listener_ = nullptr;
    if (trace_ != nullptr) trace_->unlisten(now(), index_);
  }
  std::vector<ConnId> ids;
  for (auto& [id, c] : conns_) {
    if (graceful && c.connected && c.stream.unsent() > 0) {
      // The OS would still send what the process wrote (a close already under way is so).
      if (!c.closing && trace_ != nullptr) trace_->close(now(), index_, id, /*drain=*/true);
      c.closing = true;
      continue;
    }
    ids.push_back(id);
  }
  for (auto id : ids) DoClose(id);
}

void Ns3Host::Command(const std::function<void(Node&, Time)>& fn) {
  if (!node_) return;
  fn(*node_, now());
  Drain();
}

void Ns3Host::Drain() {
  while (node_) {
    auto e = node_->poll_effect();
    if (!e) break;
    Handle(std::move(*e));
  }
  if (node_) Rearm();
}

// One simulator event per node, at its next deadline.
void Ns3Host::Rearm() {
  const auto deadline = node_->next_deadline();
  if (deadline == wake_at_) return;
  ns3::Simulator::Cancel(wake_);
  wake_at_ = deadline;
  if (!deadline) return;
  const auto delay = std::max<std::int64_t>(0, (*deadline - now()).count());
  wake_ = ns3::Simulator::Schedule(ns3::NanoSeconds(delay), [this] {
    wake_at_.reset();
    if (!node_) return;
    node_->on_deadline(now());
    Drain();
  });
}

void Ns3Host::Handle(Effect e) {
  std::visit(
      [&](auto&& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Connect>) {
          DoConnect(x);
        } else if constexpr (std::is_same_v<T, Send>) {
          DoSend(x.conn, x.frame, x.report_sent);
        } else if constexpr (std::is_same_v<T, Close>) {
          if (x.reset) {
            Abort(x.conn);
          } else {
            DoClose(x.conn);
          }
        } else if constexpr (std::is_same_v<T, Record>) {
          if (observer_ != nullptr) observer_->on_record(index_, x.event);
        } else if constexpr (std::is_same_v<T, Notify>) {
          if (observer_ != nullptr) observer_->on_notice(index_, x);
        } else {
          DoStore(x);
        }
      },
      std::move(e));
}

// Store results come back as a later event, as they would from worker threads: the node
// is never re-entered while it is being drained.
template <typename Op>
void Ns3Host::DoStore(const Op& op) {
  StoreResult result = store_ != nullptr
                           ? store_->execute(op)
                           : StoreResult::failed(make_error(ErrorCode::IoError, "no store"));
  const auto epoch = epoch_;
  const StoreOpId id = op.op;
  ns3::Simulator::ScheduleNow([this, epoch, id, result = std::move(result)]() mutable {
    if (epoch != epoch_ || !node_) return;
    node_->on_store_done(now(), id, std::move(result));
    Drain();
  });
}

void Ns3Host::Watch(ns3::Ptr<ns3::Socket> socket, ConnId id) {
  by_socket_[ns3::PeekPointer(socket)] = id;
  // Counted for run.json: how often TCP, not the swarm, decided what went on the wire.
  socket->TraceConnectWithoutContext(
      "CongState",
      ns3::Callback<void, ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t>(
          [this](ns3::TcpSocketState::TcpCongState_t, ns3::TcpSocketState::TcpCongState_t now) {
            if (observer_ == nullptr) return;
            if (now == ns3::TcpSocketState::CA_LOSS) observer_->on_tcp_recovery(index_, true);
            if (now == ns3::TcpSocketState::CA_RECOVERY) observer_->on_tcp_recovery(index_, false);
          }));
  socket->TraceConnectWithoutContext("TailLossProbe", ns3::Callback<void>([this] {
                                       if (observer_ != nullptr)
                                         observer_->on_tcp_loss_probe(index_);
                                     }));
  socket->TraceConnectWithoutContext("HyStartExit", ns3::Callback<void, bool>([this](bool delay) {
                                       if (observer_ != nullptr)
                                         observer_->on_tcp_hystart_exit(index_, delay);
                                     }));
  // How much of what we handed TCP it has sent: lets Pump cut writes where TCP will cut
  // segments (sim/tcp_stream_writer.hpp).
  socket->TraceConnectWithoutContext(
      "HighestSequence", ns3::Callback<void, ns3::SequenceNumber32, ns3::SequenceNumber32>(
                             [this, raw = ns3::PeekPointer(socket)](
                                 ns3::SequenceNumber32 old_value, ns3::SequenceNumber32 new_value) {
                               // Looked up by socket: a released socket (or a ConnId reused by a
                               // restarted node) must not touch another connection.
                               const auto it = conns_.find(IdOf(raw));
                               if (it == conns_.end() || ns3::PeekPointer(it->second.socket) != raw)
                                 return;
                               auto& c = it->second;
                               if (!c.stream.on_highest_sequence(old_value, new_value)) return;
                               if (!c.report_at.empty() && c.stream.sent() >= c.report_at.front()) {
                                 // Not from inside TCP's send path: the node may send more.
                                 ns3::Simulator::ScheduleNow([this, id = it->first] {
                                   if (auto c2 = conns_.find(id); c2 != conns_.end())
                                     ReportSent(id, c2->second);
                                 });
                               }
                             }));
  socket->SetRecvCallback(ns3::MakeCallback(&Ns3Host::OnRecv, this));
  socket->SetSendCallback(ns3::MakeCallback(&Ns3Host::OnSendSpace, this));
  socket->SetCloseCallbacks(ns3::MakeCallback(&Ns3Host::OnNormalClose, this),
                            ns3::MakeCallback(&Ns3Host::OnErrorClose, this));
}

ConnId Ns3Host::IdOf(ns3::Socket* socket) const {
  const auto it = by_socket_.find(socket);
  return it == by_socket_.end() ? 0 : it->second;
}

void Ns3Host::DoConnect(const Connect& c) {
  auto socket = make_tcp_socket(GetNode());
  socket->Bind();
  auto& conn = conns_[c.conn];
  conn.socket = socket;
  ns3::Address local;
  socket->GetSockName(local);
  const auto port = ns3::InetSocketAddress::ConvertFrom(local).GetPort();
  const auto to = to_ns3(c.to);
  conn.tx = {ip_, port, to.GetIpv4().Get(), to.GetPort()};
  conn.rx = {conn.tx.to_ip, conn.tx.to_port, ip_, port};
  // A reused ephemeral port must not inherit frames of a connection long gone.
  channel_->drop(conn.tx);
  channel_->drop(conn.rx);
  Watch(socket, c.conn);
  if (trace_ != nullptr)
    trace_->connect(now(), index_, c.conn, port, conn.tx.to_ip, conn.tx.to_port);
  socket->SetConnectCallback(ns3::MakeCallback(&Ns3Host::OnConnected, this),
                             ns3::MakeCallback(&Ns3Host::OnConnectFailed, this));
  socket->Connect(to_ns3(c.to));
}

void Ns3Host::OnConnected(ns3::Ptr<ns3::Socket> socket) {
  const ConnId id = IdOf(ns3::PeekPointer(socket));
  auto it = conns_.find(id);
  if (it == conns_.end() || !node_) return;
  it->second.connected = true;
  node_->on_connected(now(), id);
  Drain();
  if (auto again = conns_.find(id); again != conns_.end()) Pump(id, again->second);
}

void Ns3Host::OnConnectFailed(ns3::Ptr<ns3::Socket> socket) {
  Lost(ns3::PeekPointer(socket), CloseReason::ConnectFailed);
}

void Ns3Host::OnAccept(ns3::Ptr<ns3::Socket> socket, const ns3::Address& from) {
  if (!node_) {
    socket->SetRecvCallback(ns3::MakeCallback(&DiscardReceived));
    socket->Close();
    return;
  }
  const ConnId id = next_accepted_++;
  auto& conn = conns_[id];
  conn.socket = socket;
  conn.connected = true;
  const auto remote = ns3::InetSocketAddress::ConvertFrom(from);
  conn.rx = {remote.GetIpv4().Get(), remote.GetPort(), ip_, listen_port_};
  conn.tx = {ip_, listen_port_, remote.GetIpv4().Get(), remote.GetPort()};
  Watch(socket, id);
  if (trace_ != nullptr) trace_->accept(now(), index_, id, conn.rx.from_ip, conn.rx.from_port);
  node_->on_accepted(now(), id, from_ns3(from));
  Drain();
}

void Ns3Host::DoSend(ConnId id, const RawFrame& frame, bool report_sent) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.closing) return;
  // Only the byte count goes on the wire; the contents go beside it.
  const auto size = static_cast<std::uint32_t>(FrameChannel::wire_size(frame));
  if (!frame.payload.empty() && observer_ != nullptr) {
    observer_->on_payload_sent(index_, frame.payload.size());
  }
  channel_->push(it->second.tx, frame);
  if (trace_ != nullptr) trace_->write(now(), index_, id, size);
  it->second.stream.add(size);
  if (report_sent) {
    it->second.report_at.push_back(it->second.stream.written() + it->second.stream.unsent());
  }
  Pump(id, it->second);
}

// Hands the stream to TCP as its send buffer frees up (sim/tcp_stream_writer.hpp).
void Ns3Host::Pump(ConnId id, Conn& c) {
  if (!c.connected) return;
  if (!c.stream.pump(*c.socket, segment_size_)) return;
  if (c.closing) Release(id)->Close();
}

void Ns3Host::ReportSent(ConnId id, Conn& c) {
  std::size_t due = 0;
  while (!c.report_at.empty() && c.stream.sent() >= c.report_at.front()) {
    c.report_at.pop_front();
    ++due;
  }
  for (; due > 0 && node_; --due) node_->on_sent(now(), id);
  Drain();
}

void Ns3Host::OnSendSpace(ns3::Ptr<ns3::Socket> socket, std::uint32_t) {
  const ConnId id = IdOf(ns3::PeekPointer(socket));
  if (auto it = conns_.find(id); it != conns_.end()) Pump(id, it->second);
}

void Ns3Host::DoClose(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  auto& c = it->second;
  if (c.connected && c.stream.unsent() > 0 && node_) {
    c.closing = true;  // the frames before the close still go out (an ERROR, a goodbye)
    if (trace_ != nullptr) trace_->close(now(), index_, id, /*drain=*/true);
    return;
  }
  Abort(id);
}

void Ns3Host::Abort(ConnId id) {
  if (!conns_.contains(id)) return;
  if (trace_ != nullptr) trace_->close(now(), index_, id, /*drain=*/false);
  Release(id)->Close();
}

ns3::Ptr<ns3::Socket> Ns3Host::Release(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return nullptr;
  auto socket = it->second.socket;
  socket->SetRecvCallback(ns3::MakeCallback(&DiscardReceived));
  socket->SetSendCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>());
  socket->SetCloseCallbacks(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                            ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  socket->SetConnectCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                             ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  by_socket_.erase(ns3::PeekPointer(socket));
  channel_->drop(it->second.rx);
  conns_.erase(it);
  // We may be inside one of this socket's callbacks: keep it alive until the event ends.
  ns3::Simulator::ScheduleNow([socket] {});
  return socket;
}

void Ns3Host::OnRecv(ns3::Ptr<ns3::Socket> socket) {
  const ConnId id = IdOf(ns3::PeekPointer(socket));
  while (auto packet = socket->Recv()) {
    auto it = conns_.find(id);
    // Nobody reads it (the node is down, or the connection is only flushing its goodbye):
    // drained all the same, so the advertised window stays open (see configure_tcp).
    if (it == conns_.end() || !node_) continue;
    it->second.rx_pending += packet->GetSize();
    // Every frame whose last byte has arrived goes to the node as the bytes a real socket
    // would deliver: prefix, header and real payload; a virtual payload as a count.
    while (true) {
      it = conns_.find(id);
      if (it == conns_.end() || !node_) return;
      auto& c = it->second;
      if (c.rx_pending == 0) break;
      const RawFrame* next = channel_->front(c.rx);
      if (next == nullptr) {
        // Stream bytes with no frame beside them: the two channels disagree, so nothing on
        // this connection can be trusted any more.
        Abort(id);
        node_->on_closed(now(), id, CloseReason::ProtocolError);
        Drain();
        return;
      }
      if (FrameChannel::wire_size(*next) > c.rx_pending) {  // not yet, but on its way
        node_->on_arriving(now(), id);
        Drain();
        break;
      }
      auto frame = channel_->pop(c.rx);
      c.rx_pending -= FrameChannel::wire_size(*frame);
      const auto prefix = encode_frame_prefix(static_cast<std::uint32_t>(frame->header.size()),
                                              static_cast<std::uint32_t>(frame->payload.size()));
      scratch_.assign(prefix.begin(), prefix.end());
      scratch_.insert(scratch_.end(), frame->header.begin(), frame->header.end());
      if (!frame->payload.is_virtual()) {
        const auto bytes = frame->payload.bytes();
        scratch_.insert(scratch_.end(), bytes.begin(), bytes.end());
      }
      node_->on_bytes(now(), id, scratch_);
      if (frame->payload.is_virtual()) node_->on_virtual_bytes(now(), id, frame->payload.size());
      Drain();
    }
  }
}

void Ns3Host::OnNormalClose(ns3::Ptr<ns3::Socket> socket) {
  Lost(ns3::PeekPointer(socket), CloseReason::Normal);
}

void Ns3Host::OnErrorClose(ns3::Ptr<ns3::Socket> socket) {
  Lost(ns3::PeekPointer(socket), CloseReason::Reset);
}

void Ns3Host::Lost(ns3::Socket* socket, CloseReason reason) {
  const ConnId id = IdOf(socket);
  if (!conns_.contains(id)) return;
  auto released = Release(id);
  // The other side finished: finish ours. After a reset there is nothing left to close.
  if (reason == CloseReason::Normal) released->Close();
  if (!node_) return;
  node_->on_closed(now(), id, reason);
  Drain();
}

}  // namespace swarmlab::sim

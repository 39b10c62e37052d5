#include "sim/ns3_host.hpp"

#include <algorithm>
#include <sstream>

#include "swarmlab/peer.hpp"

namespace swarmlab::sim {
namespace {

// Marks the bytes of a virtual payload. It carries nothing: its presence is the message.
class VirtualPayloadTag : public ns3::Tag {
 public:
  static ns3::TypeId GetTypeId() {
    static ns3::TypeId tid = ns3::TypeId("swarmlab::sim::VirtualPayloadTag")
                                 .SetParent<ns3::Tag>()
                                 .AddConstructor<VirtualPayloadTag>();
    return tid;
  }
  ns3::TypeId GetInstanceTypeId() const override { return GetTypeId(); }
  std::uint32_t GetSerializedSize() const override { return 0; }
  void Serialize(ns3::TagBuffer) const override {}
  void Deserialize(ns3::TagBuffer) override {}
  void Print(std::ostream& os) const override { os << "virtual-payload"; }
};

ns3::InetSocketAddress to_ns3(const Endpoint& e) {
  return ns3::InetSocketAddress(ns3::Ipv4Address(e.host.c_str()), e.port);
}

Endpoint from_ns3(const ns3::Address& a) {
  const auto inet = ns3::InetSocketAddress::ConvertFrom(a);
  std::ostringstream host;
  inet.GetIpv4().Print(host);
  return Endpoint{host.str(), inet.GetPort()};
}

}  // namespace

ns3::TypeId Ns3Host::GetTypeId() {
  static ns3::TypeId tid =
      ns3::TypeId("swarmlab::sim::Ns3Host").SetParent<ns3::Application>().AddConstructor<Ns3Host>();
  return tid;
}

Ns3Host::~Ns3Host() = default;

void Ns3Host::Setup(std::size_t index, NodeFactory factory, std::uint16_t listen_port,
                    SimChunkStore* store, HostObserver* observer, std::uint32_t segment_size) {
  index_ = index;
  factory_ = std::move(factory);
  listen_port_ = listen_port;
  store_ = store;
  observer_ = observer;
  segment_size_ = segment_size;
}

Time Ns3Host::now() {
  return Time(ns3::Simulator::Now().GetNanoSeconds());
}

void Ns3Host::StartApplication() {
  Boot();
}

// A graceful stop: the node says goodbye (the peer unregisters and closes), then the
// host closes what is left once queued frames are out.
void Ns3Host::StopApplication() {
  if (!node_) return;
  if (auto* peer = dynamic_cast<Peer*>(node_.get())) {
    peer->shutdown(now());
    Drain();
  }
  TearDown(/*graceful=*/true);
}

void Ns3Host::DoDispose() {
  TearDown(/*graceful=*/false);
  ns3::Application::DoDispose();
}

void Ns3Host::Boot() {
  if (node_ || !factory_) return;
  node_ = factory_();
  listener_ = ns3::Socket::CreateSocket(GetNode(), ns3::TcpSocketFactory::GetTypeId());
  listener_->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), listen_port_));
  listener_->Listen();
  listener_->SetAcceptCallback(
      ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
      ns3::MakeCallback(&Ns3Host::OnAccept, this));
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
  for (auto& [id, event] : timers_) ns3::Simulator::Cancel(event);
  timers_.clear();
  if (listener_) {
    listener_->SetAcceptCallback(
        ns3::MakeNullCallback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(),
        ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>());
    listener_->Close();
    listener_ = nullptr;
  }
  std::vector<ConnId> ids;
  for (auto& [id, c] : conns_) {
    if (graceful && c.connected && !c.out.empty()) {
      c.closing = true;  // the OS would still send what the process wrote
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
}

void Ns3Host::Handle(Effect e) {
  std::visit(
      [&](auto&& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Connect>) {
          DoConnect(x);
        } else if constexpr (std::is_same_v<T, Send>) {
          DoSend(x.conn, x.frame);
        } else if constexpr (std::is_same_v<T, Close>) {
          DoClose(x.conn);
        } else if constexpr (std::is_same_v<T, StartTimer>) {
          if (auto it = timers_.find(x.timer); it != timers_.end())
            ns3::Simulator::Cancel(it->second);
          const auto delay = std::max<std::int64_t>(0, (x.deadline - now()).count());
          const auto epoch = epoch_;
          const TimerId id = x.timer;
          timers_[id] = ns3::Simulator::Schedule(ns3::NanoSeconds(delay), [this, epoch, id] {
            timers_.erase(id);
            if (epoch != epoch_ || !node_) return;
            node_->on_timer(now(), id);
            Drain();
          });
        } else if constexpr (std::is_same_v<T, CancelTimer>) {
          if (auto it = timers_.find(x.timer); it != timers_.end()) {
            ns3::Simulator::Cancel(it->second);
            timers_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, Record>) {
          if (observer_ != nullptr) observer_->on_record(index_, x.event);
        } else if constexpr (std::is_same_v<T, Notify>) {
          if (observer_ != nullptr) observer_->on_notice(index_, x.event);
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
                           : StoreResult{make_error(ErrorCode::IoError, "no store"), {}, {}, {}};
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
  auto socket = ns3::Socket::CreateSocket(GetNode(), ns3::TcpSocketFactory::GetTypeId());
  socket->Bind();
  auto& conn = conns_[c.conn];
  conn.socket = socket;
  Watch(socket, c.conn);
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
    socket->Close();
    return;
  }
  const ConnId id = next_accepted_++;
  auto& conn = conns_[id];
  conn.socket = socket;
  conn.connected = true;
  Watch(socket, id);
  node_->on_accepted(now(), id, from_ns3(from));
  Drain();
}

void Ns3Host::DoSend(ConnId id, const RawFrame& frame) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.closing) return;
  const auto prefix = encode_frame_prefix(static_cast<std::uint32_t>(frame.header.size()),
                                          static_cast<std::uint32_t>(frame.payload.size()));
  scratch_.assign(prefix.begin(), prefix.end());
  scratch_.insert(scratch_.end(), frame.header.begin(), frame.header.end());
  if (!frame.payload.is_virtual()) {
    const auto bytes = frame.payload.bytes();
    scratch_.insert(scratch_.end(), bytes.begin(), bytes.end());
  }
  auto packet =
      ns3::Create<ns3::Packet>(scratch_.data(), static_cast<std::uint32_t>(scratch_.size()));
  if (frame.payload.is_virtual() && !frame.payload.empty()) {
    // Zero-filled and never allocated: ns-3 keeps it as a "zero area" of the buffer.
    auto payload = ns3::Create<ns3::Packet>(static_cast<std::uint32_t>(frame.payload.size()));
    payload->AddByteTag(VirtualPayloadTag());
    packet->AddAtEnd(payload);
  }
  if (!frame.payload.empty() && observer_ != nullptr) {
    observer_->on_payload_sent(index_, frame.payload.size());
  }
  it->second.out.push_back(packet);
  Pump(id, it->second);
}

// Hands queued frames to TCP as its send buffer frees up. Writes are whole segments where
// possible, so virtual payload bytes are never merged with real ones and stay virtual.
void Ns3Host::Pump(ConnId id, Conn& c) {
  if (!c.connected) return;
  while (!c.out.empty()) {
    const std::uint32_t available = c.socket->GetTxAvailable();
    if (available == 0) return;
    auto& packet = c.out.front();
    const std::uint32_t remaining = packet->GetSize() - c.out_offset;
    std::uint32_t n = std::min(available, remaining);
    if (n < remaining && n >= segment_size_) n -= n % segment_size_;
    auto piece =
        (c.out_offset == 0 && n == remaining) ? packet : packet->CreateFragment(c.out_offset, n);
    if (c.socket->Send(piece) < 0) return;
    c.out_offset += n;
    if (c.out_offset == packet->GetSize()) {
      c.out.pop_front();
      c.out_offset = 0;
    }
  }
  if (c.closing) Release(id)->Close();
}

void Ns3Host::OnSendSpace(ns3::Ptr<ns3::Socket> socket, std::uint32_t) {
  const ConnId id = IdOf(ns3::PeekPointer(socket));
  if (auto it = conns_.find(id); it != conns_.end()) Pump(id, it->second);
}

void Ns3Host::DoClose(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  auto& c = it->second;
  if (c.connected && !c.out.empty() && node_) {
    c.closing = true;  // the frames before the close still go out (an ERROR, a goodbye)
    return;
  }
  Release(id)->Close();
}

ns3::Ptr<ns3::Socket> Ns3Host::Release(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return nullptr;
  auto socket = it->second.socket;
  socket->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  socket->SetSendCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>, std::uint32_t>());
  socket->SetCloseCallbacks(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                            ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  socket->SetConnectCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>(),
                             ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  by_socket_.erase(ns3::PeekPointer(socket));
  conns_.erase(it);
  // We may be inside one of this socket's callbacks: keep it alive until the event ends.
  ns3::Simulator::ScheduleNow([socket] {});
  return socket;
}

void Ns3Host::OnRecv(ns3::Ptr<ns3::Socket> socket) {
  const ConnId id = IdOf(ns3::PeekPointer(socket));
  while (auto packet = socket->Recv()) {
    auto it = conns_.find(id);
    if (it == conns_.end() || !node_) return;
    auto& decoder = it->second.decoder;

    // Byte ranges of this packet that are virtual payload, in order.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> virtual_ranges;
    auto tags = packet->GetByteTagIterator();
    while (tags.HasNext()) {
      const auto item = tags.Next();
      if (item.GetTypeId() != VirtualPayloadTag::GetTypeId()) continue;
      const auto start = static_cast<std::uint32_t>(std::max<std::int64_t>(0, item.GetStart()));
      const std::uint32_t end = std::min<std::uint32_t>(packet->GetSize(), item.GetEnd());
      if (start < end) virtual_ranges.emplace_back(start, end);
    }
    std::sort(virtual_ranges.begin(), virtual_ranges.end());

    Status status;
    std::uint32_t pos = 0;
    auto feed_real = [&](std::uint32_t end) {
      if (end <= pos || !status) return;
      scratch_.resize(end - pos);
      if (pos == 0 && end == packet->GetSize()) {
        packet->CopyData(scratch_.data(), end);
      } else {
        packet->CreateFragment(pos, end - pos)->CopyData(scratch_.data(), end - pos);
      }
      status = decoder.feed(scratch_);
      pos = end;
    };
    for (const auto& [start, end] : virtual_ranges) {
      if (end <= pos || !status) continue;
      feed_real(start);
      if (status) status = decoder.feed_virtual(end - std::max(start, pos));
      pos = end;
    }
    feed_real(packet->GetSize());

    while (auto frame = decoder.next()) {
      node_->on_frame(now(), id, std::move(*frame));
      Drain();
      if (!conns_.contains(id) || !node_) return;
    }
    if (!status) {
      // The stream broke framing: nothing after this point can be trusted.
      Release(id)->Close();
      node_->on_closed(now(), id, CloseReason::ProtocolError);
      Drain();
      return;
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

#pragma once
// What the simulated TCP streams carry: only byte counts. Every byte on an ns-3 socket is
// a zero-filled "virtual" byte, so ns-3 never allocates payload memory, never materialises
// zeros when it joins segments, and its buffer pool stays small. The contents of each
// frame (its header, and the few real payloads such as chunk hashes) travel beside the
// stream in this channel, in order, and the receiving host takes a frame out when the
// stream has delivered that frame's last byte — the moment the real bytes would be there.
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>

#include "swarmlab/frame_codec.hpp"

namespace swarmlab::sim {

class FrameChannel {
 public:
  /// One direction of one TCP connection: sender address and port -> receiver's.
  struct Key {
    std::uint32_t from_ip = 0;
    std::uint16_t from_port = 0;
    std::uint32_t to_ip = 0;
    std::uint16_t to_port = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      const std::uint64_t from = (std::uint64_t{k.from_ip} << 16) | k.from_port;
      const std::uint64_t to = (std::uint64_t{k.to_ip} << 16) | k.to_port;
      return std::hash<std::uint64_t>{}(from * 0x9e3779b97f4a7c15ULL ^ to);
    }
  };

  /// The sender wrote `frame` (its wire size: 8-byte prefix + header + payload).
  void push(const Key& k, RawFrame frame) { queues_[k].push_back(std::move(frame)); }
  /// The next frame the receiver will get, or nullptr.
  const RawFrame* front(const Key& k) const;
  /// The receiver has all bytes of the next frame.
  std::optional<RawFrame> pop(const Key& k);
  /// The connection is gone (receiver side), or its port is being used afresh (sender side).
  void drop(const Key& k) { queues_.erase(k); }

  static std::uint64_t wire_size(const RawFrame& f) {
    return kFramePrefixBytes + f.header.size() + f.payload.size();
  }

 private:
  // Looked up for every frame sent and every segment delivered; never iterated.
  std::unordered_map<Key, std::deque<RawFrame>, KeyHash> queues_;
};

}  // namespace swarmlab::sim

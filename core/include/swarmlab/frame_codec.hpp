#pragma once
// Framing (docs/architecture.md, Wire protocol):
//   u32 header_length (BE) | u32 payload_length (BE) | header (UTF-8 JSON) | payload (raw)
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "swarmlab/error.hpp"
#include "swarmlab/payload.hpp"

namespace swarmlab {

constexpr std::size_t kFramePrefixBytes = 8;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
/// No file may use chunks larger than this; it also bounds every payload on the wire.
constexpr std::uint32_t kMaxChunkSize = 16 * 1024 * 1024;
constexpr std::uint32_t kMinChunkSize = 4 * 1024;
constexpr std::uint32_t kDefaultChunkSize = 512 * 1024;

/// A frame as it travels: header text and payload, not yet interpreted.
struct RawFrame {
  std::string header;
  Payload payload;
};

/// The 8-byte length prefix of a frame.
std::array<std::uint8_t, kFramePrefixBytes> encode_frame_prefix(std::uint32_t header_len,
                                                                std::uint32_t payload_len);

/// The whole frame as one byte string (tests and small messages). Adapters that care about
/// copies write prefix, header and payload as three buffers instead.
std::vector<std::uint8_t> encode_frame_bytes(const RawFrame& frame);

/// Incremental decoder: accepts the stream in any split (one byte at a time works) and
/// yields whole frames. After an error the stream cannot be resynchronised; the decoder
/// stays failed and the connection should be closed.
///
/// Memory follows the bytes that arrived, not the length a prefix declares: a payload's
/// buffer starts at kFirstPayloadWindow and doubles as it fills, so a stream that declares
/// 16 MiB and sends ten bytes holds 64 KiB, not 16 MiB.
class FrameDecoder {
 public:
  /// Allocates a payload buffer of the given size; lets adapters pool chunk buffers.
  using BufferAllocator = std::function<std::shared_ptr<std::vector<std::uint8_t>>(std::size_t)>;

  explicit FrameDecoder(std::uint32_t max_payload = kMaxChunkSize, BufferAllocator alloc = {});

  /// Consumes bytes; complete frames become available through next().
  /// Returns the error that stopped decoding, if any (also sticky in failed()).
  Status feed(std::span<const std::uint8_t> bytes);
  /// Consumes `count` payload bytes that carry no data (simulation). Fails if the stream is
  /// not inside a payload, or the count runs past it.
  Status feed_virtual(std::size_t count);

  /// Zero-copy path: where the next payload bytes may be written directly; empty unless the
  /// decoder is inside a real payload. Call commit() with the number of bytes written.
  std::span<std::uint8_t> payload_window();
  /// The buffer behind payload_window(): hold it while a read into the window is under way.
  std::shared_ptr<std::vector<std::uint8_t>> payload_buffer() const { return payload_buf_; }
  Status commit(std::size_t count);

  std::optional<RawFrame> next();
  bool failed() const { return error_.has_value(); }
  const std::optional<Error>& error() const { return error_; }
  /// Bytes consumed of a frame not yet complete; 0 between frames.
  std::size_t partial_bytes() const;
  /// Memory held for the frame under way (its header and payload buffer).
  std::size_t held_bytes() const;

  static constexpr std::size_t kFirstPayloadWindow = 64 * 1024;

 private:
  enum class State { Prefix, Header, Payload };
  void begin_frame();
  Status on_prefix_complete();
  void finish_frame();

  std::uint32_t max_payload_;
  BufferAllocator alloc_;
  State state_ = State::Prefix;
  std::array<std::uint8_t, kFramePrefixBytes> prefix_{};
  std::size_t prefix_len_ = 0;
  std::uint32_t header_len_ = 0;
  std::uint32_t payload_len_ = 0;
  std::string header_;
  std::shared_ptr<std::vector<std::uint8_t>> payload_buf_;
  std::size_t payload_filled_ = 0;
  bool payload_virtual_ = false;
  std::vector<RawFrame> ready_;
  std::size_t ready_pos_ = 0;
  std::optional<Error> error_;
};

}  // namespace swarmlab

#pragma once
// The raw part of a frame: real bytes shared without copying, a virtual size (simulation:
// the bytes are never materialised, only counted), or bytes held outside memory by the
// adapter (a file region the real-network host sends with sendfile).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace swarmlab {

/// An adapter's handle to bytes the core never reads, such as a region of a file. The core
/// only carries it, with its size, from a store read to a send.
class ExternalBytes {
 public:
  virtual ~ExternalBytes() = default;
};

class Payload {
 public:
  Payload() = default;

  /// Bytes owned by `owner` (a pooled buffer, a vector...), viewed as [data, data+size).
  Payload(std::shared_ptr<const void> owner, const std::uint8_t* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

  static Payload from_vector(std::vector<std::uint8_t> bytes) {
    auto buf = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
    const auto* data = buf->data();
    const auto size = buf->size();
    return Payload(std::move(buf), data, size);
  }
  static Payload copy_of(std::span<const std::uint8_t> bytes) {
    return from_vector(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  }
  /// A payload of `size` bytes that exist only as a count.
  static Payload virtual_bytes(std::size_t size) {
    Payload p;
    p.size_ = size;
    p.virtual_ = true;
    return p;
  }

  /// `size` bytes that `source` stands for. To the core they are virtual: it never reads them.
  static Payload external(std::shared_ptr<const ExternalBytes> source, std::size_t size) {
    Payload p = virtual_bytes(size);
    p.external_ = std::move(source);
    return p;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool is_virtual() const { return virtual_; }
  /// The adapter's handle, for an external payload; null otherwise.
  const ExternalBytes* external() const { return external_.get(); }
  /// The bytes; empty for a virtual payload.
  std::span<const std::uint8_t> bytes() const {
    return virtual_ ? std::span<const std::uint8_t>{} : std::span(data_, size_);
  }

 private:
  std::shared_ptr<const void> owner_;
  std::shared_ptr<const ExternalBytes> external_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  bool virtual_ = false;
};

}  // namespace swarmlab

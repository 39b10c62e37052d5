#include "swarmlab/frame_codec.hpp"

#include <algorithm>
#include <cstring>

namespace swarmlab {

std::array<std::uint8_t, kFramePrefixBytes> encode_frame_prefix(std::uint32_t header_len,
                                                                std::uint32_t payload_len) {
  std::array<std::uint8_t, kFramePrefixBytes> p{};
  for (int i = 0; i < 4; ++i) {
    p[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(header_len >> (24 - 8 * i));
    p[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(payload_len >> (24 - 8 * i));
  }
  return p;
}

std::vector<std::uint8_t> encode_frame_bytes(const RawFrame& frame) {
  const auto prefix = encode_frame_prefix(static_cast<std::uint32_t>(frame.header.size()),
                                          static_cast<std::uint32_t>(frame.payload.size()));
  std::vector<std::uint8_t> out;
  out.reserve(prefix.size() + frame.header.size() + frame.payload.size());
  out.insert(out.end(), prefix.begin(), prefix.end());
  out.insert(out.end(), frame.header.begin(), frame.header.end());
  if (frame.payload.is_virtual()) {
    out.resize(out.size() + frame.payload.size(), 0);
  } else {
    const auto b = frame.payload.bytes();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

FrameDecoder::FrameDecoder(std::uint32_t max_payload, BufferAllocator alloc)
    : max_payload_(max_payload), alloc_(std::move(alloc)) {
}

void FrameDecoder::begin_frame() {
  state_ = State::Prefix;
  prefix_len_ = 0;
  header_.clear();
  payload_buf_.reset();
  payload_filled_ = 0;
  payload_virtual_ = false;
}

Status FrameDecoder::on_prefix_complete() {
  auto be32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(prefix_[at]) << 24 |
           static_cast<std::uint32_t>(prefix_[at + 1]) << 16 |
           static_cast<std::uint32_t>(prefix_[at + 2]) << 8 |
           static_cast<std::uint32_t>(prefix_[at + 3]);
  };
  header_len_ = be32(0);
  payload_len_ = be32(4);
  if (header_len_ == 0) {
    return make_error(ErrorCode::MalformedFrame, "frame header is empty (header_length 0)");
  }
  if (header_len_ > kMaxHeaderBytes) {
    return make_error(ErrorCode::FrameTooLarge, "frame header of " + std::to_string(header_len_) +
                                                    " bytes exceeds the 65536-byte limit");
  }
  if (payload_len_ > max_payload_) {
    return make_error(ErrorCode::FrameTooLarge, "frame payload of " + std::to_string(payload_len_) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(max_payload_));
  }
  state_ = State::Header;
  return {};
}

void FrameDecoder::finish_frame() {
  RawFrame f;
  f.header = std::move(header_);
  if (payload_len_ > 0) {
    if (payload_virtual_) {
      f.payload = Payload::virtual_bytes(payload_len_);
    } else {
      const auto* data = payload_buf_->data();
      f.payload = Payload(std::move(payload_buf_), data, payload_len_);
    }
  }
  ready_.push_back(std::move(f));
  begin_frame();
}

Status FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
  if (error_) return *error_;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (state_ == State::Prefix) {
      const std::size_t take = std::min(kFramePrefixBytes - prefix_len_, bytes.size() - pos);
      std::memcpy(prefix_.data() + prefix_len_, bytes.data() + pos, take);
      prefix_len_ += take;
      pos += take;
      if (prefix_len_ == kFramePrefixBytes) {
        if (auto s = on_prefix_complete(); !s) {
          error_ = s.error();
          return s;
        }
      }
    } else if (state_ == State::Header) {
      const std::size_t take =
          std::min<std::size_t>(header_len_ - header_.size(), bytes.size() - pos);
      header_.append(reinterpret_cast<const char*>(bytes.data() + pos), take);
      pos += take;
      if (header_.size() == header_len_) {
        if (payload_len_ == 0) {
          finish_frame();
        } else {
          state_ = State::Payload;
        }
      }
    } else {
      if (payload_virtual_) {
        error_ = make_error(ErrorCode::MalformedFrame, "real bytes inside a virtual payload");
        return *error_;
      }
      auto window = payload_window();
      const std::size_t take = std::min(window.size(), bytes.size() - pos);
      std::memcpy(window.data(), bytes.data() + pos, take);
      pos += take;
      if (auto st = commit(take); !st) return st;
    }
  }
  return {};
}

std::span<std::uint8_t> FrameDecoder::payload_window() {
  if (error_ || state_ != State::Payload || payload_virtual_) return {};
  if (!payload_buf_) {
    const auto first = std::min<std::size_t>(payload_len_, kFirstPayloadWindow);
    payload_buf_ = alloc_ ? alloc_(first) : std::make_shared<std::vector<std::uint8_t>>();
    payload_buf_->resize(first);
  } else if (payload_filled_ == payload_buf_->size()) {
    // Full: the sender has shown it sends, so it may have twice as much room.
    payload_buf_->resize(std::min<std::size_t>(payload_len_, 2 * payload_buf_->size()));
  }
  return std::span(payload_buf_->data() + payload_filled_, payload_buf_->size() - payload_filled_);
}

Status FrameDecoder::commit(std::size_t count) {
  if (error_) return *error_;
  if (count == 0) return {};
  // Never past the window payload_window() gave; a driver that says so is a bug.
  if (state_ != State::Payload || !payload_buf_ || count > payload_buf_->size() - payload_filled_) {
    error_ = make_error(ErrorCode::MalformedFrame, "payload bytes committed past the window");
    return *error_;
  }
  payload_filled_ += count;
  if (payload_filled_ == payload_len_) finish_frame();
  return {};
}

Status FrameDecoder::feed_virtual(std::size_t count) {
  if (error_) return *error_;
  if (count == 0) return {};
  if (state_ != State::Payload || (payload_filled_ > 0 && !payload_virtual_) ||
      count > payload_len_ - payload_filled_) {
    error_ = make_error(ErrorCode::MalformedFrame, "virtual bytes outside a frame payload");
    return *error_;
  }
  payload_virtual_ = true;
  payload_filled_ += count;
  if (payload_filled_ == payload_len_) finish_frame();
  return {};
}

std::optional<RawFrame> FrameDecoder::next() {
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_pos_++]);
}

std::size_t FrameDecoder::held_bytes() const {
  return header_.size() + (payload_buf_ ? payload_buf_->size() : 0);
}

std::size_t FrameDecoder::partial_bytes() const {
  switch (state_) {
    case State::Prefix:
      return prefix_len_;
    case State::Header:
      return kFramePrefixBytes + header_.size();
    case State::Payload:
      return kFramePrefixBytes + header_.size() + payload_filled_;
  }
  return 0;
}

}  // namespace swarmlab

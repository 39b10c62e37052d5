#include "swarmlab/frame_codec.hpp"

#include <gtest/gtest.h>

#include <random>

namespace swarmlab {
namespace {

std::vector<RawFrame> drain(FrameDecoder& d) {
  std::vector<RawFrame> out;
  while (auto f = d.next()) out.push_back(std::move(*f));
  return out;
}

std::vector<std::uint8_t> sample_stream() {
  std::vector<std::uint8_t> stream;
  for (int i = 0; i < 5; ++i) {
    std::vector<std::uint8_t> payload(static_cast<std::size_t>(i * 1000));
    for (std::size_t k = 0; k < payload.size(); ++k)
      payload[k] = static_cast<std::uint8_t>(k * 7 + i);
    auto bytes = encode_frame_bytes({"{\"type\":\"PEER_PING\",\"nonce\":" + std::to_string(i) + "}",
                                     Payload::from_vector(payload)});
    stream.insert(stream.end(), bytes.begin(), bytes.end());
  }
  return stream;
}

void expect_sample(const std::vector<RawFrame>& frames) {
  ASSERT_EQ(frames.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(frames[static_cast<std::size_t>(i)].header,
              "{\"type\":\"PEER_PING\",\"nonce\":" + std::to_string(i) + "}");
    const auto& p = frames[static_cast<std::size_t>(i)].payload;
    ASSERT_EQ(p.size(), static_cast<std::size_t>(i * 1000));
    for (std::size_t k = 0; k < p.size(); ++k) {
      ASSERT_EQ(p.bytes()[k], static_cast<std::uint8_t>(k * 7 + static_cast<std::size_t>(i)));
    }
  }
}

TEST(FrameCodec, PrefixIsBigEndian) {
  const auto p = encode_frame_prefix(0x01020304, 0x0a0b0c0d);
  EXPECT_EQ(p, (std::array<std::uint8_t, 8>{1, 2, 3, 4, 0xa, 0xb, 0xc, 0xd}));
}

TEST(FrameCodec, WholeStreamAtOnce) {
  FrameDecoder d;
  ASSERT_TRUE(d.feed(sample_stream()).ok());
  expect_sample(drain(d));
  EXPECT_EQ(d.partial_bytes(), 0u);
}

TEST(FrameCodec, OneByteAtATime) {
  FrameDecoder d;
  const auto stream = sample_stream();
  std::vector<RawFrame> frames;
  for (auto b : stream) {
    ASSERT_TRUE(d.feed(std::span(&b, 1)).ok());
    for (auto f : drain(d)) frames.push_back(std::move(f));
  }
  expect_sample(frames);
}

TEST(FrameCodec, RandomSplits) {
  const auto stream = sample_stream();
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    FrameDecoder d;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t n = std::min<std::size_t>(rng() % 3000 + 1, stream.size() - pos);
      ASSERT_TRUE(d.feed(std::span(stream.data() + pos, n)).ok());
      pos += n;
    }
    expect_sample(drain(d));
  }
}

TEST(FrameCodec, ZeroCopyWindow) {
  std::vector<std::uint8_t> payload(4096, 0xab);
  const auto bytes = encode_frame_bytes({"{\"type\":\"X\"}", Payload::from_vector(payload)});
  FrameDecoder d;
  const std::size_t head = 8 + 12;
  ASSERT_TRUE(d.feed(std::span(bytes.data(), head)).ok());
  auto w = d.payload_window();
  ASSERT_EQ(w.size(), 4096u);
  std::copy(bytes.begin() + static_cast<std::ptrdiff_t>(head), bytes.end(), w.begin());
  ASSERT_TRUE(d.commit(w.size()).ok());
  auto frames = drain(d);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload.size(), 4096u);
  EXPECT_EQ(frames[0].payload.bytes()[4095], 0xab);
}

TEST(FrameCodec, MemoryFollowsTheBytesThatArrivedNotTheLengthDeclared) {
  // A prefix that promises the largest payload allowed, then ten bytes of it.
  const std::string header = R"({"type":"PEER_REPLY_CHUNK"})";
  const auto prefix = encode_frame_prefix(static_cast<std::uint32_t>(header.size()), kMaxChunkSize);
  FrameDecoder d;
  ASSERT_TRUE(d.feed(prefix).ok());
  ASSERT_TRUE(
      d.feed(std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size())).ok());
  const std::vector<std::uint8_t> ten(10, 7);
  ASSERT_TRUE(d.feed(ten).ok());
  EXPECT_LE(d.held_bytes(), header.size() + FrameDecoder::kFirstPayloadWindow);
  // As the payload comes, through the zero-copy window, the buffer never holds more than
  // twice what arrived (or the first window), and the frame comes out whole and in order.
  std::size_t sent = ten.size();
  std::uint8_t next = 0;
  while (sent < kMaxChunkSize) {
    auto w = d.payload_window();
    ASSERT_FALSE(w.empty());
    const std::size_t n = std::min<std::size_t>(w.size(), 100'000);
    for (std::size_t i = 0; i < n; ++i) w[i] = next++;
    ASSERT_TRUE(d.commit(n).ok());
    sent += n;
    if (sent < kMaxChunkSize) {
      EXPECT_LE(d.held_bytes(),
                header.size() + std::max(2 * sent, FrameDecoder::kFirstPayloadWindow));
    }
  }
  auto frames = drain(d);
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].payload.size(), kMaxChunkSize);
  const auto b = frames[0].payload.bytes();
  EXPECT_EQ(b[9], 7);
  EXPECT_EQ(b[10], 0);
  EXPECT_EQ(b[kMaxChunkSize - 1], static_cast<std::uint8_t>(kMaxChunkSize - 11));
  EXPECT_EQ(d.held_bytes(), 0u);
  // Committing more than the window offered breaks the stream instead of writing past it.
  FrameDecoder e;
  ASSERT_TRUE(e.feed(prefix).ok());
  ASSERT_TRUE(
      e.feed(std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size())).ok());
  const auto window = e.payload_window().size();
  EXPECT_FALSE(e.commit(window + 1).ok());
  EXPECT_TRUE(e.failed());
}

TEST(FrameCodec, VirtualPayloads) {
  RawFrame f{"{\"type\":\"PEER_REPLY_CHUNK\"}", Payload::virtual_bytes(100000)};
  const auto prefix = encode_frame_prefix(static_cast<std::uint32_t>(f.header.size()), 100000);
  FrameDecoder d;
  ASSERT_TRUE(d.feed(prefix).ok());
  ASSERT_TRUE(
      d.feed(std::span(reinterpret_cast<const std::uint8_t*>(f.header.data()), f.header.size()))
          .ok());
  ASSERT_TRUE(d.feed_virtual(60000).ok());
  ASSERT_TRUE(d.feed_virtual(40000).ok());
  auto frames = drain(d);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].payload.is_virtual());
  EXPECT_EQ(frames[0].payload.size(), 100000u);
  // Virtual bytes where a header is expected break the stream.
  EXPECT_FALSE(d.feed_virtual(1).ok());
  EXPECT_TRUE(d.failed());
}

TEST(FrameCodec, RejectsOversizedHeader) {
  FrameDecoder d;
  auto s = d.feed(encode_frame_prefix(kMaxHeaderBytes + 1, 0));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::FrameTooLarge);
  EXPECT_TRUE(d.failed());
  // Sticky: later bytes are refused, not misread.
  EXPECT_FALSE(d.feed(encode_frame_prefix(2, 0)).ok());
}

TEST(FrameCodec, RejectsFourGigabytePayloadWithoutAllocating) {
  FrameDecoder d(kDefaultChunkSize);
  auto s = d.feed(encode_frame_prefix(10, 0xFFFFFFFFu));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::FrameTooLarge);
  EXPECT_NE(s.error().message.find("4294967295"), std::string::npos);
}

TEST(FrameCodec, RejectsEmptyHeader) {
  FrameDecoder d;
  auto s = d.feed(encode_frame_prefix(0, 0));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::MalformedFrame);
}

TEST(FrameCodec, TruncatedStreamIsPartialNotAFrame) {
  const auto stream = sample_stream();
  FrameDecoder d;
  ASSERT_TRUE(d.feed(std::span(stream.data(), 30)).ok());
  EXPECT_FALSE(d.next().has_value());
  EXPECT_GT(d.partial_bytes(), 0u);
}

TEST(FrameCodec, PooledAllocatorIsUsed) {
  int calls = 0;
  FrameDecoder d(kMaxChunkSize, [&](std::size_t n) {
    ++calls;
    auto v = std::make_shared<std::vector<std::uint8_t>>();
    v->reserve(n);
    return v;
  });
  ASSERT_TRUE(d.feed(sample_stream()).ok());
  expect_sample(drain(d));
  EXPECT_EQ(calls, 4);  // frames 1..4 carry payloads
}

}  // namespace
}  // namespace swarmlab

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
  d.commit(w.size());
  auto frames = drain(d);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload.size(), 4096u);
  EXPECT_EQ(frames[0].payload.bytes()[4095], 0xab);
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

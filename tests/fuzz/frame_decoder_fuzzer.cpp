// The frame decoder and the message decoder behind it, fed a byte stream cut at places the
// input chooses. Invariants: the same frames come out however the stream is cut; every
// message that decodes encodes to a frame that decodes to the same message; the decoder
// never holds more than the bytes it was given plus its first payload window.
#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

#include "fuzz_check.hpp"
#include "swarmlab/frame_codec.hpp"
#include "swarmlab/messages.hpp"

using namespace swarmlab;

namespace {

struct Decoded {
  std::vector<RawFrame> frames;
  bool failed = false;
};

Decoded decode(std::span<const std::uint8_t> stream, FuzzedDataProvider* cuts) {
  Decoded out;
  FrameDecoder d(1u << 20);  // a small payload limit reaches its checks sooner
  std::size_t fed = 0;
  while (fed < stream.size() && !d.failed()) {
    std::size_t n = stream.size() - fed;
    if (cuts != nullptr && cuts->remaining_bytes() > 0) {
      n = cuts->ConsumeIntegralInRange<std::size_t>(1, n);
    }
    (void)d.feed(stream.subspan(fed, n));
    fed += n;
    FUZZ_CHECK(d.held_bytes() <= fed + FrameDecoder::kFirstPayloadWindow + kMaxHeaderBytes,
               "the decoder holds more than it was given");
    while (auto f = d.next()) out.frames.push_back(std::move(*f));
  }
  out.failed = d.failed();
  return out;
}

void round_trip(const RawFrame& frame) {
  auto m = decode_message(frame);
  if (!m) return;
  const RawFrame again = encode_message(*m);
  auto back = decode_message(again);
  FUZZ_CHECK(back.ok(), "a decoded message re-encodes to a frame that does not decode");
  FUZZ_CHECK(*back == *m, "a decoded message does not survive encode and decode");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first half of the input is the stream, the rest says where to cut it.
  const std::size_t stream_len = size / 2;
  const std::span<const std::uint8_t> stream(data, stream_len);
  FuzzedDataProvider cuts(data + stream_len, size - stream_len);

  const Decoded whole = decode(stream, nullptr);
  const Decoded pieces = decode(stream, &cuts);
  FUZZ_CHECK(whole.failed == pieces.failed, "failure depends on how the stream is cut");
  FUZZ_CHECK(whole.frames.size() == pieces.frames.size(), "frames depend on the cuts");
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    FUZZ_CHECK(whole.frames[i].header == pieces.frames[i].header, "headers depend on the cuts");
    const auto a = whole.frames[i].payload.bytes();
    const auto b = pieces.frames[i].payload.bytes();
    FUZZ_CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()), "payloads depend on the cuts");
    round_trip(whole.frames[i]);
  }
  return 0;
}

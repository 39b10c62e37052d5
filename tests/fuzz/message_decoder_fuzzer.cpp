// Every message decoder: the input is a frame's header text (and a payload after a NUL),
// exactly as a peer or the tracker hands it to decode_message. Invariants: decoding never
// crashes, and a message that decodes encodes to a frame that decodes to the same message.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "swarmlab/messages.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* end = data + size;
  const auto* nul = std::find(data, end, std::uint8_t{0});
  RawFrame frame;
  frame.header.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(nul - data));
  if (nul != end) frame.payload = Payload::copy_of(std::vector<std::uint8_t>(nul + 1, end));
  auto m = decode_message(frame);
  if (!m) {
    FUZZ_CHECK(!m.error().message.empty(), "a refusal without a reason");
    return 0;
  }
  const RawFrame again = encode_message(*m);
  FUZZ_CHECK(again.header.size() <= frame.header.size() + 64 * 1024,
             "a message re-encodes to a far larger header");
  auto back = decode_message(again);
  FUZZ_CHECK(back.ok(), "a decoded message re-encodes to a frame that does not decode");
  FUZZ_CHECK(*back == *m, "a decoded message does not survive encode and decode");
  return 0;
}

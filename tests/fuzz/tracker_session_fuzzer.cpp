// The tracker under hostile connections: whatever they send, in whatever order, a peer that
// registered before them is still answered afterwards, the tracker stays within its receive
// budget, and everything it sends is a well-formed frame.
#include "session_driver.hpp"
#include "swarmlab/tracker.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Tracker tracker(TrackerConfig{});
  fuzz::SessionDriver driver(tracker, "honest-peer");
  driver.honest_sends(RequestRegistry{1, kProtocolVersion, "honest-peer", {"", 6881}});
  FUZZ_CHECK(driver.honest_got<ReplyRegistry>([](const auto& r) { return r.req == 1; }),
             "the honest peer was not registered");
  driver.run(in);
  driver.honest_sends(RequestFilesList{77});
  if (!driver.honest_id_claimed()) {
    FUZZ_CHECK(!driver.honest_closed(), "hostile connections closed the honest peer's session");
    FUZZ_CHECK(driver.honest_got<ReplyFilesList>([](const auto& r) { return r.req == 77; }),
               "hostile connections kept the tracker from answering the honest peer");
  }
  return 0;
}

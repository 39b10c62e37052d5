// A peer's serving side under hostile downloaders: whatever they send, a downloader that
// connected before them still gets its PEER_PONG, the peer stays within its receive budget,
// and everything it sends is a well-formed frame.
#include "session_driver.hpp"
#include "swarmlab/peer.hpp"

using namespace swarmlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  PeerConfig config;
  config.peer_id = "serving-peer";
  Peer peer(config);
  fuzz::SessionDriver driver(peer, "\x01no-identity-to-claim");
  driver.run(in);
  driver.honest_sends(PeerPing{42});
  FUZZ_CHECK(!driver.honest_closed(), "hostile connections closed an honest downloader");
  FUZZ_CHECK(driver.honest_got<PeerPong>([](const auto& p) { return p.nonce == 42; }),
             "hostile connections kept the peer from answering an honest downloader");
  return 0;
}

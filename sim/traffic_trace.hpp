#pragma once
// What every host of a run did with its sockets, and when: listened, connected, accepted,
// wrote so many bytes, closed. bench/ns3-star-replay plays it back on the same star with the
// same TCP and no swarm logic, so that the wall time of a run can be set against ns-3's own
// cost for exactly the packets the swarm put on the wire (bench/sim_scale.py, "x replay").
//
// One text line per action, times in nanoseconds of simulated time (docs/models.md, "What a
// 1,000-peer run costs"):
//
//   swarmlab-traffic 1
//   tcp SEGMENT FASTEST_BPS SLOWEST_DELAY_NS LONGEST_LIFE_NS RUN
//   link UP_BPS DOWN_BPS DELAY_NS LOSS               one per host, in host order
//   L T HOST PORT                                    listens
//   U T HOST                                         stops listening (a crash)
//   C T HOST CONN LOCAL_PORT TO_IP TO_PORT           connects
//   A T HOST CONN FROM_IP FROM_PORT                  accepts
//   W T HOST CONN BYTES                              writes
//   X T HOST CONN                                    closes once all it wrote is in TCP
//   R T HOST CONN                                    closes now; what TCP has not taken is lost
//   E T                                              the run ended
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "swarmlab/effects.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab::sim {

struct AccessLink;

class TrafficTrace {
 public:
  /// A trace written to `path`, or why it cannot be.
  static Result<std::unique_ptr<TrafficTrace>> open(const std::string& path);

  void tcp(std::uint32_t segment, std::uint64_t fastest_bps, Duration slowest_delay,
           Duration longest_life, std::uint64_t run);
  void link(const AccessLink& l);
  void listen(Time t, std::size_t host, std::uint16_t port);
  void unlisten(Time t, std::size_t host);
  void connect(Time t, std::size_t host, ConnId conn, std::uint16_t local_port, std::uint32_t to_ip,
               std::uint16_t to_port);
  void accept(Time t, std::size_t host, ConnId conn, std::uint32_t from_ip,
              std::uint16_t from_port);
  void write(Time t, std::size_t host, ConnId conn, std::uint64_t bytes);
  void close(Time t, std::size_t host, ConnId conn, bool drain);
  /// The run ended at `t`. Fails if anything could not be written (a full disk).
  Status finish(Time t);

 private:
  explicit TrafficTrace(const std::string& path) : out_(path), path_(path) {}

  std::ofstream out_;
  std::string path_;
};

}  // namespace swarmlab::sim

#pragma once
// A scenario file (README, Simulating a swarm): what is shared, by whom, over which links, with
// which churn and strategies. Parsing is strict: unknown fields and bad values are errors that name
// the field ("groups[1].delay.max") and quote the value. No ns-3 here, so the scenario layer is
// tested without a simulator.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "swarmlab/download.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/peer.hpp"
#include "swarmlab/time.hpp"
#include "swarmlab/upload_server.hpp"

namespace swarmlab::sim {

struct SharedFile {
  std::string name = "file.bin";
  std::uint64_t size = 64ull << 20;
  std::uint32_t chunk_size = 512u << 10;
};

/// A one-way link delay: fixed, or drawn once per peer from a distribution.
struct DelaySpec {
  enum class Dist { Fixed, Uniform, Normal, LogNormal, List };
  Dist dist = Dist::Fixed;
  Duration value = 10ms;  // Fixed
  Duration min{}, max{};  // Uniform (also the clamp of Normal)
  Duration mean{}, stddev{};
  Duration median{};  // LogNormal: median and sigma of the underlying normal
  double sigma = 0.5;
  std::vector<Duration> values;  // List: peer i gets values[i % size]
};

struct ArrivalSpec {
  enum class Kind { At, Poisson, List };
  Kind kind = Kind::At;
  Duration at{};            // At: everyone at this time
  double rate_per_s = 1.0;  // Poisson: arrivals per second, starting at `at`
  std::vector<Duration> times;
};

struct DepartureSpec {
  enum class Kind { Stay, AfterCompletion, Exponential, Weibull };
  Kind kind = Kind::Stay;
  Duration seed_time{};  // AfterCompletion: serve this long after finishing, then leave
  Duration mean{};       // Exponential: mean lifetime from arrival
  double shape = 1.5;    // Weibull
  Duration scale{};      // Weibull
};

struct CrashSpec {
  double fraction = 0.0;  // of the group, chosen at random
  Duration from{}, to{};  // each victim crashes at a uniform time in [from, to]
};

struct PeerGroup {
  std::string name;
  std::uint32_t count = 1;
  enum class Role { Seeder, Leecher };
  Role role = Role::Leecher;
  std::string file;  // which shared file (default: the first)
  std::uint64_t up_bps = 8'000'000;
  std::uint64_t down_bps = 32'000'000;
  DelaySpec delay;
  double loss = 0.0;  // packet loss probability on the access link, each direction
  ArrivalSpec arrival;
  DepartureSpec departure;
  CrashSpec crash;
  bool corrupt = false;        // every chunk this group serves fails verification
  Duration retry_after = 10s;  // a failed download starts again after this; 0 = never
};

struct TrackerEvent {
  Duration at{};
  enum class Action { Crash, Restart };
  Action action = Action::Crash;
};

struct TrackerSpec {
  std::uint64_t up_bps = 100'000'000;
  std::uint64_t down_bps = 100'000'000;
  Duration delay = 5ms;
  std::vector<TrackerEvent> events;
};

/// At `at`, change a group's links: rate, delay, or cut them off (partition) / restore.
struct LinkEvent {
  Duration at{};
  std::string group;
  std::optional<std::uint64_t> up_bps, down_bps;
  std::optional<Duration> delay;
  std::optional<bool> partition;
};

struct Scenario {
  std::string name = "scenario";
  std::string description;
  std::uint64_t seed = 1;
  Duration stop_time = 3600s;
  bool stop_when_all_done = true;
  Duration snapshot_interval = 1s;
  /// Simulated MTU of every access link in bytes; 0 = auto (see resolve_packet_size).
  std::uint32_t packet_size = 0;
  /// Write one event per received chunk (large swarms can turn it off; summaries don't
  /// need it).
  bool record_chunks = true;
  /// Write traffic.txt: every socket action of every host (sim/traffic_trace.hpp), for
  /// bench/ns3-star-replay.
  bool record_traffic = false;
  std::vector<SharedFile> files;
  TrackerSpec tracker;
  std::vector<PeerGroup> groups;
  std::vector<LinkEvent> link_events;
  DownloadConfig download;
  /// How every peer serves others: upload slots, rechoke interval, connection limit.
  UploadConfig upload;
  /// While they download, peers pace their uploads to this fraction of their uplink (0: no
  /// pacing), as BitTorrent users are told to: a full uplink queue delays the peer's own
  /// requests and acknowledgements.
  double upload_limit = 0.95;
  /// ... and at all times, to this fraction (0: no pacing). Pacing keeps the uplink's queue
  /// short, so a seed's blocks do not wait behind 200 ms of others.
  double seed_upload_limit = 0.99;
  /// How long a HAVE may wait for other frames to its connection (PeerConfig::have_delay).
  Duration have_delay = PeerConfig{}.have_delay;

  const SharedFile& file_named(const std::string& name) const;
  std::uint32_t peer_count() const;
};

/// Parses scenario text (JSON; // and /* */ comments allowed). `overrides` are
/// "path.to.field=value" assignments applied before validation ("groups[1].count=50",
/// "download.chunk_strategy=random"); a value that is not JSON is taken as a string.
Result<Scenario> parse_scenario(const std::string& text,
                                const std::vector<std::string>& overrides = {});
/// Reads and parses a file; errors name the file.
Result<Scenario> load_scenario(const std::string& path,
                               const std::vector<std::string>& overrides = {});

/// Every field with its value, defaults filled in: the run folder's `scenario.json`.
nlohmann::json to_json(const Scenario& s);

/// The MTU to simulate. Larger packets make the simulation faster but delay what queues
/// behind them, so "auto" picks the largest MTU (1500..64000 bytes) whose serialisation on
/// the slowest link takes at most 4 ms.
std::uint32_t resolve_packet_size(const Scenario& s);

}  // namespace swarmlab::sim

#pragma once
// What a run measured (docs/architecture.md, Metrics): per-peer outcomes, bytes served by the
// original seeds vs by peers, chunk replication over time, and the summary with its statistics and
// the Kumar–Ross ratio. Fed with the nodes' events; knows nothing of ns-3.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/swarm_plan.hpp"
#include "swarmlab/chunk_set.hpp"
#include "swarmlab/event.hpp"

namespace swarmlab::sim {

class RunMetrics {
 public:
  RunMetrics(const Scenario& s, const std::vector<PeerPlan>& plans);

  /// Every event of the run, in time order.
  void on_event(const Event& e);
  /// A peer came online with `have` chunks of its file, or went offline with them.
  void peer_online(std::size_t peer, const ChunkSet& have);
  void peer_offline(std::size_t peer, const ChunkSet& have, Time now, bool crashed);
  /// A leecher gave up for good (its download failed and it does not retry).
  void peer_failed(std::size_t peer);
  /// An online peer gained a chunk.
  void chunk_added(std::size_t peer, std::uint32_t index);

  struct Snapshot {
    double t = 0;
    std::uint32_t online = 0, seeds = 0, leechers = 0, completed = 0, departed = 0;
    std::uint32_t replication_min = 0;
    double replication_mean = 0;
    std::uint32_t replication_max = 0;
    double upload_bps = 0;       // verified chunk bytes delivered per second since the last one
    double wire_up_bps = 0;      // what the online peers' uplinks carried, headers included
    double up_capacity_bps = 0;  // the sum of the online peers' uplink rates
  };
  /// What the links did since the last snapshot: known to the simulation, not to the events.
  struct Wire {
    std::uint64_t uplink_bytes = 0;         // running total over the peers' uplinks
    double up_capacity_bps = 0;             // online peers' uplink rates now
    std::uint64_t origin_uplink_bytes = 0;  // ... over the origin seeds' uplinks
    double origin_up_capacity_bps = 0;      // online origin seeds' uplink rates now
  };
  Snapshot snapshot(Time now, const Wire& wire);
  static std::string csv_header();
  static std::string csv_row(const Snapshot& s);

  /// Every planned leecher has finished, left or crashed for good.
  bool all_done() const { return settled_ == leechers_; }
  std::uint32_t leechers() const { return leechers_; }
  std::uint32_t completed() const { return completed_; }
  std::uint64_t chunk_bytes() const { return chunk_bytes_; }
  /// What all planned leechers together download: the file each asks for.
  std::uint64_t bytes_wanted() const { return bytes_wanted_; }
  bool online(std::size_t peer) const { return peers_.at(peer).online; }

  nlohmann::json summary(Time end) const;

 private:
  struct PeerOutcome {
    std::string id;
    std::string group;
    bool seeder = false;
    bool online = false;
    bool complete = false;
    bool settled = false;
    std::string state = "not_arrived";
    double arrival = 0;
    std::optional<double> completed_at;
    std::optional<double> download_time;  // from arrival to completion
    std::uint32_t failures = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_served = 0;
  };
  void settle(PeerOutcome& p);

  const Scenario& scenario_;
  KumarRoss bound_;
  std::vector<PeerOutcome> peers_;
  std::map<std::string, std::size_t> by_id_;
  std::uint32_t primary_chunks_ = 0;
  std::vector<std::uint32_t> replication_;  // online copies of each chunk of the first file
  std::uint32_t leechers_ = 0, settled_ = 0, completed_ = 0, departed_ = 0;
  std::uint32_t failures_ = 0, verification_failures_ = 0;
  std::uint32_t retries_ = 0;  // failed attempts the peer started again
  std::uint64_t chunk_bytes_ = 0, bytes_since_snapshot_ = 0, bytes_wanted_ = 0;
  std::uint64_t bytes_from_origin_ = 0, bytes_from_peers_ = 0;
  Time last_snapshot_{};
  std::uint64_t last_uplink_bytes_ = 0;
  double last_up_capacity_bps_ = 0;
  double up_capacity_bits_ = 0;  // what the online peers' uplinks could have carried so far
  double first_arrival_ = -1;
  // Until every chunk of the first file has reached a leecher (the first copy is out): when,
  // and what the origin seeds' uplinks carried and could have carried meanwhile, counted from
  // the first leecher's arrival to the first snapshot after.
  ChunkSet copied_;
  std::optional<double> first_copy_out_;
  bool origin_window_closed_ = false;
  std::uint64_t origin_bytes_at_arrival_ = 0, origin_window_bytes_ = 0;
  double last_origin_capacity_bps_ = 0, origin_capacity_bits_ = 0;
  // Time averages over the snapshots since the first leecher arrived (fluid-model check).
  double sum_seeds_ = 0, sum_leechers_ = 0;
  std::uint32_t averaged_snapshots_ = 0, origin_seeds_ = 0;
};

}  // namespace swarmlab::sim

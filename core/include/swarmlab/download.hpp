#pragma once
// One download: locate, ping owners, fetch rarest-first from the best owners with several
// requests in flight, verify, register, refresh, survive source failures, end-game, finish.
// Owned and driven by a Peer, which provides the effects through DownloadHost.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "swarmlab/chunk_picker.hpp"
#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/peer_picker.hpp"
#include "swarmlab/rarest_first_index.hpp"
#include "swarmlab/rng.hpp"

namespace swarmlab {

struct DownloadConfig {
  ChunkStrategy chunk_strategy = ChunkStrategy::RarestFirst;
  PeerStrategy peer_strategy = PeerStrategy::LowestRtt;
  /// Requests outstanding to one source. Covers the request's round trip and the sender's
  /// disk read, so a source's link never idles between chunks.
  std::uint32_t max_inflight_per_peer = 4;
  /// Requests outstanding in total for one download (4 sources' worth).
  std::uint32_t max_inflight_total = 16;
  /// Chunks received but not yet verified and stored. When hashing or the disk falls behind
  /// the network, new requests wait instead of received chunks piling up in memory.
  std::uint32_t max_unverified = 16;
  /// Sources connected at once for one download.
  std::uint32_t max_sources = 16;
  /// Bad chunks from one source before it is banned for this download.
  std::uint32_t max_strikes = 3;
  Duration ping_interval = 5s;
  /// Owner-map refreshes start this soon after the download begins and double up to
  /// refresh_interval: a swarm's new sources appear early, while later refreshes stay cheap
  /// for the tracker.
  Duration first_refresh = 500ms;
  Duration refresh_interval = 5s;
  /// A source that answers no ping for this long, while we wait on it, is dropped.
  Duration stall_timeout = 20s;
  Duration tick_interval = 500ms;
  Duration progress_interval = 1s;
  bool end_game = true;
};

/// What a download may ask of the peer that owns it.
class DownloadHost {
 public:
  virtual ConnId open_connection(const Endpoint& to, const std::string& download) = 0;
  virtual void send_message(ConnId conn, const Message& m) = 0;
  virtual void close_connection(ConnId conn) = 0;
  virtual TimerId set_download_timer(Time deadline, const std::string& download) = 0;
  virtual void cancel_download_timer(TimerId& timer) = 0;
  /// Asks the tracker for the owners; the answer arrives through on_location(_failed).
  virtual void request_location(const std::string& name) = 0;
  virtual bool tracker_online() const = 0;
  virtual void store_open(const FileInfo& file, const std::string& dest) = 0;
  virtual void store_write(const std::string& name, std::uint32_t index, Payload data,
                           const Digest& expected, const std::string& from) = 0;
  virtual void store_finalize(const std::string& name) = 0;
  /// The download now holds `have` of `file`: serve it and announce it to the tracker.
  virtual void offer_file(Time now, const FileInfo& file, const ChunkSet& have) = 0;
  /// A newly verified chunk: serve it and register it (batched).
  virtual void offer_chunk(Time now, const std::string& name, std::uint32_t index) = 0;
  /// Stop offering the partial file (its download gave up).
  virtual void withdraw_file(const std::string& name) = 0;
  virtual void file_completed(const std::string& name) = 0;
  virtual void record(Time now, std::string type, nlohmann::json fields) = 0;
  virtual void notify(Time now, std::string type, nlohmann::json fields) = 0;
  virtual Rng& rng() = 0;

 protected:
  ~DownloadHost() = default;
};

class Download {
 public:
  enum class Phase { Locating, Opening, Running, Finalizing, Completed, Failed };

  Download(DownloadHost& host, const DownloadConfig& config, std::string name, std::string dest);

  void start(Time now);
  void on_location(Time now, const ReplyFileLocation& reply);
  void on_location_failed(Time now, const Error& error);
  void on_opened(Time now, const StoreResult& result);
  void on_connected(Time now, ConnId conn);
  void on_message(Time now, ConnId conn, Message m);
  void on_closed(Time now, ConnId conn, CloseReason reason);
  void on_timer(Time now);
  void on_written(Time now, std::uint32_t index, const std::string& from,
                  const StoreResult& result);
  void on_finalized(Time now, const StoreResult& result);
  /// The peer is shutting down: close everything, keep what is verified.
  void abort(Time now);

  struct Status {
    std::string name;
    std::string dest;
    Phase phase = Phase::Locating;
    std::uint32_t chunks_have = 0;
    std::uint32_t chunks_total = 0;
    std::uint64_t bytes_have = 0;
    std::uint64_t bytes_total = 0;
    std::uint32_t sources = 0;  // connected and answering
    double rate_bps = 0;        // recent goodput, bits per second
    std::optional<Error> error;
  };
  Status status() const;
  Phase phase() const { return phase_; }
  bool finished() const { return phase_ == Phase::Completed || phase_ == Phase::Failed; }
  const std::string& name() const { return name_; }
  bool owns(ConnId conn) const { return conn_to_source_.count(conn) != 0; }

 private:
  enum class ChunkState : std::uint8_t { Missing, Requested, Verifying, Have };
  enum class SourceState { Idle, Connecting, Pinging, Ready, Failed, Banned };
  struct Source {
    std::string id;
    Endpoint address;
    ChunkSet has;
    SourceState state = SourceState::Idle;
    ConnId conn = 0;
    std::optional<Duration> srtt;
    double throughput = 0;  // bytes/s, EWMA over chunk deliveries
    std::optional<std::uint64_t> ping_nonce;
    Time ping_sent{};
    Time last_delivery{};
    Time last_heard{};  // any frame: a source busy sending chunks is alive even if pings wait
    std::uint32_t inflight = 0;
    std::uint32_t strikes = 0;
    std::uint32_t failures = 0;
    std::uint64_t bytes = 0;
  };
  struct Request {
    std::uint32_t chunk;
    std::string source;
    Time sent;
  };

  void merge_owners(const ReplyFileLocation& reply);
  void connect_more(Time now);
  void schedule(Time now);
  void send_request(Time now, std::uint32_t chunk, Source& s);
  /// Among `free` sources holding `chunk` (other than `except`), the one the peer strategy
  /// prefers; nullptr if none.
  Source* pick_free_owner(const std::vector<Source*>& free, std::uint32_t chunk,
                          const std::string* except);
  void send_ping(Time now, Source& s);
  void drop_source(Time now, Source& s, SourceState state, std::string_view why);
  void requeue_from(const std::string& source_id);
  void cancel_other_requests(std::uint32_t chunk);
  void strike(Time now, const std::string& source_id, std::uint32_t chunk, std::string_view why);
  void maybe_refresh(Time now, bool urgent);
  std::uint32_t missing_without_owner();
  void finalize(Time now);
  void fail(Time now, Error error);
  void close_all_sources();
  void report_progress(Time now);
  const std::vector<std::uint32_t>& owner_counts();
  /// The next chunk to request from one of the `free` sources, by the configured strategy.
  std::optional<std::uint32_t> pick_next(const std::vector<Source*>& free);
  Source* source_by_conn(ConnId conn);

  DownloadHost& host_;
  const DownloadConfig config_;
  std::string name_;
  std::string dest_;
  Phase phase_ = Phase::Locating;
  std::optional<Error> error_;
  std::optional<FileInfo> info_;
  ChunkSet have_;
  std::vector<ChunkState> chunks_;
  std::uint32_t verifying_ = 0;            // chunks_ in state Verifying
  std::map<std::string, Source> sources_;  // by peer id; ordered for determinism
  std::map<ConnId, std::string> conn_to_source_;
  std::vector<Request> requests_;
  std::vector<std::uint32_t> owner_counts_;
  bool owner_counts_dirty_ = true;
  RarestFirstIndex rarest_;  // rebuilt with owner_counts_, for the rarest-first strategy
  TimerId timer_ = 0;
  Time started_{};
  Time last_refresh_{};
  Duration refresh_gap_{};
  bool refresh_pending_ = false;
  Time last_progress_{};
  std::uint64_t bytes_at_last_progress_ = 0;
  double rate_bps_ = 0;
  std::uint64_t bytes_have_ = 0;
  std::uint32_t resumed_chunks_ = 0;
  std::uint64_t next_nonce_ = 1;
};

std::string_view to_string(Download::Phase p);

}  // namespace swarmlab

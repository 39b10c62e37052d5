#pragma once
// A peer: keeps a session with the tracker (and gets it back by itself), publishes files,
// serves chunks of what it holds, and runs downloads.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "swarmlab/download.hpp"
#include "swarmlab/have_batcher.hpp"
#include "swarmlab/node.hpp"
#include "swarmlab/tracker_client.hpp"
#include "swarmlab/upload_server.hpp"

namespace swarmlab {

struct PeerConfig {
  /// Stable identity, kept across tracker restarts (metrics name the peer by it).
  std::string peer_id = "peer";
  /// Address advertised to the tracker; host "" or 0.0.0.0 means "as the tracker sees me".
  Endpoint listen{"", 0};
  /// Connect to this tracker at start (the `--tracker` flag); otherwise wait for connect().
  std::optional<Endpoint> tracker;
  std::uint32_t chunk_size = kDefaultChunkSize;
  DownloadConfig download;
  /// Keep-alive towards the tracker; the tracker drops peers silent for 30 s.
  Duration keepalive_interval = 10s;
  /// No word from the tracker for this long: treat it as lost and reconnect.
  Duration tracker_timeout = 30s;
  /// Reconnect backoff: doubles from min to max, with +-20% jitter so that a restarted
  /// tracker is not hit by every peer in the same instant.
  Duration reconnect_min = 1s;
  Duration reconnect_max = 30s;
  /// Verified chunks are registered with the tracker in batches this far apart.
  Duration register_delay = 200ms;
  /// A download that fails for want of owners or of the tracker starts again by itself, up
  /// to this many times (0: never), after a wait that doubles from retry_wait up to
  /// retry_wait_max (+-20% jitter). It resumes from what it verified; as any P2P client's,
  /// since owners come back. A failure that a retry cannot mend (the disk, the destination,
  /// content re-published under the name) is final at once.
  std::uint32_t download_retries = 5;
  Duration retry_wait = 10s;
  Duration retry_wait_max = 300s;
  /// A HAVE waits up to this long for other frames to its connection (have_batcher.hpp);
  /// zero sends each at once.
  Duration have_delay = 100ms;
  /// Serving other peers: upload slots, choking, queues (upload_server.hpp).
  UploadConfig upload;
  std::uint64_t seed = 1;
};

class Peer final : public Node {
 public:
  explicit Peer(PeerConfig config);
  ~Peer() override;

  // ---- commands (results that take time arrive as Notify effects) ----
  /// Errors: AlreadyConnected if a tracker session exists or is being set up.
  Status connect_tracker(Time now, const Endpoint& tracker);
  /// Splits, hashes and announces the file at `path` as `name`. Result: PublishDone or
  /// PublishFailed. Errors now: TrackerNotConnected, BadName, InProgress (same name being
  /// published), NameTaken (this peer already offers that name).
  Status publish(Time now, const std::string& path, const std::string& name);
  /// Result: FilesListed or FilesListFailed. Errors now: TrackerNotConnected.
  Status list_files(Time now);
  /// Result: DownloadCompleted or DownloadFailed; DownloadProgress meanwhile.
  /// Errors now: TrackerNotConnected, InProgress (that file is downloading), BadName,
  /// InvalidArgument (this peer already holds the whole file).
  Status download(Time now, const std::string& name, const std::string& dest);
  /// Stops the download `name` (running, or waiting to retry) where it is: what it verified
  /// stays on disk, and download() to the same destination resumes it. `withdraw` also stops
  /// offering its chunks to others (a cancel); else they stay offered (a pause).
  /// Errors now: NotFound (no such download under way).
  Status stop_download(Time now, const std::string& name, bool withdraw);
  void set_delay(Time now, Duration delay);
  /// The address to advertise, once the driver knows its listening port. Before on_start.
  void set_listen(const Endpoint& listen) { config_.listen = listen; }

  // ---- getters ----
  using TrackerState = TrackerClient::State;
  TrackerState tracker_state() const { return tracker_.state(); }
  std::vector<DownloadStatus> downloads() const;
  struct HeldFile {
    FileInfo info;
    ChunkSet have;
    bool complete = false;
  };
  std::vector<HeldFile> held_files() const;
  struct Uploading {
    std::size_t connections = 0;  // downloaders connected to this peer
    std::size_t unchoked = 0;     // ... that may ask now
    UploadServer::Load load;      // what waits on the uplink, and who asks nothing
  };
  Uploading uploading() const {
    return {uploads_.connections(), uploads_.unchoked(), uploads_.load()};
  }
  /// Over its running downloads: what keeps them from asking for more (Download::waiting).
  Download::Waiting waiting() const;
  const PeerConfig& config() const { return config_; }
  /// HAVEs waiting for their connections (have_batcher.hpp).
  std::size_t held_haves() const { return haves_.held(); }

 private:
  /// The upload server's config: PeerConfig::upload, seeded from this peer's seed.
  static UploadConfig upload_config(const PeerConfig& config);
  void handle_start(Time now) override;
  void handle_accepted(Time now, ConnId conn, const Endpoint& remote) override;
  void handle_connected(Time now, ConnId conn) override;
  void handle_frame(Time now, ConnId conn, RawFrame frame) override;
  void handle_bytes_arrived(Time now, ConnId conn) override;
  void handle_sent(Time now, ConnId conn) override;
  void handle_closed(Time now, ConnId conn, CloseReason reason) override;
  void handle_timer(Time now, TimerId timer) override;
  void handle_store_done(Time now, StoreOpId op, StoreResult result) override;
  /// Closes every connection and stops all timers; partial downloads stay resumable.
  void handle_shutdown(Time now) override;

  // A file this peer serves: published, downloaded, or partly downloaded.
  struct LocalFile {
    FileInfo info;
    ChunkSet have;
    bool complete = false;
  };
  enum class StoreKind { Scan, Open, Read, Write, Finalize };
  struct PendingStore {
    StoreKind kind;
    std::string name;
    std::uint32_t index = 0;
    std::uint32_t offset = 0;  // Read: where the block starts in the chunk
    ConnId conn = 0;           // Read: who asked
  };
  enum class TimerKind { Tracker, Uploads, Download, Retry, Haves };
  struct PendingTimer {
    TimerKind kind;
    std::string name;  // Download: which one
  };

  /// Carries out what the tracker client asked for, then keeps its timer at its deadline.
  void talk_to_tracker(Time now);
  void on_tracker_answer(Time now, tracker_action::Answer& a);
  void on_tracker_refused(Time now, const tracker_action::Refused& r);
  void announce_everything();

  /// Carries out what the upload server asked for, then keeps its timer at its deadline.
  void serve(Time now);
  /// Sends `m` on `conn` after the HAVEs waiting for it; a HAVE that `may_wait` waits too.
  void send_to(Time now, ConnId conn, const Message& m, bool report_sent, bool may_wait);
  /// Keeps haves_timer_ at the time the longest-held HAVE is due.
  void keep_haves_timer();

  TimerId timer_for(Time deadline, PendingTimer purpose);
  /// Cancels a timer started with timer_for, and forgets what it was for.
  void cancel_peer_timer(TimerId& id);
  void record(Time now, std::string type, nlohmann::json fields);
  void notify(Time now, Notice notice);
  template <typename Op>
  void store(StoreKind kind, const std::string& name, Op op, std::uint32_t index = 0);

  /// Runs an input on the download `name` (if there is one), then drive()s it.
  template <typename F>
  void with_download(Time now, const std::string& name, F&& input);
  void drive(Time now, Download& d);
  /// Starts (or starts again) the download `name`; the tracker need not be online.
  void start_download(Time now, const std::string& name, const std::string& dest);
  /// A download failed: say so, or arrange its retry.
  void on_download_failed(Time now, DownloadFailed failed);
  void offer_file(Time now, const FileInfo& file, const ChunkSet& have);
  void offer_chunk(Time now, const std::string& name, std::uint32_t index);
  void withdraw_file(Time now, const std::string& name);

  PeerConfig config_;
  Rng rng_;
  TrackerClient tracker_;
  TimerId tracker_timer_ = 0;
  std::optional<Time> tracker_deadline_;
  std::map<std::string, LocalFile> files_;
  std::map<std::string, std::string> publishing_;  // name -> path, while hashing
  HaveBatcher haves_;
  TimerId haves_timer_ = 0;
  std::optional<Time> haves_deadline_;
  UploadServer uploads_;
  TimerId uploads_timer_ = 0;
  std::optional<Time> uploads_deadline_;
  std::map<std::string, std::unique_ptr<Download>> downloads_;
  std::map<ConnId, std::string> download_conns_;
  std::map<StoreOpId, PendingStore> store_ops_;
  std::map<TimerId, PendingTimer> timers_;
  struct DownloadTimer {
    TimerId timer = 0;
    std::optional<Time> deadline;
  };
  std::map<std::string, DownloadTimer> download_timers_;  // one per download, at its deadline
  struct Retry {
    std::string dest;
    std::uint32_t done = 0;  // retries started so far
    TimerId timer = 0;       // while waiting for the next
  };
  std::map<std::string, Retry> retries_;     // by file, for downloads that failed and may retry
  std::optional<Time> tracker_regained_at_;  // when the tracker session last came back
};

}  // namespace swarmlab

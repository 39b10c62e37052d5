#pragma once
// One download: locate, ping owners, fetch rarest-first from the best owners with several
// requests in flight, verify, register, refresh, survive source failures, end-game, finish.
// Owned and driven by a Peer: inputs carry the time, and what the download wants done comes out
// of poll_action(), which the peer drains after every input; the next wake-up comes out of
// next_deadline().
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "swarmlab/chunk_picker.hpp"
#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/notice.hpp"
#include "swarmlab/peer_picker.hpp"
#include "swarmlab/rarest_first_index.hpp"
#include "swarmlab/rng.hpp"
#include "swarmlab/token_bucket.hpp"

namespace swarmlab {

struct DownloadConfig {
  ChunkStrategy chunk_strategy = ChunkStrategy::RarestFirst;
  PeerStrategy peer_strategy = PeerStrategy::LowestRtt;
  /// Requests name blocks of this size (a chunk's last block may be shorter). Blocks of one
  /// chunk may come from several sources; a dropped source costs only its blocks in flight,
  /// and the end-game duplicates blocks, not chunks. The chunk's SHA-256 decides once all its
  /// blocks are in. A chunk no larger than this is asked for whole.
  std::uint32_t block_size = 64 * 1024;
  /// Most chunks' worth of blocks outstanding at one source that unchoked us. The depth used
  /// is what the source's rate x RTT needs to never idle between blocks, plus a chunk.
  std::uint32_t max_inflight_per_peer = 8;
  /// ... and at least this many chunks' worth: covers what rate x RTT does not see (the
  /// source's disk read, our own hashing), which on a LAN or loopback is most of the time.
  std::uint32_t min_inflight_per_peer = 2;
  /// Chunks' worth of blocks outstanding in total for one download.
  std::uint32_t max_inflight_total = 64;
  /// Chunks received but not yet verified and stored. When hashing or the disk falls behind
  /// the network, new requests wait instead of received chunks piling up in memory.
  std::uint32_t max_unverified = 16;
  /// Sources connected at once for one download.
  std::uint32_t max_sources = 16;
  /// A connected source with nothing we miss gives way to an owner of something we miss, but
  /// one that holds nothing at all only this long after it became ready: it is a newcomer and
  /// soon holds chunks. In a flash crowd every downloader connected to the last peer to get
  /// a first chunk let it go at once, and with their sources full none came back: its uplink
  /// idled for the rest of the run (docs/models.md, "A newcomer's sources stay").
  Duration newcomer_grace = 10s;
  /// Bad chunks from one source before it is banned for this download.
  std::uint32_t max_strikes = 3;
  Duration ping_interval = 5s;
  /// Owner-map refreshes start this soon after the download begins and double up to
  /// refresh_interval: a swarm's new sources appear early, while later refreshes stay cheap
  /// for the tracker.
  Duration first_refresh = 500ms;
  /// After the tracker comes back, how long "no such file" may only mean that its owners have
  /// not announced it again yet (they reconnect with up to 30 s of backoff, 1 s at first).
  Duration reannounce_grace = 15s;
  Duration refresh_interval = 5s;
  /// Even an urgent refresh (a source failed or refused us) waits this long after the last
  /// answer. In a 1,000-peer flash crowd, one per Busy refusal was 4,500 owner lists a second,
  /// more than the tracker's 1 Gbit/s uplink carries.
  Duration min_refresh_gap = 500ms;
  /// A source that answers no ping for this long, while we wait on it, is dropped.
  Duration stall_timeout = 20s;
  /// Requests to a source that has sent no byte for this long (since we asked) are asked
  /// elsewhere, and the source gets no more until it is heard again. Its connection stays:
  /// a request lost behind a full uplink queue waits for TCP's backoff, not for the source.
  Duration request_timeout = 4s;
  Duration tick_interval = 500ms;
  Duration progress_interval = 1s;
  bool end_game = true;
  /// The end-game moves or twins a block in flight when a free owner would bring it in half the
  /// time; once fewer than this many chunks' worth of blocks are missing, a block also gets one
  /// twin when there is nothing to judge the owners by yet. Twins of blocks already on their
  /// way are bytes sent twice: asking for every one as soon as all are asked cost
  /// poisson-churn 18 % of its payload, since a 32-chunk file is all asked for within a second.
  std::uint32_t end_game_chunks = 4;
  /// Most this download receives, bits/s (0: no limit): its requests are paced to it, so
  /// sources send no faster and the rest of the link stays free for other traffic.
  std::uint64_t rate_limit_bps = 0;
  /// This peer's upload rate, bits/s, if known (0: unknown): said in PEER_INTERESTED.
  std::uint64_t upload_bps = 0;
};

/// What a download asks of the peer that owns it: data the peer drains after every call into
/// the download (Download::poll_action), as a driver drains a node's effects.
namespace download_action {
/// Connect to a source; the peer answers at once with Download::bind_connection.
struct OpenConnection {
  std::string source;
  Endpoint to;
};
struct SendMessage {
  ConnId conn;
  Message message;
  /// A HAVE that may wait a moment for other frames to its connection (Peer batches them).
  bool may_wait = false;
};
struct CloseConnection {
  ConnId conn;
};
/// Ask the tracker for the owners; the answer comes through on_location(_failed).
struct AskOwners {
  bool hashes = true;  // false once the file's hashes are known: a refresh needs owners only
};
struct OpenFile {
  FileInfo file;
  std::string dest;
};
/// Verify against `expected` and store; the result comes through on_written.
struct WriteChunk {
  std::uint32_t index;
  Payload data;
  Digest expected;
  std::vector<std::string> from;  // the senders of its blocks
};
/// Every chunk is verified: make the file durable; the result comes through on_finalized.
struct FinishFile {};
/// The download now holds `have` of `file`: serve it and announce it to the tracker.
struct OfferFile {
  FileInfo file;
  ChunkSet have;
};
/// A newly verified chunk: serve it and register it with the tracker.
struct OfferChunk {
  std::uint32_t index;
};
/// Stop offering the partial file (the download gave up on it).
struct WithdrawFile {};
/// The file is whole and at its destination.
struct FileCompleted {};
/// A metrics record for the events log.
struct Log {
  std::string type;
  nlohmann::json fields;
};
struct Tell {
  Notice notice;
};
}  // namespace download_action

using DownloadAction =
    std::variant<download_action::OpenConnection, download_action::SendMessage,
                 download_action::CloseConnection, download_action::AskOwners,
                 download_action::OpenFile, download_action::WriteChunk,
                 download_action::FinishFile, download_action::OfferFile,
                 download_action::OfferChunk, download_action::WithdrawFile,
                 download_action::FileCompleted, download_action::Log, download_action::Tell>;

struct DownloadStatus;

class Download {
 public:
  /// Stopped: paused by the user (stop()); download() again resumes it.
  enum class Phase { Locating, Opening, Running, Finalizing, Completed, Failed, Stopped };

  /// `rng` is the owning peer's generator (one stream per peer keeps runs reproducible).
  Download(const DownloadConfig& config, std::string name, std::string dest, Rng& rng);
  Download(const Download&) = delete;  // linked_ points into sources_
  Download& operator=(const Download&) = delete;

  void start(Time now);
  void on_location(Time now, const ReplyFileLocation& reply);
  void on_location_failed(Time now, const Error& error);
  void on_opened(Time now, const StoreResult& result);
  void on_connected(Time now, ConnId conn);
  void on_message(Time now, ConnId conn, Message m);
  void on_closed(Time now, ConnId conn, CloseReason reason);
  /// Bytes of a frame arrived on `conn`: a source sending a long chunk is alive.
  void on_bytes_arrived(Time now, ConnId conn);
  /// Whether the peer's tracker session is up: owner refreshes wait while it is not.
  /// The tracker session came up or went down. A download still locating its file when the
  /// tracker was lost asks again as soon as it is back, instead of failing.
  void set_tracker_online(Time now, bool online);
  /// The peer's tracker session came back at `when` (before this download began).
  void tracker_came_back(Time when) { tracker_back_at_ = when; }
  /// The connection the peer opened for OpenConnection{source}.
  void bind_connection(const std::string& source, ConnId conn);
  void on_deadline(Time now);
  void on_written(Time now, std::uint32_t index, const StoreResult& result);
  void on_finalized(Time now, const StoreResult& result);
  /// The peer is shutting down: close everything, keep what is verified.
  void abort(Time now);
  /// Paused by the user: as abort, in phase Stopped (no DownloadFailed is told).
  void stop(Time now);

  std::optional<DownloadAction> poll_action();
  /// When the download next wants on_deadline; nullopt once it is finished.
  std::optional<Time> next_deadline() const {
    if (!paced_until_) return deadline_;
    return deadline_ ? std::min(*deadline_, *paced_until_) : paced_until_;
  }

  DownloadStatus status() const;
  /// What keeps a running download from asking for more, at this instant.
  struct Waiting {
    /// Sources that let us ask and have room in their pipeline, but hold nothing we miss that
    /// is not already asked of someone else.
    std::uint32_t idle_sources = 0;
    /// Chunks nobody was asked for, held by a source that answered us, whose every such owner
    /// chokes us, has no room, or said to ask elsewhere.
    std::uint32_t chunks_on_busy_owners = 0;
  };
  Waiting waiting() const;
  Phase phase() const { return phase_; }
  bool finished() const {
    return phase_ == Phase::Completed || phase_ == Phase::Failed || phase_ == Phase::Stopped;
  }
  const std::string& name() const { return name_; }
  bool owns(ConnId conn) const { return conn_to_source_.count(conn) != 0; }

 private:
  /// Requested: in progress, some of its blocks asked for or in (it has a Partial).
  enum class ChunkState : std::uint8_t { Missing, Requested, Verifying, Have };
  enum class SourceState { Idle, Connecting, Pinging, Ready, Failed, Banned };
  struct Source {
    std::string id;
    Endpoint address;
    ChunkSet has;
    /// Chunks it said to ask someone else for (PeerRejectChunk), until the next owner refresh.
    ChunkSet rejected;
    SourceState state = SourceState::Idle;
    ConnId conn = 0;
    std::optional<Duration> srtt;
    double throughput = 0;  // bytes/s, EWMA over chunk deliveries
    std::optional<std::uint64_t> ping_nonce;
    Time ping_sent{};
    Time last_delivery{};
    Time last_heard{};  // any frame: a source busy sending chunks is alive even if pings wait
    Time ready_at{};    // when it answered our first ping
    std::uint32_t inflight = 0;
    bool unchoked = false;    // it said we may ask
    bool silent = false;      // our requests to it timed out; no more until it is heard
    bool interested = false;  // we told it we want something it holds
    std::uint32_t strikes = 0;
    std::uint32_t failures = 0;
    std::uint32_t refusals = 0;  // other than Busy, in a row: a block from it starts over
    std::uint32_t busy = 0;      // Busy answers in a row: 1 s before the next try, doubling to 8 s
    Time failed_at{};
    std::uint64_t bytes = 0;
    std::uint64_t bytes_at_last_progress = 0;
    double recent_bps = 0;  // bits/s, smoothed over progress reports
  };
  /// How long a failed source waits before a refresh may give it another chance.
  static Duration retry_wait(const Source& s) {
    Duration wait = Duration::zero();
    if (s.refusals > 1) {
      const auto doublings = std::min(s.refusals - 2, 6u);
      wait = std::min<Duration>(std::chrono::milliseconds(250) * (1 << doublings), 10s);
    }
    // A full source frees a place when one of its downloaders finishes or falls silent:
    // seconds, not round trips. Asking again at every refresh (the refusal makes one urgent)
    // cost a 300-peer flash crowd 18,000 refused connections, each leaving endpoints that
    // every packet to its host is matched against.
    if (s.busy > 0) {
      const auto doublings = std::min(s.busy - 1, 3u);
      wait = std::max(wait, Duration{1s} * (1 << doublings));
    }
    return wait;
  }
  struct Ask {
    Source* source = nullptr;  // never dangles: sources_ only ever grows
    Time sent;
    std::uint64_t seq = 0;  // order of asking: asks sent at the same instant still queue
    bool moved = false;     // moved here from a slower source: not moved again (twins may come)
  };
  struct Block {
    std::vector<Ask> asks;  // more than one only in the end-game
    bool in = false;
    Payload data;
    Source* from = nullptr;  // set once in; never dangles, as Ask::source
  };
  /// A chunk in progress (Requested) or being verified (Verifying).
  struct Partial {
    std::vector<Block> blocks;
    std::uint32_t in = 0;  // blocks received
    std::uint32_t asks = 0;
    Time moved{};  // when a block of it was last asked for or came in
  };

  void merge_owners(Time now, const ReplyFileLocation& reply);
  /// Sources we are connected to that hold a chunk we miss.
  std::uint32_t serving_sources() const;
  void connect_more(Time now);
  /// Asks free sources for more, then tells every source whether we are interested.
  void schedule(Time now);
  void request_more(Time now);
  /// End-game: seconds until a block asked of `s` arrives, `ahead` blocks asked of it before
  /// it and the oldest of those asked at `asked_since`; none before `s` has sent anything.
  std::optional<double> expected_wait(Time now, const Source& s, std::uint32_t ahead,
                                      Time asked_since) const;
  /// A block is asked of at most this many sources at once (the first and end-game twins).
  static constexpr std::size_t kMostAsksPerBlock = 4;
  /// The first block nobody was asked for of a chunk in progress that `s` may send.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> next_block_for(const Source& s) const;
  /// `s` holds chunk `i` and has not told us to ask someone else for it.
  static bool offers(const Source& s, std::uint32_t i) {
    return s.has.contains(i) && !s.rejected.contains(i);
  }
  /// `s` may be asked for more now: ready, unchoked us, heard, room in its pipeline.
  bool may_ask(const Source& s) const {
    return s.state == SourceState::Ready && s.unchoked && !s.silent &&
           s.inflight < pipeline_depth(s);
  }
  void send_request(Time now, std::uint32_t chunk, std::uint32_t block, Source& s);
  Partial& start_chunk(std::uint32_t chunk);
  /// Removes the asks of `s` for block `block` of `chunk` (every block if nullopt).
  /// Returns the time of the one it removed for `block`, if any.
  std::optional<Time> remove_asks(std::uint32_t chunk, std::optional<std::uint32_t> block,
                                  Source& s);
  /// A chunk in progress that nothing is asked for and nothing has come: Missing again.
  void settle(std::uint32_t chunk);
  /// The configured block size, at most a chunk.
  std::uint32_t block_size() const;
  std::uint32_t blocks_in(std::uint32_t chunk) const;
  std::uint32_t block_length(std::uint32_t chunk, std::uint32_t block) const;
  std::uint32_t inflight_total() const;
  /// Among `free` sources (holding `chunk`, if given; other than `except`), the one the peer
  /// strategy prefers; nullptr if none.
  Source* pick_free_owner(const std::vector<Source*>& free, std::optional<std::uint32_t> chunk,
                          const std::string* except);
  // pick_free_owner's working lists, kept so that a pick, which runs for every request,
  // does not allocate.
  std::vector<Source*> able_;
  std::vector<SourceCandidate> candidates_;
  void send_ping(Time now, Source& s);
  /// Tells `s` whether it holds something we miss, when that changed.
  void update_interest(Source& s, bool always = false);
  /// Blocks to keep outstanding at `s`: its rate x RTT in blocks, plus a chunk.
  std::uint32_t pipeline_depth(const Source& s) const;
  /// A block arrived from `s`, asked for or not (asked before a CHOKE, or an end-game twin).
  void on_block(Time now, Source& s, PeerReplyChunk& reply);
  /// Every block of `chunk` is in: hand it to the store to verify.
  void verify(std::uint32_t chunk, Partial& p);
  void drop_source(Time now, Source& s, SourceState state, std::string_view why);
  void unlink(Source& s);
  void requeue_from(Source& s);
  /// One-source chunks whose sender may not be asked for them (it choked us and stays, fell
  /// silent, or rejected the chunk) and that nothing was asked of, came in, or was dropped
  /// for request_timeout. They start over, for any owner.
  void restart_stalled_one_source_chunks(Time now);
  /// A one-source chunk in progress is Missing again, its blocks dropped (logged if any were
  /// in). Returns the next chunk in progress.
  std::map<std::uint32_t, Partial>::iterator start_over(
      std::map<std::uint32_t, Partial>::iterator it, std::string_view why);
  /// Forgets the requests for blocks of `chunk` at `s` (they will not come); they are asked
  /// again.
  void drop_request(Time now, std::uint32_t chunk, Source& s);
  void strike(Time now, const std::string& source_id, std::uint32_t chunk, std::string_view why);
  void maybe_refresh(Time now, bool urgent);
  std::uint32_t missing_without_owner();
  /// "N of M chunks have no online owner", naming the banned sources that hold some of them.
  std::string no_owner_text(std::uint32_t orphaned) const;
  void finalize(Time now);
  void fail(Error error);
  void close_all_sources();
  void report_progress(Time now);
  const std::vector<std::uint32_t>& owner_counts();
  /// The next chunk to request from `s` (it holds it; nobody was asked for it yet), by the
  /// configured strategy.
  std::optional<std::uint32_t> pick_next(const Source& s);
  Source* source_by_conn(ConnId conn);

  void act(DownloadAction a) { actions_.push_back(std::move(a)); }
  void send_to(ConnId conn, Message m, bool may_wait = false) {
    act(download_action::SendMessage{conn, std::move(m), may_wait});
  }
  void log(std::string type, nlohmann::json fields) {
    act(download_action::Log{std::move(type), std::move(fields)});
  }

  std::deque<DownloadAction> actions_;
  Rng& rng_;
  const DownloadConfig config_;
  std::string name_;
  std::string dest_;
  Phase phase_ = Phase::Locating;
  std::optional<Error> error_;
  std::optional<FileInfo> info_;
  bool owners_complete_ = true;  // the last location reply listed every owner in full
  ChunkSet have_;
  std::vector<ChunkState> chunks_;
  std::map<std::uint32_t, Partial> partial_;  // chunks Requested or Verifying
  /// Chunks that failed verification with blocks from several sources: the culprit is
  /// unknown, so their next copy comes whole from one source, which then answers for it.
  ChunkSet one_source_;
  std::uint32_t blocks_per_chunk_ = 1;
  std::uint64_t next_ask_ = 0;
  std::uint64_t duplicate_bytes_ = 0;      // blocks that arrived when we had them already
  std::uint32_t verifying_ = 0;            // chunks_ in state Verifying
  std::map<std::string, Source> sources_;  // by peer id; ordered for determinism
  /// Looked up for every frame and packet that arrives; a source is never erased from sources_.
  std::unordered_map<ConnId, Source*> conn_to_source_;
  /// The sources with a connection, in id order (as sources_ iterates): the scheduler walks
  /// these on every delivery, and sources_ holds every owner the tracker ever named.
  std::vector<Source*> linked_;
  std::vector<std::uint32_t> owner_counts_;
  bool owner_counts_dirty_ = true;  // recount over all sources
  bool rarest_dirty_ = true;        // owner_counts_ changed in place: rebuild rarest_ from it
  RarestFirstIndex rarest_;         // rebuilt with owner_counts_, for the rarest-first strategy
  std::optional<Time> deadline_;    // the next tick, while running
  // rate_limit_bps: requests are paced by the bytes they ask for; asking goes on then.
  TokenBucket request_pace_;
  std::optional<Time> paced_until_;
  /// Whether the rate limit lets another request out now; if not, sets paced_until_.
  bool rate_allows(Time now);
  Time started_{};
  Time last_refresh_{};
  Duration refresh_gap_{};
  bool refresh_wanted_ = false;  // an urgent refresh waits for min_refresh_gap
  bool refresh_pending_ = false;
  bool tracker_online_ = true;
  bool waiting_for_tracker_ = false;     // locating, and the tracker was lost before it answered
  std::optional<Time> tracker_back_at_;  // when the tracker session last came back
  Time last_progress_{};
  std::uint64_t bytes_at_last_progress_ = 0;
  double rate_bps_ = 0;
  std::uint64_t bytes_have_ = 0;
  std::uint32_t resumed_chunks_ = 0;
  std::uint64_t resumed_bytes_ = 0;  // of those chunks
  std::uint64_t next_nonce_ = 1;
};

/// What a download is doing, for a terminal's status and for tests.
struct DownloadStatus {
  std::string name;
  std::string dest;
  Download::Phase phase = Download::Phase::Locating;
  std::uint32_t chunks_have = 0;
  std::uint32_t chunks_total = 0;
  std::uint64_t bytes_have = 0;
  std::uint64_t bytes_total = 0;
  std::uint32_t sources = 0;  // connected and answering
  double rate_bps = 0;        // recent goodput, bits per second
  std::optional<Error> error;
  /// The sources connected now (the peers view).
  struct Source {
    std::string id;
    Endpoint address;
    std::optional<Duration> rtt;  // smoothed ping round trip
    double rate_bps = 0;          // recent rate of its deliveries
    std::uint64_t bytes = 0;      // received from it in this download
    std::uint32_t in_flight = 0;  // blocks asked and not yet in
    bool unchoked = false;        // it lets us ask
  };
  std::vector<Source> connected;
};

std::string_view to_string(Download::Phase p);

}  // namespace swarmlab

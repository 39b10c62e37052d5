#pragma once
// Upload serving: the connections other peers opened to fetch chunks from this one, which of
// them may ask right now (unchoked), their queued requests, and the store reads that answer
// them. Owned and driven by a Peer like a Download: inputs carry the time, what the server wants
// done comes out of poll_action(), and its next wake-up out of next_deadline().
//
// Why choke (docs/models.md, "Upload slots"): a link shared by every downloader at once
// finishes no chunk early, so nobody can pass anything on. Serving a few downloaders at a time,
// and rotating them, keeps the link full while every chunk out is soon a new source.
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>

#include "swarmlab/chunk_set.hpp"
#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/rng.hpp"
#include "swarmlab/token_bucket.hpp"

namespace swarmlab {

struct UploadConfig {
  /// Downloaders unchoked at once, besides the optimistic slot; 0: sized from upload_bps.
  /// A few flows keep a link full under TCP while each chunk still leaves quickly; a fast
  /// link needs more, or downloaders that ask one chunk per round trip leave it idle.
  std::uint32_t slots = 0;
  /// This peer's upload rate, when the host knows it (the simulator does); 0 if unknown.
  std::uint64_t upload_bps = 0;
  /// With slots = 0: one slot per this much upload rate (at least 1, at most 64), or 4 slots
  /// when the rate is unknown.
  std::uint64_t slot_bps = 2'000'000;
  std::uint32_t regular_slots() const {
    if (slots > 0) return slots;
    if (upload_bps == 0) return 4;
    return slots_at(slot_bps);
  }
  /// Slots of `per_slot_bps` each in upload_bps (at least 1, at most 64).
  std::uint32_t slots_at(std::uint64_t per_slot_bps) const {
    return static_cast<std::uint32_t>(
        std::clamp<std::uint64_t>(upload_bps / std::max<std::uint64_t>(1, per_slot_bps), 1, 64));
  }
  /// Free slots and ended turns go to the interested downloader that holds the fewest chunks
  /// (as it said: PEER_INTERESTED and its PEER_HAVEs), then to the one served least. The
  /// last completion is what a flash crowd waits for: a downloader that fell behind (fewer
  /// owners took it, a slower path) catches up instead of finishing last. False: served least
  /// first, each source fair only among its own downloaders.
  bool behind_first = true;
  /// A seed ranks downloaders by the upload rate they said (PEER_INTERESTED), fastest first,
  /// before the rest of the ranking; and an origin (it held the whole file at the first
  /// request) with its own rate known and slots = 0 sizes each slot at a quarter of the
  /// spread of those rates (fastest less slowest; at least slot_bps), so it serves a few of
  /// the fastest at a time. What a seed sends is passed on at the receiver's upload rate: a
  /// first copy that went to a 1 Mbit/s uplink stays a rare chunk for seconds. Among equal
  /// downloaders neither changes anything (docs/models.md, "Fastest first"). Rates count as
  /// said, at most 64 times this peer's own; a downloader that said none ranks last at a seed
  /// and is left out of the spread.
  bool fastest_first = true;
  /// One more slot that goes to a newcomer at once (its first chunk makes it a source), or in
  /// turn to whoever waited longest.
  bool optimistic_slot = true;
  /// How often the unchoked set is chosen again: the downloaders that rank first (behind_first)
  /// go first.
  Duration rechoke_interval = 2s;
  /// When > 0, a downloader's turn ends after this many chunks' worth of blocks have left for
  /// it (if others wait), instead of at every rechoke_interval: turns follow the link's speed.
  /// The periodic rechoke then only takes slots from downloaders that ask nothing. With
  /// newcomers_first, a turn is one chunk while a downloader that holds nothing, and uploads
  /// at least as fast, waits.
  std::uint32_t turn_chunks = 2;
  /// While an interested downloader that holds nothing waits for a slot, at most this many
  /// regular slots are filled (0: no such limit). Each downloader served takes a share of the
  /// uplink, and a chunk sent to six at once leaves all six copies late: sent to two at once
  /// (and the optimistic slot), each copy is whole, and its downloader a source, in half the
  /// time or less. In a flash crowd that is how fast the swarm's uplinks come into use
  /// (docs/models.md, "Fewer at once while newcomers wait").
  std::uint32_t newcomer_slots = 2;
  /// Chunks' worth of blocks one downloader may have between read and sent
  /// (Send::report_sent). 1 on a link the host reports at the wire (ns-3); a host that reports
  /// when the kernel took the bytes (Asio) keeps the next reads under way meanwhile with 2.
  std::uint32_t chunks_per_downloader = 1;
  /// With upload_bps known, also at most this much of the uplink's time (and at least two
  /// blocks): what is still queued here can be cancelled by a downloader that moved it to a
  /// faster source, and its pings do not wait behind seconds of data. A 1 Mbit/s uplink
  /// would otherwise hold a 512 KiB chunk (4 s) per downloader that no cancel could take back.
  /// With few downloaders served at once (newcomer_slots), each one's share is most of the
  /// link, and what was read for one that has since moved its requests elsewhere is sent all
  /// the same, as duplicates.
  Duration out_time = 100ms;
  /// While this peer is an origin of a file (it held all of it when the first request came),
  /// some chunk's first copy has not left whole yet, and it has downloaders waiting for a slot
  /// or has turned some away for want of a connection (its upload is what the swarm waits for),
  /// a request for a chunk it already sent, or is sending to another, is rejected
  /// (PeerRejectChunk): the downloader asks it for another, so the first copies a seed puts
  /// into the swarm are all different and none is lost if it leaves early.
  /// A peer that downloaded the file got every chunk from the swarm, so it serves what is asked.
  bool spread_first_copies = true;
  /// ... except a chunk whose first copy has stalled: nothing of it has left for its downloader
  /// in this many blocks' time at one slot's share of the uplink (upload_bps known). The next
  /// downloader to ask gets it, and the promise passes to that one. A first copy stuck on a
  /// connection that TCP sends slowly otherwise keeps the origin's uplink idle: every
  /// downloader that asks for a chunk already sent is told to ask for another
  /// (flash-crowd-small, seed 1: the last three first copies took 4 s, and the origin sent
  /// almost nothing for 1.7 s of it). 0: a first copy stays promised while under way.
  std::uint32_t first_copy_stall_blocks = 4;
  /// The same when upload_bps is unknown (0, the default: never). Without the rate there is no
  /// pace to call a stall against. Set by tests only.
  Duration first_copy_stall_time = Duration::zero();
  /// Chunk reads (and delayed replies) in progress at once, over all connections.
  std::uint32_t max_reads = 8;
  /// Downloaders connected at once (0: no limit); more are told Busy and look elsewhere.
  /// Without a limit, everyone connects to the first peers that held chunks: they stay
  /// interesting to the end, their slots are the swarm's bottleneck, and the uplinks of the
  /// peers nobody connected to stay idle. A little above DownloadConfig::max_sources.
  std::uint32_t max_connections = 20;
  /// A downloader's connection that sends nothing for this long is closed. Downloaders ping
  /// their sources every few seconds (DownloadConfig::ping_interval), so this much silence is
  /// a dead or hostile client, which must not hold one of max_connections forever.
  Duration idle_timeout = 30s;
  /// When max_connections are taken, a newcomer replaces the connection silent the longest if
  /// it has been silent this long and is not being served (instead of being told Busy).
  Duration evict_silent_after = 10s;
  /// When max_connections are taken and nothing is evictable, a newcomer may still be heard
  /// out (at most this many at once, each for evict_nameless_after): if the chunks it says it
  /// holds are fewer than half of what the connected downloader furthest along holds, that one
  /// is closed (Busy) to make way; otherwise the newcomer is. Only a downloader that said it
  /// uploads no faster than the newcomer (PEER_INTERESTED's upload_bps; unknown counts as
  /// equal) may be closed for it. In a flash crowd the first peers to connect take every
  /// connection of every early source, and the peers that hold nothing reach nobody who could
  /// give them a first chunk while the early ones trade among themselves (docs/models.md,
  /// "Hearings"). 0: newcomers are refused when full.
  std::uint32_t hearings = 4;
  /// An unchoked downloader that says it verified a chunk (PEER_HAVE), and so holds some, gives
  /// up its slot at a peer that is still downloading the file while an interested one that
  /// holds none and uploads at least as fast waits (and at any peer, its turn is then one
  /// chunk: turn_chunks): a newcomer's first chunk makes it a source, the other is one already. The
  /// slot then goes as any free slot does (behind_first: to a downloader that holds nothing), and
  /// blocks under way still come. In a flash crowd the first holders otherwise serve each other,
  /// whoever connected first, while the rest wait (docs/models.md, "Who gets a slot").
  bool newcomers_first = true;
  /// ... or if it has not named a file this long after it connected. A downloader names its
  /// file (PEER_INTERESTED or PEER_NOT_INTERESTED) as soon as it connects; a connection that
  /// has not is no downloader, and hundreds of them must not lock the real ones out for long.
  Duration evict_nameless_after = 2s;
  /// Requests (blocks) one connection may queue before it is told Busy: above
  /// DownloadConfig::max_inflight_per_peer.
  std::uint32_t max_queued_requests = 256;
  /// Most this peer uploads, bits/s (0: no limit). Blocks are paced to it.
  std::uint64_t rate_limit_bps = 0;
  /// ... and while it downloads something (0: no limit). Just under the uplink's rate keeps the
  /// link's queue short, so the requests and TCP acknowledgements of the peer's own downloads
  /// are not stuck behind its uploads (or dropped by a full queue). A seed has no downloads to
  /// protect, and its whole uplink is what a flash crowd waits for.
  std::uint64_t downloading_rate_limit_bps = 0;
  /// How much unused allowance the limit keeps: a short burst after a pause.
  Duration rate_burst = 50ms;
  /// Artificial delay before every reply (`set_delay`), to try RTT-based choice by hand.
  Duration reply_delay = Duration::zero();
  /// Seeds the draw that orders downloaders who rank the same for a slot; each peer its own.
  std::uint64_t seed = 1;
};

namespace upload_action {
struct SendMessage {
  ConnId conn;
  Message message;
  bool report_sent = false;  // a chunk: UploadServer::on_sent when it has left
  /// A HAVE that may wait a moment for other frames to its connection (Peer batches them).
  bool may_wait = false;
};
struct CloseConnection {
  ConnId conn;
};
/// Read a block of a chunk for `conn`; the result comes back through UploadServer::on_read.
struct ReadChunk {
  ConnId conn;
  std::string name;
  std::uint32_t index;
  std::uint32_t offset;
  std::uint32_t length;
};
}  // namespace upload_action

using UploadAction = std::variant<upload_action::SendMessage, upload_action::CloseConnection,
                                  upload_action::ReadChunk>;

class UploadServer {
 public:
  /// A file this peer offers and the chunks of it that it holds (and so may serve).
  struct Offered {
    const FileInfo* file = nullptr;
    const ChunkSet* have = nullptr;
  };
  /// What this peer offers of `name`; both null if nothing.
  using Held = std::function<Offered(const std::string& name)>;

  UploadServer(UploadConfig config, Held held);

  /// A downloader connected. False (and a Busy error, then a close) when there are too many.
  bool on_accepted(Time now, ConnId conn);
  /// A message on a connection this server owns.
  void on_message(Time now, ConnId conn, Message m);
  void on_closed(Time now, ConnId conn);
  void on_read(Time now, ConnId conn, const std::string& name, std::uint32_t index,
               std::uint32_t offset, StoreResult result);
  /// This peer verified chunk `index` of `name`: tell the downloaders interested in it.
  void on_have(Time now, const std::string& name, std::uint32_t index);
  /// A block sent on `conn` has left this host: the connection may have the next one.
  void on_sent(Time now, ConnId conn);
  void on_deadline(Time now);
  void set_delay(Duration delay) { config_.reply_delay = delay; }
  /// Whether this peer is downloading now (downloading_rate_limit_bps applies).
  void set_downloading(bool downloading) { downloading_ = downloading; }
  /// Closes every connection.
  void shutdown();

  bool owns(ConnId conn) const { return conns_.count(conn) != 0; }
  /// `conn` is a downloader this server unchoked that has nothing queued, being read or on
  /// its way: it may ask for a chunk the moment it hears of one.
  bool asks_nothing(ConnId conn) const {
    const auto it = conns_.find(conn);
    return it != conns_.end() && it->second.asks_nothing();
  }
  std::optional<UploadAction> poll_action();
  std::optional<Time> next_deadline() const;

  /// Downloaders connected (not counting newcomers on a hearing).
  std::size_t connections() const { return conns_.size() - hearings(); }
  std::size_t unchoked() const;
  /// What waits on this uplink, and who could use it, at this instant.
  struct Load {
    std::uint64_t queued_bytes = 0;        // requested, not yet read
    std::size_t unchoked_asking_none = 0;  // interested and unchoked, nothing queued or out
  };
  Load load() const;

 private:
  struct Conn {
    std::string file;  // what it is interested in, once it said
    bool interested = false;
    bool unchoked = false;
    bool optimistic = false;
    Time since{};  // when it was last choked or unchoked
    std::uint64_t served = 0;
    /// Chunks of `file` it said it holds (PEER_INTERESTED, then a PEER_HAVE each), and the
    /// chunks this server sent it whole. It ranks by the larger: a downloader that understates
    /// what it holds ranks no better than one that holds only what it got here.
    std::uint32_t holds = 0;
    std::uint32_t sent_whole = 0;
    std::uint64_t upload_bps = 0;                    // as it said in PEER_INTERESTED; 0: unknown
    std::map<std::uint32_t, std::uint32_t> sent_of;  // bytes sent of chunks not yet whole
    std::deque<PeerRequestChunk> queue;
    /// Blocks being read, delayed or on their way out, in order. At most a chunk's worth: the
    /// link carries about one chunk per unchoked downloader, so each chunk leaves as soon as
    /// it can.
    struct Out {
      std::uint32_t index;
      std::uint32_t offset;
      std::uint32_t bytes;
    };
    std::deque<Out> out;
    /// Unchoked, with nothing queued, being read or going out.
    bool asks_nothing() const { return unchoked && queue.empty() && out.empty(); }
    /// Choked: how many queued blocks (of chunks already partly out) it still gets.
    std::uint32_t finishing = 0;
    std::uint64_t out_bytes = 0;
    std::uint64_t turn_bytes = 0;  // bytes that left for it since it was unchoked
    Time idle_since{};             // when it last had nothing queued or busy
    Time last_heard{};             // its last message (or its accept)
    Time accepted{};
    /// Drawn at accept: among downloaders that rank the same, the lower draw gets a slot
    /// first. Not the order they connected in, which is much the same at every source.
    std::uint64_t draw = 0;
    /// Accepted beyond max_connections: it stays only if it makes way (UploadConfig::hearings).
    bool hearing = false;
  };
  struct Delayed {
    Time due;
    ConnId conn;
    Message message;
    bool chunk;
  };

  void on_request(Time now, ConnId conn, Conn& c, PeerRequestChunk r);
  /// The connection silent the longest (end() if none).
  std::map<ConnId, Conn>::const_iterator quietest() const;
  /// The connection a newcomer may replace when all are taken, if any (see evict_*).
  std::map<ConnId, Conn>::const_iterator evictable(Time now) const;
  /// Closes `conn` from this side and forgets it.
  void drop(Time now, ConnId conn);
  /// Why a newcomer is told Busy when every place is taken.
  std::string busy_text() const;
  /// Tells `conn` it is Busy (`why`) and drops it.
  void refuse(Time now, ConnId conn, std::string why);
  /// A newcomer on a hearing named its file and what it holds: it takes the place of the
  /// downloader furthest along, or goes (UploadConfig::hearings).
  void hear(Time now, ConnId conn, Conn& c);
  /// Hearings that ran past evict_nameless_after end in a refusal.
  void end_hearings(Time now);
  std::size_t hearings() const {
    return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(),
                                                  [](const auto& e) { return e.second.hearing; }));
  }
  void set_interest(Time now, ConnId conn, Conn& c, const std::string& name, bool interested);
  void unchoke(Time now, ConnId conn, Conn& c, bool optimistic);
  void choke(Time now, ConnId conn, Conn& c);
  /// Fills free slots with the interested downloaders that rank first (rank()).
  void fill_slots(Time now);
  void rechoke(Time now);
  /// Turns by chunks: chokes downloaders that hold a slot and ask nothing, if others wait.
  void end_idle_turns(Time now);
  /// `c` has asked nothing for half a rechoke interval since it last was busy or unchoked.
  bool idle_turn(const Conn& c, Time now) const {
    return c.asks_nothing() &&
           now - std::max(c.idle_since, c.since) >= config_.rechoke_interval / 2;
  }
  bool someone_waits() const;
  /// `c` is interested, choked and holds nothing: its first chunk would make it a source.
  static bool waiting_newcomer(const Conn& c) {
    return c.interested && !c.unchoked && !c.hearing && held(c) == 0;
  }
  /// An interested downloader that holds nothing waits for a slot (newcomer_slots).
  bool newcomer_waits_for_slot() const;
  /// The chunks a downloader holds as far as this server knows: what it said, or at least
  /// what it got here whole.
  static std::uint32_t held(const Conn& c) { return std::max(c.holds, c.sent_whole); }
  /// Both said their upload rate and `a`'s is the higher.
  static bool uploads_faster(const Conn& a, const Conn& b);
  /// A choked, interested downloader that holds nothing and uploads at least as fast as
  /// `than`, which holds something, waits (newcomers_first).
  bool newcomer_waits(const Conn& than) const;
  /// This peer holds all of `name`.
  bool seeding(const std::string& name) const;
  /// ... and held it all before its first request for it came: it published it.
  bool is_origin(const std::string& name) const;
  /// Who gets a slot first, lowest first: at a seed, the fastest uploader (fastest_first);
  /// then by chunks held (behind_first), then bytes served.
  using SlotRank = std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>;
  SlotRank rank(const Conn& c) const {
    const bool by_rate = config_.fastest_first && seeding(c.file);
    return {by_rate ? UINT64_MAX - said_rate(c) : 0, config_.behind_first ? held(c) : 0, c.served};
  }
  /// The upload rate `c` said, at most 64 times ours (fastest_first); 0 if unknown.
  std::uint64_t said_rate(const Conn& c) const {
    return config_.upload_bps == 0 ? c.upload_bps : std::min(c.upload_bps, 64 * config_.upload_bps);
  }
  /// Regular slots now: UploadConfig::regular_slots, or at an origin a quarter of the spread
  /// of its downloaders' rates each (fastest_first).
  std::uint32_t regular_slots() const;
  /// ... at most newcomer_slots while a newcomer waits for one.
  std::uint32_t regular_slots_now() const;
  /// An interested downloader, choked, that ranks before `than`.
  bool someone_ranks_before(const Conn& than) const;
  void pump_reads(Time now);
  /// Bytes one downloader may have between read and sent when `next` is its next request
  /// (chunks_per_downloader, out_time).
  std::uint64_t out_budget(const PeerRequestChunk& next) const;
  /// Whether the rate limit lets another block out now; if not, sets next_pump_.
  bool rate_allows(Time now);
  /// Whether to answer `conn`'s request for a block of `index` with PeerRejectChunk: this peer
  /// is an origin of the file, has sent `index` (or is sending it, and that first copy has not
  /// stalled) to another downloader, some chunk's first copy has not left whole, and
  /// downloaders wait (or were turned away).
  bool spread_first(Time now, const PeerRequestChunk& r, ConnId conn) const;
  /// Answers `r` with PeerRejectChunk, and drops `conn`'s other queued requests for that chunk.
  void reject_chunk(ConnId conn, Conn& c, const PeerRequestChunk& r);
  /// How long a first copy of which nothing left may stay promised (first_copy_stall_blocks)
  /// when blocks of `block_bytes` are asked.
  Duration first_copy_stall(std::uint32_t block_bytes) const;
  /// Frees the first copies promised to `conn` (or only chunk `only`) that it no longer has
  /// under way here (none of their blocks queued or going out, and not left whole): the next
  /// downloader to ask gets them. Otherwise a downloader that cancelled one, or was choked
  /// before asking the rest, holds it, every other is told to ask for another, and the chunk
  /// never leaves the origin (scarce-seed, seed 4: 24 leechers held 31 of 32 chunks for 30
  /// minutes). Called at a choke, a cancel (of that chunk only: the downloader's next requests
  /// for its other chunks may be on their way), an idle turn, and the last block out of a
  /// choked downloader.
  void release_first_copies(ConnId conn, const Conn& c,
                            std::optional<std::uint32_t> only = std::nullopt);
  /// The chunk size of `name`, 0 if not offered.
  std::uint64_t chunk_size(const std::string& name) const;
  void reply(Time now, ConnId conn, Message m, bool chunk);
  void read_done(Time now);

  void act(UploadAction a) { actions_.push_back(std::move(a)); }
  void send_to(ConnId conn, Message m, bool report_sent = false) {
    act(upload_action::SendMessage{conn, std::move(m), report_sent});
  }

  UploadConfig config_;
  Held held_;
  Rng rng_;
  std::map<ConnId, Conn> conns_;
  std::deque<Delayed> delayed_;  // due times are non-decreasing: one delay for all replies
  std::deque<UploadAction> actions_;
  std::uint32_t reads_in_progress_ = 0;
  struct Spread {
    std::vector<ConnId> first_to;  // by chunk: who its first copy is promised to; 0: nobody
    std::vector<bool> whole;       // by chunk: out (a copy left whole, or someone reported it)
    std::vector<Time> moved;       // by chunk: its first copy promised or a block of it sent
    std::uint32_t left_whole = 0;  // chunks out
    bool origin = false;           // held the whole file at the first request
    /// Its first copy is promised but not out, and nothing of it has left for `limit`.
    bool stalled(std::uint32_t index, Time now, Duration limit) const {
      return !whole[index] && now - moved[index] >= limit;
    }
    void mark_whole(std::uint32_t index) {
      if (index < whole.size() && !whole[index]) {
        whole[index] = true;
        ++left_whole;
      }
    }
  };
  std::map<std::string, Spread> spread_;  // by file
  ConnId next_turn_ = 0;  // round-robin position among connections with queued requests
  std::optional<Time> next_rechoke_;
  bool downloading_ = false;
  /// A downloader was told Busy for want of a connection (max_connections): more want this
  /// peer's upload than it serves, whether or not those it serves are all unchoked.
  bool turned_away_ = false;
  TokenBucket pace_;               // the rate limit's
  std::optional<Time> next_pump_;  // when the rate limit lets the next block out
};

}  // namespace swarmlab

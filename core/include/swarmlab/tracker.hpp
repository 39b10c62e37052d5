#pragma once
// The tracker: who is online, which files exist, who holds which chunk. All of it is soft
// state, rebuilt from the peers' own announcements after a restart.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "swarmlab/node.hpp"
#include "swarmlab/rng.hpp"

namespace swarmlab {

struct TrackerConfig {
  std::string name = "tracker";
  /// Admitted address ranges; empty admits everyone.
  std::vector<Cidr> allow;
  /// A registered peer silent for this long is dropped (peers ping every 10 s by default).
  Duration keepalive_timeout = 30s;
  /// Most owners listed in one REPLY_FILE_LOCATION; a sample when there are more (one that
  /// still names an owner of every chunk held), which also keeps the reply within 64 KiB.
  std::size_t max_owners_per_reply = 200;
  /// A connection that sends this many bad frames is closed.
  std::uint32_t max_protocol_errors = 16;
  std::uint64_t seed = 1;
};

class Tracker final : public Node {
 public:
  explicit Tracker(TrackerConfig config);

  // ---- getters (for the terminal and tests) ----
  struct PeerView {
    std::string peer_id;
    Endpoint address;  // advertised to other peers
    Endpoint remote;   // where the connection comes from
    Time since{};
    std::size_t files = 0;
    std::uint64_t chunks = 0;
  };
  struct ChunkInfoView {
    std::string file;
    std::string peer_id;
    Endpoint address;
    ChunkSet chunks;
    friend bool operator==(const ChunkInfoView&, const ChunkInfoView&) = default;
  };
  std::vector<PeerView> peers() const;
  std::vector<FileSummary> files() const;
  /// Every (file, peer) ownership record, sorted by file then peer.
  std::vector<ChunkInfoView> chunk_info() const;
  bool started() const { return started_; }

 private:
  void handle_start(Time now) override;
  void handle_accepted(Time now, ConnId conn, const Endpoint& remote) override;
  void handle_frame(Time now, ConnId conn, RawFrame frame) override;
  void handle_closed(Time now, ConnId conn, CloseReason reason) override;
  void handle_timer(Time now, TimerId timer) override;
  void handle_shutdown(Time now) override;

  struct Session {
    Endpoint remote;
    std::optional<std::string> peer_id;
    Time last_heard{};
    std::uint32_t protocol_errors = 0;
  };
  struct PeerRecord {
    ConnId conn = 0;
    Endpoint address;
    Time since{};
  };
  struct FileRecord {
    FileInfo info;
    std::map<std::string, ChunkSet> owners;  // peer id -> chunks held
    Payload hashes;                          // info's hash list as it travels, once built
  };
  /// Forgets the session on `conn` (closing it if asked) and, if it is its peer's current
  /// one, the peer and what it owned. Every way a session ends goes through here.
  void end_session(Time now, ConnId conn, std::string_view reason, bool close_it);
  void list_owners(const FileRecord& f, const std::string& asker, ReplyFileLocation& reply);

  void handle(Time now, ConnId conn, Session& s, RequestRegistry m);
  void handle(Time now, ConnId conn, Session& s, RequestToPublish m);
  void handle(Time now, ConnId conn, Session& s, const RequestFilesList& m);
  void handle(Time now, ConnId conn, Session& s, const RequestFileLocation& m);
  void handle(Time now, ConnId conn, Session& s, const RequestChunksRegister& m);
  void handle(Time now, ConnId conn, Session& s, const RequestChunksUnregister& m);
  void reply_error(ConnId conn, std::uint32_t req, const Error& e, std::string_view in_reply_to);
  void drop_peer(Time now, const std::string& peer_id, std::string_view reason);
  void drop_ownership(Time now, const std::string& file, const std::string& peer_id);
  void record(Time now, std::string type, nlohmann::json fields);
  FileSummary summarize(const FileRecord& f) const;
  static ChunkSet& owned_by(FileRecord& f, const std::string& peer_id);

  TrackerConfig config_;
  Rng rng_;
  bool started_ = false;
  std::map<ConnId, Session> sessions_;
  std::map<std::string, PeerRecord> peers_;
  std::map<std::string, FileRecord> files_;
  TimerId sweep_timer_ = 0;
};

}  // namespace swarmlab

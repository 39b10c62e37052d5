#pragma once
// A peer's session with the tracker: connect, register, keep alive, notice silence, reconnect
// with backoff, number requests and match their answers, batch chunk registrations. Owned and
// driven by a Peer like a Download: inputs carry the time, what the client wants done comes
// out of poll_action(), and its next wake-up out of next_deadline(). What the answers mean
// (a download's owners, a publish done) is the peer's business.
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "swarmlab/chunk_set.hpp"
#include "swarmlab/effects.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/rng.hpp"

namespace swarmlab {

struct TrackerClientConfig {
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
  /// From the connect to the tracker's answer to our registration: a tracker that accepts
  /// and never answers, or a connect that neither succeeds nor fails, is given up this soon.
  Duration register_timeout = 10s;
};

enum class TrackerRequest { Registry, Publish, FilesList, Location };

namespace tracker_action {
/// Connect to the tracker; the peer answers at once with TrackerClient::bind.
struct Connect {
  Endpoint to;
};
struct SendMessage {
  ConnId conn;
  Message message;
};
struct CloseConnection {
  ConnId conn;
};
/// Registered: requests may go out now. `regained`: after an earlier session.
struct Online {
  Endpoint tracker;
  Endpoint advertised;
  bool regained = false;
};
/// The session ended. The client reconnects by itself unless a Failed follows.
struct Offline {};
/// The tracker cannot be reached, or refused this peer: no more attempts until connect().
struct Failed {
  Error error;
};
/// The tracker's answer to a request.
struct Answer {
  TrackerRequest kind;
  std::string name;
  Message reply;
};
/// The tracker refused a request (ERROR).
struct Refused {
  TrackerRequest kind;
  std::string name;
  Error error;
};
/// The session ended before the tracker answered this request.
struct Unanswered {
  TrackerRequest kind;
  std::string name;
};
/// A metrics record for the events log.
struct Log {
  std::string type;
  nlohmann::json fields;
};
}  // namespace tracker_action

using TrackerAction =
    std::variant<tracker_action::Connect, tracker_action::SendMessage,
                 tracker_action::CloseConnection, tracker_action::Online, tracker_action::Offline,
                 tracker_action::Failed, tracker_action::Answer, tracker_action::Refused,
                 tracker_action::Unanswered, tracker_action::Log>;

class TrackerClient {
 public:
  enum class State { Disconnected, Connecting, Registering, Online };

  /// `rng` is the owning peer's generator (backoff jitter, keep-alive nonces).
  TrackerClient(TrackerClientConfig config, Rng& rng);

  /// Connects and keeps trying until the tracker answers (a peer started with --tracker).
  void start(Time now, const Endpoint& tracker);
  /// Connects once; if the tracker cannot be reached, says so (Failed). Errors:
  /// AlreadyConnected if a session exists or is being set up.
  Status connect(Time now, const Endpoint& tracker);
  /// The connection the peer opened for Connect.
  void bind(ConnId conn) { conn_ = conn; }
  bool owns(ConnId conn) const { return conn != 0 && conn == conn_; }

  /// The connection is up: register with `registry` (its request id is filled in here).
  void on_connected(Time now, RequestRegistry registry);
  void on_message(Time now, Message m);
  /// A frame from the tracker that does not decode.
  void on_bad_frame(Time now, const Error& error);
  void on_closed(Time now, std::string_view why);
  void on_deadline(Time now);
  /// The peer is shutting down: close, and never reconnect.
  void shutdown();

  /// Sends a request; its answer comes back as Answer, Refused or Unanswered with `kind` and
  /// `name`. Only while online.
  void request(TrackerRequest kind, const std::string& name, Message m);
  /// Publishes `file` with the chunks this peer holds of it (nothing if none), in as many
  /// messages as its chunk set needs. The answer comes back as for request(Publish, ...).
  void announce(const FileInfo& file, const ChunkSet& have);
  /// Chunk `index` of `name` (of `chunks` chunks) is verified: registered in the next batch.
  void register_chunk(Time now, const std::string& name, std::uint32_t index, std::uint32_t chunks);
  /// This peer no longer offers `ranges` of `name` (and forgets its pending registrations).
  void unregister(const std::string& name, std::vector<ChunkRange> ranges);

  State state() const { return state_; }
  bool online() const { return state_ == State::Online; }
  const std::optional<Endpoint>& endpoint() const { return endpoint_; }

  std::optional<TrackerAction> poll_action();
  std::optional<Time> next_deadline() const;

 private:
  struct Pending {
    TrackerRequest kind;
    std::string name;
  };

  void begin_connect(Time now);
  /// `explained`: a Failed with the reason was already given (no second one).
  void lost(Time now, std::string_view why, bool explained = false);
  void flush_registrations();
  void act(TrackerAction a) { actions_.push_back(std::move(a)); }
  void send(Message m) { act(tracker_action::SendMessage{conn_, std::move(m)}); }
  void log(std::string type, nlohmann::json fields) {
    act(tracker_action::Log{std::move(type), std::move(fields)});
  }

  TrackerClientConfig config_;
  Rng& rng_;
  State state_ = State::Disconnected;
  std::optional<Endpoint> endpoint_;
  ConnId conn_ = 0;
  bool reconnect_ = false;  // set once a session was established or asked for by flag
  bool ever_online_ = false;
  bool stopped_ = false;
  Duration backoff_{};
  Time last_heard_{};
  std::uint32_t next_req_ = 1;
  std::map<std::uint32_t, Pending> pending_;
  std::map<std::string, ChunkSet> to_register_;
  std::optional<Time> reconnect_at_;
  std::optional<Time> keepalive_at_;
  std::optional<Time> flush_at_;
  std::optional<Time> register_by_;  // the connect and registration must be done by then
  std::deque<TrackerAction> actions_;
};

std::string_view to_string(TrackerClient::State s);

}  // namespace swarmlab

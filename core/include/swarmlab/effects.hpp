#pragma once
// What a node asks its driver to do (docs/architecture.md). The driver drains effects after
// every input and reports outcomes back as inputs; the node is never re-entered meanwhile.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "swarmlab/chunk_set.hpp"
#include "swarmlab/endpoint.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/event.hpp"
#include "swarmlab/file_info.hpp"
#include "swarmlab/frame_codec.hpp"
#include "swarmlab/notice.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab {

/// Connection handle. Drivers number accepted connections from 1; nodes number the
/// connections they open from kFirstOutboundConn, so the two never collide.
using ConnId = std::uint64_t;
constexpr ConnId kFirstOutboundConn = ConnId{1} << 62;
/// A node's own timers (Node::start_timer); drivers only see Node::next_deadline().
using TimerId = std::uint64_t;
using StoreOpId = std::uint64_t;

enum class CloseReason {
  Normal,         // the other side closed
  Reset,          // connection lost (crash, reset)
  ConnectFailed,  // an outbound connect did not succeed
  ProtocolError,  // the stream broke framing rules; the driver closed it
  Local,          // this node asked for the close
  Overloaded,     // its unfinished frame was the largest when the node's receive budget ran out
};
std::string_view to_string(CloseReason r);

struct Connect {
  ConnId conn;
  Endpoint to;
};
struct Send {
  ConnId conn;
  RawFrame frame;
  /// Call Node::on_sent(conn) once the frame has left this host: its last byte is on the
  /// wire (ns-3: TCP sent it), or in the kernel's socket buffer (Asio). Upload slots use it to
  /// hand a link one chunk after another instead of all at once.
  bool report_sent = false;
};
struct Close {
  ConnId conn;
  /// Drop at once without sending what is queued (the stream broke framing); otherwise the
  /// queued frames go out first.
  bool reset = false;
};

// ---- chunk store: asynchronous, completed by on_store_done(op, StoreResult) --------------

/// Publish: read the local file at `path`, split it into chunks of `chunk_size` and hash
/// them. Result: `file` (named `name`). From then on the store serves that name.
struct StoreScan {
  StoreOpId op;
  std::string path;
  std::string name;
  std::uint32_t chunk_size;
};
/// Prepare to download `file` into `dest`. Result: `have`, the chunks already verified by
/// an earlier attempt (resume). From then on the store serves that name's verified chunks.
struct StoreOpen {
  StoreOpId op;
  FileInfo file;
  std::string dest;
};
/// Read bytes [offset, offset + length) of chunk `index` of a file the store serves (length
/// 0: to the chunk's end). Result: `data`.
struct StoreRead {
  StoreOpId op;
  std::string name;
  std::uint32_t index;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};
/// Verify `data` against `expected` (SHA-256) and, only if it matches, write it. Result:
/// ok, HashMismatch, or IoError.
struct StoreWrite {
  StoreOpId op;
  std::string name;
  std::uint32_t index;
  Payload data;
  Digest expected;
  /// Peer ids of the senders of its blocks (simulation uses them to model corrupters).
  std::vector<std::string> from;
};
/// Every chunk is verified: make the file durable and put it at its destination.
struct StoreFinalize {
  StoreOpId op;
  std::string name;
};
/// Any one of them: what a driver's chunk store carries out.
using StoreOp = std::variant<StoreScan, StoreOpen, StoreRead, StoreWrite, StoreFinalize>;

/// What a store operation gives back besides its status: the scanned file (StoreScan), the
/// chunks already verified (StoreOpen), the chunk's bytes (StoreRead); nothing for the others.
using StoreValue = std::variant<std::monostate, FileInfo, ChunkSet, Payload>;
struct StoreResult {
  Status status;
  StoreValue value;

  static StoreResult failed(Error e) { return {Status(std::move(e)), {}}; }
  static StoreResult done(StoreValue v = {}) { return {Status{}, std::move(v)}; }
};

/// A metrics record for the run's event log.
struct Record {
  Event event;
};
/// Something the node's user should hear about (command results, progress, failures).
struct Notify {
  Time time;
  Notice notice;
};

using Effect = std::variant<Connect, Send, Close, StoreScan, StoreOpen, StoreRead, StoreWrite,
                            StoreFinalize, Record, Notify>;

}  // namespace swarmlab

#pragma once
// Every message of the wire protocol (docs/architecture.md) as a typed struct.
//
// Headers are JSON objects with a "type" field. Requests to the tracker carry a request id
// "req" that the reply (or ERROR) echoes. Chunk hashes and chunk data travel in the raw
// payload, never inside JSON. Unknown header fields are ignored so that later versions can
// add fields; missing or mistyped fields are errors that name the field.
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "swarmlab/chunk_set.hpp"
#include "swarmlab/endpoint.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/file_info.hpp"
#include "swarmlab/frame_codec.hpp"
#include "swarmlab/payload.hpp"

namespace swarmlab {

/// 2: owners choke and unchoke downloaders, and send HAVEs (PEER_INTERESTED and the rest).
/// 3: PEER_REJECT_CHUNK. 4: requests, replies and cancels name a block (offset, length) of a chunk.
/// 5: downloaders tell their sources what they hold (PEER_INTERESTED `have`, PEER_HAVE).
constexpr std::uint32_t kProtocolVersion = 5;
/// Longest peer id a node may choose.
constexpr std::size_t kMaxPeerIdBytes = 64;

/// First message on a tracker connection.
struct RequestRegistry {
  std::uint32_t req = 0;
  std::uint32_t version = kProtocolVersion;
  std::string peer_id;  // chosen by the peer, stable across tracker restarts
  Endpoint listen;      // host may be "" or unspecified: "use the address you see me from"
  friend bool operator==(const RequestRegistry&, const RequestRegistry&) = default;
};
struct ReplyRegistry {
  std::uint32_t req = 0;
  std::uint32_t version = kProtocolVersion;
  Endpoint advertised;  // the address other peers will be given for this peer
  friend bool operator==(const ReplyRegistry&, const ReplyRegistry&) = default;
};
/// Announces a file (hashes in the payload) and which of its chunks the sender holds.
struct RequestToPublish {
  std::uint32_t req = 0;
  FileInfo file;
  std::vector<ChunkRange> chunks;  // empty = all chunks
  friend bool operator==(const RequestToPublish&, const RequestToPublish&) = default;
};
struct ReplyToPublish {
  std::uint32_t req = 0;
  std::string name;
  friend bool operator==(const ReplyToPublish&, const ReplyToPublish&) = default;
};
struct RequestFilesList {
  std::uint32_t req = 0;
  friend bool operator==(const RequestFilesList&, const RequestFilesList&) = default;
};
struct FileSummary {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::uint32_t chunks = 0;
  std::uint32_t owners = 0;  // online peers holding at least one chunk
  double availability = 0;   // fraction of chunks held by at least one online peer
  friend bool operator==(const FileSummary&, const FileSummary&) = default;
};
struct ReplyFilesList {
  std::uint32_t req = 0;
  std::vector<FileSummary> files;
  std::uint32_t omitted = 0;  // files left out to keep the header within 64 KiB
  friend bool operator==(const ReplyFilesList&, const ReplyFilesList&) = default;
};
struct RequestFileLocation {
  std::uint32_t req = 0;
  std::string name;
  /// False on a refresh: the asker has the chunk hashes already, and only owners change. A
  /// large file's hash list (6.4 MB for 100 GiB in 512 KiB chunks) then travels once.
  bool hashes = true;
  friend bool operator==(const RequestFileLocation&, const RequestFileLocation&) = default;
};
struct OwnerEntry {
  std::string peer_id;
  Endpoint address;
  std::vector<ChunkRange> chunks;
  friend bool operator==(const OwnerEntry&, const OwnerEntry&) = default;
};
struct ReplyFileLocation {
  std::uint32_t req = 0;
  /// Hashes in the payload; none (chunk_hashes empty) when the request asked for none.
  FileInfo file;
  std::vector<OwnerEntry> owners;
  /// False when owners were left out (a sample of a large swarm), or some entries list only
  /// part of what their owner holds (to fit the frame): what is not listed may still exist.
  bool complete = true;
  friend bool operator==(const ReplyFileLocation&, const ReplyFileLocation&) = default;
};
/// Most ranges one message carries: formatted, they fit a frame's header with room to spare.
/// A larger chunk set travels in several messages (chunk_set.hpp, split_ranges).
constexpr std::size_t kMaxRangesPerMessage = 2048;
/// Batched "I now hold these chunks". No reply unless it is refused.
struct RequestChunksRegister {
  std::string name;
  std::vector<ChunkRange> chunks;
  friend bool operator==(const RequestChunksRegister&, const RequestChunksRegister&) = default;
};
/// "I no longer offer these chunks" (a download that gave up withdraws its partial copy).
struct RequestChunksUnregister {
  std::string name;
  std::vector<ChunkRange> chunks;
  friend bool operator==(const RequestChunksUnregister&, const RequestChunksUnregister&) = default;
};
/// Round-trip probe between peers, and keep-alive towards the tracker.
struct PeerPing {
  std::uint64_t nonce = 0;
  friend bool operator==(const PeerPing&, const PeerPing&) = default;
};
struct PeerPong {
  std::uint64_t nonce = 0;
  friend bool operator==(const PeerPong&, const PeerPong&) = default;
};
/// Bytes [offset, offset + length) of chunk `index`; length 0 means "to the chunk's end". A
/// chunk's SHA-256 covers all of it, so its blocks may come from several owners and are
/// verified together once the last one is in.
struct PeerRequestChunk {
  std::string name;
  std::uint32_t index = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  friend bool operator==(const PeerRequestChunk&, const PeerRequestChunk&) = default;
};
struct PeerReplyChunk {
  std::string name;
  std::uint32_t index = 0;
  std::uint32_t offset = 0;  // where `data` starts within the chunk
  Payload data;              // the block's bytes
  friend bool operator==(const PeerReplyChunk& a, const PeerReplyChunk& b) {
    return a.name == b.name && a.index == b.index && a.offset == b.offset &&
           a.data.size() == b.data.size();
  }
};
/// End-game: the requester no longer wants the block of chunk `index` at `offset` (another
/// owner delivered it), or, without an offset, any block of that chunk.
struct PeerCancelChunk {
  std::string name;
  std::uint32_t index = 0;
  std::optional<std::uint32_t> offset;
  friend bool operator==(const PeerCancelChunk&, const PeerCancelChunk&) = default;
};
/// Downloader -> owner: "you hold chunks of `name` that I still need" (sent once the
/// connection is up, and again when the owner's HAVEs make it useful again). Owners unchoke only
/// interested downloaders.
struct PeerInterested {
  std::string name;
  /// Chunks of the file the downloader holds: owners serve those furthest behind first.
  std::uint32_t have = 0;
  /// The downloader's upload rate in bits/s, if it knows it (0: unknown). A full source
  /// deciding whom to keep connected keeps those that will pass chunks on fastest.
  std::uint64_t upload_bps = 0;
  friend bool operator==(const PeerInterested&, const PeerInterested&) = default;
};
/// Downloader -> owner: "nothing you hold is of use to me any more"; frees its upload slot.
struct PeerNotInterested {
  std::string name;
  friend bool operator==(const PeerNotInterested&, const PeerNotInterested&) = default;
};
/// Owner -> downloader: "ask me now". Requests to an owner that has not unchoked the
/// connection are refused.
struct PeerUnchoke {
  std::string name;
  friend bool operator==(const PeerUnchoke&, const PeerUnchoke&) = default;
};
/// Owner -> downloader: "I will not serve you for now". The owner drops the requests of the
/// connection it has not started to answer, and names them in `dropped`: the downloader asks
/// someone else for those, while the chunks already on their way still arrive.
struct PeerChoke {
  std::string name;
  std::vector<ChunkRange> dropped;
  friend bool operator==(const PeerChoke&, const PeerChoke&) = default;
};
/// Owner -> every interested downloader of `name`: "I now hold chunk `index`" (fresher than the
/// tracker's owner map). Downloader -> every source it is connected to: the same, so the
/// source knows how far along the downloader is (UploadConfig::behind_first).
struct PeerHave {
  std::string name;
  std::uint32_t index = 0;
  friend bool operator==(const PeerHave&, const PeerHave&) = default;
};
/// Owner -> downloader: "not this chunk now, ask me for another". A seed sends it for a chunk
/// it has sent before while some of its chunks have not gone out once: the swarm's first copies
/// should all be different (BitTorrent's Fast extension has the same message).
struct PeerRejectChunk {
  std::string name;
  std::uint32_t index = 0;
  friend bool operator==(const PeerRejectChunk&, const PeerRejectChunk&) = default;
};
struct ErrorMessage {
  std::uint32_t req = 0;  // 0 when not in reply to a request with an id
  ErrorCode code = ErrorCode::InvalidArgument;
  std::string message;
  std::string in_reply_to;  // message type that caused it, if known
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

using Message =
    std::variant<RequestRegistry, ReplyRegistry, RequestToPublish, ReplyToPublish, RequestFilesList,
                 ReplyFilesList, RequestFileLocation, ReplyFileLocation, RequestChunksRegister,
                 RequestChunksUnregister, PeerPing, PeerPong, PeerRequestChunk, PeerReplyChunk,
                 PeerCancelChunk, PeerInterested, PeerNotInterested, PeerUnchoke, PeerChoke,
                 PeerHave, PeerRejectChunk, ErrorMessage>;

/// "REQUEST_REGISTRY", "PEER_REPLY_CHUNK", ...
std::string_view message_type(const Message& m);

/// Header JSON + payload, ready to frame.
RawFrame encode_message(const Message& m);
/// A file's chunk hashes as they travel (32 bytes each, in order): the payload of
/// REQUEST_TO_PUBLISH and REPLY_FILE_LOCATION. The tracker builds it once per file and shares
/// it among replies.
Payload hashes_payload(const FileInfo& f);

/// Parses and validates a frame. Errors name the field and what was wrong with it.
Result<Message> decode_message(const RawFrame& frame);

/// A file summary as the JSON object REPLY_FILES_LIST carries.
nlohmann::json to_json(const FileSummary& f);

/// Best effort: the "type" and "req" of a header, for error replies to a bad frame.
std::pair<std::string, std::uint32_t> peek_type_and_req(const std::string& header);

/// What a JSON library error says, without its "[json.exception.parse_error.101] " tag.
std::string json_error_text(const std::exception& e);

}  // namespace swarmlab

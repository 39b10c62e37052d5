#include "swarmlab/messages.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "swarmlab/swarm_name.hpp"

namespace swarmlab {
namespace {

using json = nlohmann::json;

// Decoding failures unwind to decode_message() as this; it never leaves this file.
struct DecodeFailure {
  Error error;
};

[[noreturn]] void fail(ErrorCode code, std::string message) {
  throw DecodeFailure{Error{code, std::move(message)}};
}

const char* json_type_name(const json& v) {
  return v.type_name();
}

// Reads typed, validated fields out of a header object.
class Fields {
 public:
  explicit Fields(const json& obj, std::string prefix = {})
      : obj_(obj), prefix_(std::move(prefix)) {}

  const json& require(const char* key) const {
    const auto it = obj_.find(key);
    if (it == obj_.end()) fail(ErrorCode::MissingField, "missing field \"" + name(key) + "\"");
    return *it;
  }
  bool has(const char* key) const { return obj_.contains(key); }

  std::uint64_t uint(const char* key, std::uint64_t max) const {
    const auto& v = require(key);
    if (!v.is_number_unsigned()) {
      if (v.is_number_integer()) fail(ErrorCode::OutOfRange, name(key) + ": must not be negative");
      fail(ErrorCode::WrongType,
           name(key) + ": expected an unsigned integer, got " + json_type_name(v));
    }
    const auto x = v.get<std::uint64_t>();
    if (x > max) {
      fail(ErrorCode::OutOfRange,
           name(key) + ": " + std::to_string(x) + " is larger than " + std::to_string(max));
    }
    return x;
  }
  std::uint32_t u32(const char* key, std::uint64_t max = UINT32_MAX) const {
    return static_cast<std::uint32_t>(uint(key, max));
  }
  std::uint32_t optional_u32(const char* key, std::uint32_t fallback) const {
    return has(key) ? u32(key) : fallback;
  }
  bool boolean(const char* key) const {
    const auto& v = require(key);
    if (!v.is_boolean())
      fail(ErrorCode::WrongType, name(key) + ": expected true or false, got " + json_type_name(v));
    return v.get<bool>();
  }
  double number(const char* key) const {
    const auto& v = require(key);
    if (!v.is_number())
      fail(ErrorCode::WrongType, name(key) + ": expected a number, got " + json_type_name(v));
    return v.get<double>();
  }
  std::string string(const char* key, std::size_t max_bytes) const {
    const auto& v = require(key);
    if (!v.is_string())
      fail(ErrorCode::WrongType, name(key) + ": expected a string, got " + json_type_name(v));
    auto s = v.get<std::string>();
    if (s.size() > max_bytes) {
      fail(ErrorCode::OutOfRange, name(key) + ": " + std::to_string(s.size()) +
                                      " bytes, more than the limit of " +
                                      std::to_string(max_bytes));
    }
    return s;
  }
  std::string swarm_name(const char* key) const {
    auto s = string(key, kMaxNameBytes + 1);
    if (auto st = validate_swarm_name(s, name(key)); !st) throw DecodeFailure{st.error()};
    return s;
  }
  std::vector<ChunkRange> ranges(const char* key) const {
    auto text = string(key, kMaxHeaderBytes);
    auto r = parse_chunk_ranges(text, name(key));
    if (!r) throw DecodeFailure{r.error()};
    return std::move(r).value();
  }
  Endpoint endpoint(const char* key) const {
    const auto& v = require(key);
    if (!v.is_object())
      fail(ErrorCode::WrongType, name(key) + ": expected an object, got " + json_type_name(v));
    Fields f(v, name(key) + ".");
    Endpoint e;
    e.host = f.string("host", 255);
    e.port = static_cast<std::uint16_t>(f.uint("port", 65535));
    return e;
  }
  Digest digest(const char* key) const {
    auto hex = string(key, 64);
    auto d = digest_from_hex(hex);
    if (!d) fail(ErrorCode::WrongType, name(key) + ": expected 64 hex digits");
    return *d;
  }
  const json& array(const char* key, std::size_t max_items) const {
    const auto& v = require(key);
    if (!v.is_array())
      fail(ErrorCode::WrongType, name(key) + ": expected an array, got " + json_type_name(v));
    if (v.size() > max_items) fail(ErrorCode::OutOfRange, name(key) + ": too many items");
    return v;
  }
  std::string name(const char* key) const { return prefix_ + key; }

 private:
  const json& obj_;
  std::string prefix_;
};

json endpoint_json(const Endpoint& e) {
  return {{"host", e.host}, {"port", e.port}};
}

// FileInfo: metadata in the header, the chunk hashes (32 bytes each) as the payload.
void put_file_info(json& j, const FileInfo& f) {
  j["name"] = f.name;
  j["size"] = f.size;
  j["chunk_size"] = f.chunk_size;
  j["file_hash"] = to_hex(f.file_hash);
}

}  // namespace

Payload hashes_payload(const FileInfo& f) {
  std::vector<std::uint8_t> bytes(f.chunk_hashes.size() * 32);
  for (std::size_t i = 0; i < f.chunk_hashes.size(); ++i) {
    std::memcpy(bytes.data() + 32 * i, f.chunk_hashes[i].data(), 32);
  }
  return Payload::from_vector(std::move(bytes));
}

namespace {

// A file's name and sizes without its hash list (a location refresh): checked like a whole
// FileInfo, except for the hashes.
FileInfo read_file_summary(const Fields& f) {
  FileInfo info;
  info.name = f.swarm_name("name");
  info.size = f.uint("size", UINT64_MAX / 2);
  info.chunk_size = f.u32("chunk_size", kMaxChunkSize);
  info.file_hash = f.digest("file_hash");
  if (auto s = info.validate_sizes("file"); !s) throw DecodeFailure{s.error()};
  return info;
}

// The same with the hash list from the payload, checked against the sizes and the file hash.
FileInfo read_file_info(const Fields& f, const Payload& payload) {
  FileInfo info = read_file_summary(f);
  if (payload.is_virtual()) fail(ErrorCode::MalformedFrame, "chunk hashes must be real bytes");
  if (payload.size() % 32 != 0) {
    fail(ErrorCode::MalformedFrame, "payload: chunk hash list of " +
                                        std::to_string(payload.size()) +
                                        " bytes is not a multiple of 32");
  }
  const auto bytes = payload.bytes();
  info.chunk_hashes.resize(payload.size() / 32);
  for (std::size_t i = 0; i < info.chunk_hashes.size(); ++i) {
    std::memcpy(info.chunk_hashes[i].data(), bytes.data() + 32 * i, 32);
  }
  if (auto s = info.validate("file"); !s) throw DecodeFailure{s.error()};
  return info;
}

template <typename T>
struct Tag;

#define SWARMLAB_MESSAGE_TYPE(T, NAME)             \
  template <>                                      \
  struct Tag<T> {                                  \
    static constexpr std::string_view name = NAME; \
  };
SWARMLAB_MESSAGE_TYPE(RequestRegistry, "REQUEST_REGISTRY")
SWARMLAB_MESSAGE_TYPE(ReplyRegistry, "REPLY_REGISTRY")
SWARMLAB_MESSAGE_TYPE(RequestToPublish, "REQUEST_TO_PUBLISH")
SWARMLAB_MESSAGE_TYPE(ReplyToPublish, "REPLY_TO_PUBLISH")
SWARMLAB_MESSAGE_TYPE(RequestFilesList, "REQUEST_FILES_LIST")
SWARMLAB_MESSAGE_TYPE(ReplyFilesList, "REPLY_FILES_LIST")
SWARMLAB_MESSAGE_TYPE(RequestFileLocation, "REQUEST_FILE_LOCATION")
SWARMLAB_MESSAGE_TYPE(ReplyFileLocation, "REPLY_FILE_LOCATION")
SWARMLAB_MESSAGE_TYPE(RequestChunksRegister, "REQUEST_CHUNKS_REGISTER")
SWARMLAB_MESSAGE_TYPE(RequestChunksUnregister, "REQUEST_CHUNKS_UNREGISTER")
SWARMLAB_MESSAGE_TYPE(PeerPing, "PEER_PING")
SWARMLAB_MESSAGE_TYPE(PeerPong, "PEER_PONG")
SWARMLAB_MESSAGE_TYPE(PeerRequestChunk, "PEER_REQUEST_CHUNK")
SWARMLAB_MESSAGE_TYPE(PeerReplyChunk, "PEER_REPLY_CHUNK")
SWARMLAB_MESSAGE_TYPE(PeerCancelChunk, "PEER_CANCEL_CHUNK")
SWARMLAB_MESSAGE_TYPE(PeerInterested, "PEER_INTERESTED")
SWARMLAB_MESSAGE_TYPE(PeerNotInterested, "PEER_NOT_INTERESTED")
SWARMLAB_MESSAGE_TYPE(PeerUnchoke, "PEER_UNCHOKE")
SWARMLAB_MESSAGE_TYPE(PeerChoke, "PEER_CHOKE")
SWARMLAB_MESSAGE_TYPE(PeerHave, "PEER_HAVE")
SWARMLAB_MESSAGE_TYPE(PeerRejectChunk, "PEER_REJECT_CHUNK")
SWARMLAB_MESSAGE_TYPE(ErrorMessage, "ERROR")
#undef SWARMLAB_MESSAGE_TYPE

// ---- encoding: header fields and payload per message -------------------------------------

Payload encode_fields(json& j, const RequestRegistry& m) {
  j["req"] = m.req;
  j["version"] = m.version;
  j["peer_id"] = m.peer_id;
  j["listen"] = endpoint_json(m.listen);
  return {};
}
Payload encode_fields(json& j, const ReplyRegistry& m) {
  j["req"] = m.req;
  j["version"] = m.version;
  j["advertised"] = endpoint_json(m.advertised);
  return {};
}
Payload encode_fields(json& j, const RequestToPublish& m) {
  j["req"] = m.req;
  put_file_info(j, m.file);
  if (!m.chunks.empty()) j["chunks"] = format_chunk_ranges(m.chunks);
  return hashes_payload(m.file);
}
Payload encode_fields(json& j, const ReplyToPublish& m) {
  j["req"] = m.req;
  j["name"] = m.name;
  return {};
}
Payload encode_fields(json& j, const RequestFilesList& m) {
  j["req"] = m.req;
  return {};
}
Payload encode_fields(json& j, const ReplyFilesList& m) {
  j["req"] = m.req;
  if (m.omitted > 0) j["omitted"] = m.omitted;
  auto& files = j["files"] = json::array();
  for (const auto& f : m.files) files.push_back(to_json(f));
  return {};
}
Payload encode_fields(json& j, const RequestFileLocation& m) {
  j["req"] = m.req;
  j["name"] = m.name;
  if (!m.hashes) j["hashes"] = false;
  return {};
}
Payload encode_fields(json& j, const ReplyFileLocation& m) {
  j["req"] = m.req;
  put_file_info(j, m.file);
  if (!m.complete) j["complete"] = false;
  auto& owners = j["owners"] = json::array();
  for (const auto& o : m.owners) {
    owners.push_back({{"peer_id", o.peer_id},
                      {"address", endpoint_json(o.address)},
                      {"chunks", format_chunk_ranges(o.chunks)}});
  }
  // No hashes (a refresh): no payload. A file has at least one chunk, so an empty payload
  // cannot be mistaken for a hash list.
  return hashes_payload(m.file);
}
Payload encode_fields(json& j, const RequestChunksRegister& m) {
  j["name"] = m.name;
  j["chunks"] = format_chunk_ranges(m.chunks);
  return {};
}
Payload encode_fields(json& j, const RequestChunksUnregister& m) {
  j["name"] = m.name;
  j["chunks"] = format_chunk_ranges(m.chunks);
  return {};
}
Payload encode_fields(json& j, const PeerPing& m) {
  j["nonce"] = m.nonce;
  return {};
}
Payload encode_fields(json& j, const PeerPong& m) {
  j["nonce"] = m.nonce;
  return {};
}
Payload encode_fields(json& j, const PeerRequestChunk& m) {
  j["name"] = m.name;
  j["index"] = m.index;
  j["offset"] = m.offset;
  j["length"] = m.length;
  return {};
}
Payload encode_fields(json& j, const PeerReplyChunk& m) {
  j["name"] = m.name;
  j["index"] = m.index;
  j["offset"] = m.offset;
  return m.data;
}
Payload encode_fields(json& j, const PeerCancelChunk& m) {
  j["name"] = m.name;
  j["index"] = m.index;
  if (m.offset) j["offset"] = *m.offset;
  return {};
}
template <typename M>
requires(std::is_same_v<M, PeerNotInterested> || std::is_same_v<M, PeerUnchoke>) Payload
    encode_fields(json& j, const M& m) {
  j["name"] = m.name;
  return {};
}
Payload encode_fields(json& j, const PeerInterested& m) {
  j["name"] = m.name;
  if (m.have > 0) j["have"] = m.have;
  if (m.upload_bps > 0) j["upload_bps"] = m.upload_bps;
  return {};
}
Payload encode_fields(json& j, const PeerChoke& m) {
  j["name"] = m.name;
  j["dropped"] = format_chunk_ranges(m.dropped);
  return {};
}
Payload encode_fields(json& j, const PeerHave& m) {
  j["name"] = m.name;
  j["index"] = m.index;
  return {};
}
Payload encode_fields(json& j, const PeerRejectChunk& m) {
  j["name"] = m.name;
  j["index"] = m.index;
  return {};
}
Payload encode_fields(json& j, const ErrorMessage& m) {
  j["req"] = m.req;
  j["code"] = to_string(m.code);
  j["message"] = m.message;
  if (!m.in_reply_to.empty()) j["in_reply_to"] = m.in_reply_to;
  return {};
}

// ---- decoding ------------------------------------------------------------------------------

void expect_no_payload(const RawFrame& frame, std::string_view type) {
  if (!frame.payload.empty()) {
    fail(ErrorCode::MalformedFrame, std::string(type) + " carries no payload, got " +
                                        std::to_string(frame.payload.size()) + " bytes");
  }
}

Message decode_typed(std::string_view type, const Fields& f, const RawFrame& frame) {
  if (type != Tag<RequestToPublish>::name && type != Tag<ReplyFileLocation>::name &&
      type != Tag<PeerReplyChunk>::name) {
    expect_no_payload(frame, type);
  }
  if (type == Tag<RequestRegistry>::name) {
    RequestRegistry m;
    m.req = f.u32("req");
    m.version = f.u32("version");
    m.peer_id = f.string("peer_id", kMaxPeerIdBytes);
    if (auto s = validate_swarm_name(m.peer_id, "peer_id"); !s) throw DecodeFailure{s.error()};
    m.listen = f.endpoint("listen");
    return m;
  }
  if (type == Tag<ReplyRegistry>::name) {
    ReplyRegistry m;
    m.req = f.u32("req");
    m.version = f.u32("version");
    m.advertised = f.endpoint("advertised");
    return m;
  }
  if (type == Tag<RequestToPublish>::name) {
    RequestToPublish m;
    m.req = f.u32("req");
    m.file = read_file_info(f, frame.payload);
    if (f.has("chunks")) {
      m.chunks = f.ranges("chunks");
      if (auto s = ChunkSet::from_ranges(m.chunks, m.file.chunk_count()); !s) {
        throw DecodeFailure{s.error()};
      }
    }
    return m;
  }
  if (type == Tag<ReplyToPublish>::name) {
    return ReplyToPublish{f.u32("req"), f.swarm_name("name")};
  }
  if (type == Tag<RequestFilesList>::name) return RequestFilesList{f.u32("req")};
  if (type == Tag<ReplyFilesList>::name) {
    ReplyFilesList m;
    m.req = f.u32("req");
    m.omitted = f.optional_u32("omitted", 0);
    const auto& arr = f.array("files", 100000);
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string prefix = "files[" + std::to_string(i) + "].";
      if (!arr[i].is_object()) fail(ErrorCode::WrongType, prefix + ": expected an object");
      Fields g(arr[i], prefix);
      FileSummary s;
      s.name = g.swarm_name("name");
      s.size = g.uint("size", UINT64_MAX / 2);
      s.chunk_size = g.u32("chunk_size", kMaxChunkSize);
      s.chunks = g.u32("chunks");
      s.owners = g.u32("owners");
      s.availability = g.number("availability");
      if (s.availability < 0 || s.availability > 1)
        fail(ErrorCode::OutOfRange, g.name("availability") + ": must be within 0..1");
      m.files.push_back(std::move(s));
    }
    return m;
  }
  if (type == Tag<RequestFileLocation>::name) {
    RequestFileLocation m{f.u32("req"), f.swarm_name("name")};
    if (f.has("hashes")) m.hashes = f.boolean("hashes");
    return m;
  }
  if (type == Tag<ReplyFileLocation>::name) {
    ReplyFileLocation m;
    m.req = f.u32("req");
    m.file = frame.payload.empty() ? read_file_summary(f) : read_file_info(f, frame.payload);
    if (f.has("complete")) m.complete = f.boolean("complete");
    const auto chunk_count = m.file.chunks_by_size();
    const auto& arr = f.array("owners", 100000);
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string prefix = "owners[" + std::to_string(i) + "].";
      if (!arr[i].is_object()) fail(ErrorCode::WrongType, prefix + ": expected an object");
      Fields g(arr[i], prefix);
      OwnerEntry o;
      o.peer_id = g.string("peer_id", kMaxPeerIdBytes);
      o.address = g.endpoint("address");
      o.chunks = g.ranges("chunks");
      if (auto s = ChunkSet::from_ranges(o.chunks, chunk_count); !s) {
        fail(s.error().code, prefix + "chunks: " + s.error().message);
      }
      m.owners.push_back(std::move(o));
    }
    return m;
  }
  if (type == Tag<RequestChunksRegister>::name) {
    RequestChunksRegister m;
    m.name = f.swarm_name("name");
    m.chunks = f.ranges("chunks");
    return m;
  }
  if (type == Tag<RequestChunksUnregister>::name) {
    RequestChunksUnregister m;
    m.name = f.swarm_name("name");
    m.chunks = f.ranges("chunks");
    return m;
  }
  if (type == Tag<PeerPing>::name) return PeerPing{f.uint("nonce", UINT64_MAX)};
  if (type == Tag<PeerPong>::name) return PeerPong{f.uint("nonce", UINT64_MAX)};
  if (type == Tag<PeerRequestChunk>::name) {
    return PeerRequestChunk{f.swarm_name("name"), f.u32("index"), f.optional_u32("offset", 0),
                            f.optional_u32("length", 0)};
  }
  if (type == Tag<PeerReplyChunk>::name) {
    PeerReplyChunk m;
    m.name = f.swarm_name("name");
    m.index = f.u32("index");
    m.offset = f.optional_u32("offset", 0);
    m.data = frame.payload;
    return m;
  }
  if (type == Tag<PeerCancelChunk>::name) {
    PeerCancelChunk m{f.swarm_name("name"), f.u32("index"), std::nullopt};
    if (f.has("offset")) m.offset = f.u32("offset");
    return m;
  }
  if (type == Tag<PeerInterested>::name) {
    return PeerInterested{f.swarm_name("name"), f.optional_u32("have", 0),
                          f.has("upload_bps") ? f.uint("upload_bps", UINT64_MAX) : 0};
  }
  if (type == Tag<PeerNotInterested>::name) return PeerNotInterested{f.swarm_name("name")};
  if (type == Tag<PeerUnchoke>::name) return PeerUnchoke{f.swarm_name("name")};
  if (type == Tag<PeerChoke>::name) return PeerChoke{f.swarm_name("name"), f.ranges("dropped")};
  if (type == Tag<PeerHave>::name) return PeerHave{f.swarm_name("name"), f.u32("index")};
  if (type == Tag<PeerRejectChunk>::name) {
    return PeerRejectChunk{f.swarm_name("name"), f.u32("index")};
  }
  if (type == Tag<ErrorMessage>::name) {
    ErrorMessage m;
    m.req = f.optional_u32("req", 0);
    m.code = error_code_from_string(f.string("code", 64));
    m.message = f.string("message", 4096);
    if (f.has("in_reply_to")) m.in_reply_to = f.string("in_reply_to", 64);
    return m;
  }
  std::string shown(type.substr(0, 64));
  fail(ErrorCode::UnknownMessage, "unknown message type \"" + shown + "\"");
}

}  // namespace

nlohmann::json to_json(const FileSummary& f) {
  return {{"name", f.name},     {"size", f.size},     {"chunk_size", f.chunk_size},
          {"chunks", f.chunks}, {"owners", f.owners}, {"availability", f.availability}};
}

std::string_view message_type(const Message& m) {
  return std::visit([](const auto& x) { return Tag<std::decay_t<decltype(x)>>::name; }, m);
}

RawFrame encode_message(const Message& m) {
  json j = json::object();
  j["type"] = message_type(m);
  Payload payload = std::visit([&](const auto& x) { return encode_fields(j, x); }, m);
  // Invalid UTF-8 is replaced rather than thrown on: encoding must never fail, and names
  // are validated before they get here.
  return RawFrame{j.dump(-1, ' ', false, json::error_handler_t::replace), std::move(payload)};
}

Result<Message> decode_message(const RawFrame& frame) {
  if (frame.header.size() > kMaxHeaderBytes) {
    return make_error(ErrorCode::FrameTooLarge, "header exceeds 65536 bytes");
  }
  // nlohmann's parser rejects ill-formed UTF-8 inside strings, so names arrive valid.
  const json j = json::parse(frame.header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    const bool utf8 = is_valid_utf8(frame.header);
    return make_error(utf8 ? ErrorCode::MalformedFrame : ErrorCode::BadUtf8,
                      utf8 ? "header is not valid JSON" : "header is not valid UTF-8");
  }
  if (!j.is_object()) {
    return make_error(ErrorCode::WrongType,
                      std::string("header: expected a JSON object, got ") + j.type_name());
  }
  try {
    Fields f(j);
    const auto type = f.string("type", 64);
    return decode_typed(type, f, frame);
  } catch (const DecodeFailure& e) {
    return e.error;
  } catch (const json::exception& e) {
    return make_error(ErrorCode::MalformedFrame, "header: " + json_error_text(e));
  }
}

std::string json_error_text(const std::exception& e) {
  std::string_view what = e.what();
  if (what.starts_with("[json.exception.")) {
    if (const auto end = what.find("] "); end != std::string_view::npos)
      what.remove_prefix(end + 2);
  }
  return std::string(what);
}

std::pair<std::string, std::uint32_t> peek_type_and_req(const std::string& header) {
  const json j = json::parse(header, nullptr, false);
  std::pair<std::string, std::uint32_t> out{"", 0};
  if (!j.is_object()) return out;
  if (auto t = j.find("type"); t != j.end() && t->is_string()) {
    out.first = t->get<std::string>().substr(0, 64);
  }
  if (auto r = j.find("req");
      r != j.end() && r->is_number_unsigned() && r->get<std::uint64_t>() <= UINT32_MAX) {
    out.second = r->get<std::uint32_t>();
  }
  return out;
}

}  // namespace swarmlab

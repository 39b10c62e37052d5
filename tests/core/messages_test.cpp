#include "swarmlab/messages.hpp"

#include <gtest/gtest.h>

namespace swarmlab {
namespace {

FileInfo sample_file(std::uint32_t chunks = 3) {
  std::vector<Digest> hashes;
  for (std::uint32_t i = 0; i < chunks; ++i) hashes.push_back(sha256(std::to_string(i)));
  return make_file_info("data.bin", std::uint64_t{chunks} * 4096 - 100, 4096, hashes);
}

// Encode, frame, decode through a byte stream, and compare.
Message round_trip(const Message& m) {
  const auto bytes = encode_frame_bytes(encode_message(m));
  FrameDecoder d;
  EXPECT_TRUE(d.feed(bytes).ok());
  auto frame = d.next();
  EXPECT_TRUE(frame.has_value());
  auto decoded = decode_message(*frame);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().describe());
  return decoded.ok() ? *decoded : Message{};
}

FileInfo without_hashes(FileInfo f) {
  f.chunk_hashes.clear();
  return f;
}

TEST(Messages, EveryMessageRoundTrips) {
  const std::vector<Message> all{
      RequestRegistry{7, kProtocolVersion, "peer-1", {"", 6881}},
      ReplyRegistry{7, kProtocolVersion, {"10.0.0.5", 6881}},
      RequestToPublish{8, sample_file(), {}},
      RequestToPublish{9, sample_file(), {{0, 0}, {2, 2}}},
      ReplyToPublish{8, "data.bin"},
      RequestFilesList{10},
      ReplyFilesList{10, {{"a", 100, 4096, 1, 2, 1.0}, {"b", 9000, 4096, 3, 1, 0.5}}, 0},
      ReplyFilesList{11, {}, 7},
      RequestFileLocation{11, "data.bin"},
      RequestFileLocation{12, "data.bin", false},
      ReplyFileLocation{
          11, sample_file(), {{"p1", {"10.0.0.1", 1}, {{0, 2}}}, {"p2", {"::1", 2}, {{1, 1}}}}},
      ReplyFileLocation{
          12, without_hashes(sample_file()), {{"p1", {"10.0.0.1", 1}, {{0, 2}}}}, false},
      RequestChunksRegister{"data.bin", {{0, 1}}},
      RequestChunksUnregister{"data.bin", {{0, 0}, {2, 2}}},
      PeerPing{0xFFFFFFFFFFFFFFFFull},
      PeerPong{42},
      PeerRequestChunk{"data.bin", 2},
      PeerRequestChunk{"data.bin", 2, 65536, 16384},
      PeerReplyChunk{"data.bin", 2, 0, Payload::copy_of(std::vector<std::uint8_t>(3996, 9))},
      PeerReplyChunk{"data.bin", 2, 131072, Payload::copy_of(std::vector<std::uint8_t>(10, 9))},
      PeerCancelChunk{"data.bin", 1, std::nullopt},
      PeerCancelChunk{"data.bin", 1, 65536},
      PeerInterested{"data.bin"},
      PeerInterested{"data.bin", 17},
      PeerInterested{"data.bin", 17, 40'000'000},
      PeerNotInterested{"data.bin"},
      PeerUnchoke{"data.bin"},
      PeerChoke{"data.bin", {}},
      PeerChoke{"data.bin", {{1, 1}, {4, 6}}},
      PeerHave{"data.bin", 3},
      PeerRejectChunk{"data.bin", 9},
      ErrorMessage{11, ErrorCode::NotFound, "no file named \"x\"", "REQUEST_FILE_LOCATION"},
  };
  for (const auto& m : all) {
    const auto back = round_trip(m);
    EXPECT_EQ(back, m) << message_type(m);
    EXPECT_EQ(message_type(back), message_type(m));
  }
}

TEST(Messages, ChunkDataTravelsAsRawPayload) {
  PeerReplyChunk m{"x", 0, 0, Payload::copy_of(std::vector<std::uint8_t>(4096, 0x5a))};
  const auto raw = encode_message(m);
  EXPECT_EQ(raw.payload.size(), 4096u);
  EXPECT_LT(raw.header.size(), 100u);
  auto back = std::get<PeerReplyChunk>(round_trip(m));
  EXPECT_EQ(back.data.bytes()[4095], 0x5a);
}

struct BadCase {
  std::string header;
  ErrorCode code;
  std::string mentions;
};

TEST(Messages, MalformedHeadersGiveTheRightError) {
  const std::vector<BadCase> cases{
      {"not json", ErrorCode::MalformedFrame, "JSON"},
      {"[1,2]", ErrorCode::WrongType, "object"},
      {"{}", ErrorCode::MissingField, "\"type\""},
      {R"({"type":5})", ErrorCode::WrongType, "type"},
      {R"({"type":"HELLO"})", ErrorCode::UnknownMessage, "HELLO"},
      {R"({"type":"PEER_PING"})", ErrorCode::MissingField, "nonce"},
      {R"({"type":"PEER_PING","nonce":"7"})", ErrorCode::WrongType, "nonce"},
      {R"({"type":"PEER_PING","nonce":-1})", ErrorCode::OutOfRange, "nonce"},
      {R"({"type":"PEER_INTERESTED","name":"a","upload_bps":-8})", ErrorCode::OutOfRange,
       "upload_bps"},
      {R"({"type":"PEER_INTERESTED","name":"a","upload_bps":"fast"})", ErrorCode::WrongType,
       "upload_bps"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"a","index":1.5})", ErrorCode::WrongType, "index"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"a","index":4294967296})", ErrorCode::OutOfRange,
       "index"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"../../etc/passwd","index":0})", ErrorCode::BadName,
       "name"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"/etc/passwd","index":0})", ErrorCode::BadName,
       "separator"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"a\\b","index":0})", ErrorCode::BadName, "separator"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"a\u0000b","index":0})", ErrorCode::BadName, "NUL"},
      {R"({"type":"PEER_REQUEST_CHUNK","name":"","index":0})", ErrorCode::BadName, "empty"},
      {"{\"type\":\"PEER_REQUEST_CHUNK\",\"name\":\"" + std::string(300, 'x') + "\",\"index\":0}",
       ErrorCode::OutOfRange, "name"},
      {"{\"type\":\"PEER_PING\",\"nonce\":1,\"x\":\"\xff\xfe\"}", ErrorCode::BadUtf8, "UTF-8"},
      {R"({"type":"REQUEST_CHUNKS_REGISTER","name":"a","chunks":"0-5,3-9"})",
       ErrorCode::BadChunkSet, "overlap"},
      {R"({"type":"REQUEST_CHUNKS_REGISTER","name":"a","chunks":[0,1]})", ErrorCode::WrongType,
       "chunks"},
      {R"({"type":"REQUEST_REGISTRY","req":1,"version":1,"peer_id":"p","listen":"x:1"})",
       ErrorCode::WrongType, "listen"},
      {R"({"type":"REQUEST_REGISTRY","req":1,"version":1,"peer_id":"p","listen":{"host":"h","port":70000}})",
       ErrorCode::OutOfRange, "listen.port"},
      {R"({"type":"REQUEST_FILES_LIST"})", ErrorCode::MissingField, "req"},
  };
  for (const auto& c : cases) {
    auto r = decode_message(RawFrame{c.header, {}});
    ASSERT_FALSE(r.ok()) << c.header;
    EXPECT_EQ(r.error().code, c.code) << c.header << " -> " << r.error().describe();
    EXPECT_NE(r.error().message.find(c.mentions), std::string::npos)
        << c.header << " -> " << r.error().describe();
  }
}

TEST(Messages, PublishValidatesHashesAndChunks) {
  RequestToPublish good{1, sample_file(3), {}};
  auto raw = encode_message(good);
  // Hash list not a multiple of 32 bytes.
  auto cut = raw;
  cut.payload = Payload::copy_of(std::vector<std::uint8_t>(95, 0));
  EXPECT_EQ(decode_message(cut).error().code, ErrorCode::MalformedFrame);
  // Wrong number of hashes for the size.
  auto few = raw;
  few.payload = Payload::copy_of(std::vector<std::uint8_t>(64, 0));
  auto r = decode_message(few);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("file.chunk_hashes"), std::string::npos);
  // Chunk set outside the file.
  RequestToPublish partial{1, sample_file(3), {{0, 5}}};
  auto out_of_range = decode_message(encode_message(partial));
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_EQ(out_of_range.error().code, ErrorCode::BadChunkSet);
  // Tampered file hash.
  auto tampered = sample_file(3);
  tampered.file_hash[3] ^= 0x10;
  EXPECT_EQ(decode_message(encode_message(RequestToPublish{1, tampered, {}})).error().code,
            ErrorCode::HashMismatch);
  // Payload on a message that has none.
  RawFrame ping{R"({"type":"PEER_PING","nonce":1})",
                Payload::copy_of(std::vector<std::uint8_t>(1))};
  EXPECT_EQ(decode_message(ping).error().code, ErrorCode::MalformedFrame);
}

TEST(Messages, PeekFindsTypeAndRequestId) {
  auto [type, req] = peek_type_and_req(R"({"type":"REQUEST_FILE_LOCATION","req":12})");
  EXPECT_EQ(type, "REQUEST_FILE_LOCATION");
  EXPECT_EQ(req, 12u);
  EXPECT_EQ(peek_type_and_req("garbage").first, "");
}

TEST(Messages, UnknownErrorCodeDegradesGracefully) {
  auto r = decode_message(RawFrame{R"({"type":"ERROR","code":"Martian","message":"?"})", {}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<ErrorMessage>(*r).code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace swarmlab

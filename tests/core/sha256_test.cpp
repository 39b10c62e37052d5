#include "swarmlab/sha256.hpp"

#include <gtest/gtest.h>

#include "swarmlab/file_info.hpp"

namespace swarmlab {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(to_hex(sha256(std::string_view(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update(std::span(reinterpret_cast<const std::uint8_t*>("a"), 1));
  h.update(std::span(reinterpret_cast<const std::uint8_t*>("bc"), 2));
  EXPECT_EQ(h.finish(), sha256(std::string_view("abc")));
}

TEST(Sha256, HexRoundTrip) {
  const auto d = sha256(std::string_view("swarm"));
  EXPECT_EQ(digest_from_hex(to_hex(d)), d);
  EXPECT_FALSE(digest_from_hex("zz").has_value());
  EXPECT_FALSE(digest_from_hex(std::string(64, 'g')).has_value());
}

TEST(FileInfo, FileHashIsHashOfChunkHashes) {
  std::vector<Digest> chunks{sha256(std::string_view("one")), sha256(std::string_view("two"))};
  auto info = make_file_info("f", 5000, 4096, chunks);
  std::vector<std::uint8_t> cat;
  for (const auto& c : chunks) cat.insert(cat.end(), c.begin(), c.end());
  EXPECT_EQ(info.file_hash, sha256(cat));
  EXPECT_TRUE(info.validate().ok());
  EXPECT_EQ(info.chunk_length(0), 4096u);
  EXPECT_EQ(info.chunk_length(1), 904u);
  info.file_hash[0] ^= 1;
  EXPECT_EQ(info.validate().error().code, ErrorCode::HashMismatch);
}

TEST(FileInfo, RejectsInconsistentSizes) {
  auto info = make_file_info("f", 10000, 4096, {sha256(std::string_view("x"))});
  auto s = info.validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("file.chunk_hashes"), std::string::npos);
  EXPECT_FALSE(make_file_info("f", 0, 4096, {}).validate().ok());
  EXPECT_FALSE(make_file_info("f", 10, 100, {sha256(std::string_view("x"))}).validate().ok());
}

}  // namespace
}  // namespace swarmlab

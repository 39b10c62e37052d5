#pragma once
// SHA-256 on OpenSSL's EVP interface.
//
// Chunk hash: SHA-256 of the chunk's bytes.
// Whole-file hash: SHA-256 of the concatenation of the 32-byte chunk hashes, in order
// (a hash list, like BitTorrent v1's info hash over its piece hashes). It binds the chunk
// list to one value that can be checked before a download starts, and needs no second
// pass over the file: every chunk has already been checked against its own hash.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace swarmlab {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(std::span<const std::uint8_t> data);
Digest sha256(std::string_view data);

/// The whole-file hash as defined above.
Digest file_hash_from_chunks(std::span<const Digest> chunk_hashes);

std::string to_hex(const Digest& d);
std::optional<Digest> digest_from_hex(std::string_view hex);

/// Incremental hasher for callers that feed data in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> data);
  Digest finish();  // the hasher may be reused after finish()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace swarmlab

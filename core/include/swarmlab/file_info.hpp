#pragma once
// What the swarm knows about one shared file.
#include <cstdint>
#include <string>
#include <vector>

#include "swarmlab/error.hpp"
#include "swarmlab/sha256.hpp"

namespace swarmlab {

struct FileInfo {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::vector<Digest> chunk_hashes;  // one per chunk, in order
  Digest file_hash{};                // file_hash_from_chunks(chunk_hashes)

  std::uint32_t chunk_count() const { return static_cast<std::uint32_t>(chunk_hashes.size()); }
  /// Length of chunk `index`: chunk_size except for a shorter last chunk.
  std::uint32_t chunk_length(std::uint32_t index) const;
  /// Byte offset of chunk `index` in the file.
  std::uint64_t chunk_offset(std::uint32_t index) const {
    return static_cast<std::uint64_t>(index) * chunk_size;
  }
  /// Length of the block [offset, offset + length) of chunk `index` (length 0: to the chunk's
  /// end); 0 if the chunk does not exist or the block does not lie within it.
  std::uint32_t block_length(std::uint32_t index, std::uint32_t offset, std::uint32_t length) const;
  /// Checks name rules, sizes, chunk count against size, and the file hash against the
  /// chunk hashes. `field` prefixes error messages ("file").
  Status validate(std::string_view field = "file") const;
  /// The same checks without the hashes: name, chunk size, size and chunk count.
  Status validate_sizes(std::string_view field = "file") const;
  /// Chunks of a file of this size (chunk_count() counts the hashes, which a summary lacks).
  std::uint32_t chunks_by_size() const;

  friend bool operator==(const FileInfo&, const FileInfo&) = default;
};

/// Number of chunks a file of `size` bytes has with chunks of `chunk_size`.
std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size);

/// Builds a FileInfo from chunk hashes (computing the file hash).
FileInfo make_file_info(std::string name, std::uint64_t size, std::uint32_t chunk_size,
                        std::vector<Digest> chunk_hashes);

}  // namespace swarmlab

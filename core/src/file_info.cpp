#include "swarmlab/file_info.hpp"

#include <algorithm>

#include "swarmlab/frame_codec.hpp"
#include "swarmlab/swarm_name.hpp"

namespace swarmlab {

std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size) {
  return chunk_size == 0 ? 0 : (size + chunk_size - 1) / chunk_size;
}

std::uint32_t FileInfo::chunks_by_size() const {
  return static_cast<std::uint32_t>(
      std::min<std::uint64_t>(chunk_count_for(size, chunk_size), UINT32_MAX));
}

std::uint32_t FileInfo::chunk_length(std::uint32_t index) const {
  const std::uint64_t start = chunk_offset(index);
  if (start >= size) return 0;
  const std::uint64_t left = size - start;
  return left < chunk_size ? static_cast<std::uint32_t>(left) : chunk_size;
}

std::uint32_t FileInfo::block_length(std::uint32_t index, std::uint32_t offset,
                                     std::uint32_t length) const {
  if (index >= chunk_count()) return 0;
  const std::uint32_t chunk = chunk_length(index);
  if (offset >= chunk) return 0;
  if (length == 0) return chunk - offset;
  return length <= chunk - offset ? length : 0;
}

Status FileInfo::validate(std::string_view field) const {
  if (auto s = validate_sizes(field); !s) return s;
  const std::string f(field);
  const std::uint64_t expected = chunk_count_for(size, chunk_size);
  if (chunk_hashes.size() != expected) {
    return make_error(ErrorCode::OutOfRange,
                      f + ".chunk_hashes: " + std::to_string(chunk_hashes.size()) +
                          " hashes for a file of " + std::to_string(expected) + " chunks");
  }
  if (file_hash != file_hash_from_chunks(chunk_hashes)) {
    return make_error(ErrorCode::HashMismatch,
                      f + ".file_hash: does not match the hash of the chunk hashes");
  }
  return {};
}

Status FileInfo::validate_sizes(std::string_view field) const {
  const std::string f(field);
  if (auto s = validate_swarm_name(name, f + ".name"); !s) return s;
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize) {
    return make_error(ErrorCode::OutOfRange, f + ".chunk_size: " + std::to_string(chunk_size) +
                                                 " is outside " + std::to_string(kMinChunkSize) +
                                                 ".." + std::to_string(kMaxChunkSize));
  }
  if (size == 0) return make_error(ErrorCode::OutOfRange, f + ".size: the file is empty");
  const std::uint64_t expected = chunk_count_for(size, chunk_size);
  // Chunk hashes travel as one payload, so their count is bounded by the payload limit.
  if (expected > kMaxChunkSize / 32) {
    return make_error(ErrorCode::OutOfRange,
                      f + ".size: " + std::to_string(size) +
                          " bytes needs more chunks than the protocol allows (" +
                          std::to_string(kMaxChunkSize / 32) + ")");
  }
  return {};
}

FileInfo make_file_info(std::string name, std::uint64_t size, std::uint32_t chunk_size,
                        std::vector<Digest> chunk_hashes) {
  FileInfo f;
  f.name = std::move(name);
  f.size = size;
  f.chunk_size = chunk_size;
  f.file_hash = file_hash_from_chunks(chunk_hashes);
  f.chunk_hashes = std::move(chunk_hashes);
  return f;
}

}  // namespace swarmlab

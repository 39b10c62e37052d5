#include "sim/sim_chunk_store.hpp"

#include <algorithm>
#include <string_view>

namespace swarmlab::sim {

void FileCatalogue::add(const std::string& name, std::uint64_t size, std::uint32_t chunk_size) {
  std::vector<Digest> hashes(chunk_count_for(size, chunk_size));
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    const std::string seed = name + "#" + std::to_string(i);
    hashes[i] = sha256(std::span(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
  }
  files_[name] =
      std::make_shared<const FileInfo>(make_file_info(name, size, chunk_size, std::move(hashes)));
}

const FileInfo* FileCatalogue::find(const std::string& name) const {
  const auto it = files_.find(name);
  return it == files_.end() ? nullptr : it->second.get();
}

void SimChunkStore::give_whole_file(const std::string& name) {
  const auto* info = catalogue_.find(name);
  if (info == nullptr) return;
  ChunkSet all(info->chunk_count());
  for (std::uint32_t i = 0; i < info->chunk_count(); ++i) all.insert(i);
  disk_[name] = all;
  if (on_chunk_added) {
    for (std::uint32_t i = 0; i < info->chunk_count(); ++i) on_chunk_added(name, i);
  }
}

const ChunkSet* SimChunkStore::chunks(const std::string& name) const {
  const auto it = disk_.find(name);
  return it == disk_.end() ? nullptr : &it->second;
}

StoreResult SimChunkStore::execute(const StoreOp& op) {
  return std::visit([this](const auto& x) { return run(x); }, op);
}

StoreResult SimChunkStore::run(const StoreScan& op) {
  StoreResult r;
  constexpr std::string_view kPrefix = "sim:";
  const std::string name = op.path.starts_with(kPrefix) ? op.path.substr(kPrefix.size()) : op.path;
  const auto* info = catalogue_.find(name);
  const auto* have = chunks(name);
  if (info == nullptr || have == nullptr || !have->complete()) {
    r.status = make_error(ErrorCode::NotFound, "no such file: " + op.path);
    return r;
  }
  if (info->chunk_size != op.chunk_size || info->name != op.name) {
    // The simulator publishes every file under its catalogue name and chunk size.
    r.status = make_error(ErrorCode::InvalidArgument,
                          "simulated files are published as they are in the scenario");
    return r;
  }
  r.value = *info;
  served_.insert(name);
  return r;
}

StoreResult SimChunkStore::run(const StoreOpen& op) {
  StoreResult r;
  auto& have = disk_[op.file.name];
  if (have.size() != op.file.chunk_count()) have = ChunkSet(op.file.chunk_count());
  served_.insert(op.file.name);
  r.value = have;
  return r;
}

StoreResult SimChunkStore::run(const StoreRead& op) {
  StoreResult r;
  const auto* info = catalogue_.find(op.name);
  const auto* have = chunks(op.name);
  if (!served_.contains(op.name) || info == nullptr || have == nullptr ||
      op.index >= info->chunk_count() || !have->contains(op.index)) {
    r.status = make_error(ErrorCode::NotFound, "chunk not held");
    return r;
  }
  const auto length = info->block_length(op.index, op.offset, op.length);
  if (length == 0) {
    r.status = make_error(ErrorCode::OutOfRange, "block out of the chunk's range");
    return r;
  }
  r.value = Payload::virtual_bytes(length);
  return r;
}

StoreResult SimChunkStore::run(const StoreWrite& op) {
  StoreResult r;
  const auto* info = catalogue_.find(op.name);
  auto it = disk_.find(op.name);
  if (!served_.contains(op.name) || info == nullptr || it == disk_.end()) {
    r.status = make_error(ErrorCode::NotFound, "no download open for " + op.name);
    return r;
  }
  if (op.index >= info->chunk_count() || op.data.size() != info->chunk_length(op.index)) {
    r.status = make_error(ErrorCode::OutOfRange, "chunk has the wrong length");
    return r;
  }
  if (corrupters_ && std::any_of(op.from.begin(), op.from.end(), [&](const std::string& id) {
        return corrupters_->contains(id);
      })) {
    r.status = make_error(ErrorCode::HashMismatch,
                          "chunk " + std::to_string(op.index) + " failed SHA-256");
    return r;
  }
  if (!it->second.contains(op.index)) {
    it->second.insert(op.index);
    if (on_chunk_added) on_chunk_added(op.name, op.index);
  }
  return r;
}

StoreResult SimChunkStore::run(const StoreFinalize& op) {
  StoreResult r;
  const auto* have = chunks(op.name);
  if (have == nullptr || !have->complete()) {
    r.status = make_error(ErrorCode::DownloadIncomplete, "not every chunk is verified");
  }
  return r;
}

}  // namespace swarmlab::sim

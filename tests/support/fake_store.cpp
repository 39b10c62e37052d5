#include "support/fake_store.hpp"

#include <algorithm>
#include <cstring>

#include "swarmlab/overloaded.hpp"

namespace swarmlab::testing {

void FakeStore::put_file(const std::string& path, std::vector<std::uint8_t> bytes) {
  files_[path] = std::move(bytes);
}

void FakeStore::put_partial(const std::string& dest, const FileInfo& info,
                            const std::vector<std::uint8_t>& bytes, const ChunkSet& verified) {
  Partial p{info, std::vector<std::uint8_t>(info.size, 0), verified};
  for (auto i : verified.indexes()) {
    const auto off = static_cast<std::ptrdiff_t>(info.chunk_offset(i));
    std::copy(bytes.begin() + off, bytes.begin() + off + info.chunk_length(i),
              p.bytes.begin() + off);
  }
  partials_[dest] = std::move(p);
}

void FakeStore::put_sparse_partial(const std::string& dest, const FileInfo& info,
                                   const ChunkSet& verified) {
  partials_[dest] = Partial{info, {}, verified};
}

const std::vector<std::uint8_t>* FakeStore::file(const std::string& path) const {
  const auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

ChunkSet FakeStore::partial_chunks(const std::string& dest) const {
  const auto it = partials_.find(dest);
  return it == partials_.end() ? ChunkSet{} : it->second.verified;
}

StoreResult FakeStore::execute(const StoreOp& op) {
  return std::visit(Overloaded{[this](const StoreScan& x) { return hash_file(x); },
                               [this](const StoreOpen& x) { return open_partial(x); },
                               [this](const StoreRead& x) { return read_chunk(x); },
                               [this](const StoreWrite& x) { return verify_and_write(x); },
                               [this](const StoreFinalize& x) { return finish_file(x); }},
                    op);
}

StoreResult FakeStore::hash_file(const StoreScan& op) {
  StoreResult r;
  const auto it = files_.find(op.path);
  if (it == files_.end()) {
    r.status = make_error(ErrorCode::NotFound, "no such file: " + op.path);
    return r;
  }
  const auto& bytes = it->second;
  std::vector<Digest> hashes;
  for (std::size_t off = 0; off < bytes.size(); off += op.chunk_size) {
    const std::size_t len = std::min<std::size_t>(op.chunk_size, bytes.size() - off);
    hashes.push_back(sha256(std::span(bytes.data() + off, len)));
  }
  r.value = make_file_info(op.name, bytes.size(), op.chunk_size, std::move(hashes));
  served_[op.name] = Served{std::get<FileInfo>(r.value), op.path, true};
  return r;
}

StoreResult FakeStore::open_partial(const StoreOpen& op) {
  StoreResult r;
  auto& p = partials_[op.dest];
  if (p.info != op.file) {
    // A different file (or none) was here: start over, like a stale resume record.
    p.info = op.file;
    // Beyond memory: sparse, with no bytes (chunks of it can be neither read nor written).
    if (op.file.size <= kLargestInMemory) p.bytes.assign(op.file.size, 0);
    p.verified = ChunkSet(op.file.chunk_count());
  }
  served_[op.file.name] = Served{op.file, op.dest, false};
  r.value = p.verified;
  return r;
}

StoreResult FakeStore::read_chunk(const StoreRead& op) {
  StoreResult r;
  const auto it = served_.find(op.name);
  if (it == served_.end()) {
    r.status = make_error(ErrorCode::NotFound, "not serving " + op.name);
    return r;
  }
  const auto& s = it->second;
  const std::vector<std::uint8_t>* bytes = nullptr;
  if (s.complete) {
    bytes = file(s.path);
  } else {
    const auto p = partials_.find(s.path);
    if (p != partials_.end() && p->second.verified.contains(op.index)) bytes = &p->second.bytes;
  }
  if (bytes == nullptr || op.index >= s.info.chunk_count()) {
    r.status = make_error(ErrorCode::NotFound, "chunk not held");
    return r;
  }
  const auto len = s.info.block_length(op.index, op.offset, op.length);
  if (len == 0) {
    r.status = make_error(ErrorCode::OutOfRange, "block out of the chunk's range");
    return r;
  }
  if (bytes->size() != s.info.size) {
    r.status = make_error(ErrorCode::IoError, "a sparse test file has no bytes to read");
    return r;
  }
  const auto off = s.info.chunk_offset(op.index) + op.offset;
  std::vector<std::uint8_t> chunk(bytes->begin() + static_cast<std::ptrdiff_t>(off),
                                  bytes->begin() + static_cast<std::ptrdiff_t>(off + len));
  if (corrupt_reads && !chunk.empty()) chunk[chunk.size() / 2] ^= 0xFF;
  r.value = Payload::from_vector(std::move(chunk));
  ++chunks_read;
  return r;
}

StoreResult FakeStore::verify_and_write(const StoreWrite& op) {
  StoreResult r;
  const auto it = served_.find(op.name);
  if (it == served_.end() || it->second.complete) {
    r.status = make_error(ErrorCode::NotFound, "no download open for " + op.name);
    return r;
  }
  auto& p = partials_[it->second.path];
  if (op.index >= p.info.chunk_count() || op.data.size() != p.info.chunk_length(op.index)) {
    r.status = make_error(ErrorCode::OutOfRange, "chunk has the wrong length");
    return r;
  }
  if (sha256(op.data.bytes()) != op.expected) {
    r.status = make_error(ErrorCode::HashMismatch,
                          "chunk " + std::to_string(op.index) + " failed SHA-256");
    return r;
  }
  if (fail_writes || p.bytes.size() != p.info.size) {
    r.status = make_error(ErrorCode::IoError, "no space left on device");
    return r;
  }
  std::memcpy(p.bytes.data() + p.info.chunk_offset(op.index), op.data.bytes().data(),
              op.data.size());
  p.verified.insert(op.index);
  ++chunks_written;
  return r;
}

StoreResult FakeStore::finish_file(const StoreFinalize& op) {
  StoreResult r;
  const auto it = served_.find(op.name);
  if (it == served_.end()) {
    r.status = make_error(ErrorCode::NotFound, "no download open for " + op.name);
    return r;
  }
  auto p = partials_.find(it->second.path);
  if (p == partials_.end() || !p->second.verified.complete()) {
    r.status = make_error(ErrorCode::DownloadIncomplete, "not every chunk is verified");
    return r;
  }
  files_[it->second.path] = std::move(p->second.bytes);
  partials_.erase(p);
  it->second.complete = true;
  return r;
}

}  // namespace swarmlab::testing

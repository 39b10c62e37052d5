#pragma once
// An in-memory chunk store for one fake host: answers the store effects of docs/architecture.md
// the way realnet's file store does (verify before write, resume from what was verified),
// with "disk" contents that survive a crash of the host.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "swarmlab/effects.hpp"

namespace swarmlab::testing {

class FakeStore {
 public:
  /// A file on this host's "disk", publishable by path.
  void put_file(const std::string& path, std::vector<std::uint8_t> bytes);
  /// A partial download left on "disk": `verified` chunks of `bytes` are in place at `dest`.
  void put_partial(const std::string& dest, const FileInfo& info,
                   const std::vector<std::uint8_t>& bytes, const ChunkSet& verified);
  /// The same with no bytes at all, for files far larger than memory: opening and resuming
  /// work; reading or writing a chunk of it fails with IoError.
  void put_sparse_partial(const std::string& dest, const FileInfo& info, const ChunkSet& verified);
  /// The bytes at `path` (a published file or a finished download), or nullptr.
  const std::vector<std::uint8_t>* file(const std::string& path) const;
  /// Chunks verified so far for a download into `dest` (kept across crashes, like .part).
  ChunkSet partial_chunks(const std::string& dest) const;

  /// Serve wrong bytes for every chunk read (a corrupt or malicious peer).
  bool corrupt_reads = false;
  /// Fail every write with IoError (a full disk).
  bool fail_writes = false;

  StoreResult execute(const StoreOp& op);
  /// Downloads of larger files get a sparse partial (put_sparse_partial) instead of bytes.
  static constexpr std::uint64_t kLargestInMemory = 1ull << 30;

  /// The process died: the serving table is lost, the disk is not.
  void forget_open_files() { served_.clear(); }

  std::uint64_t chunks_written = 0;
  std::uint64_t chunks_read = 0;

 private:
  // One per store operation, as realnet's FileStore does them.
  StoreResult hash_file(const StoreScan& op);
  StoreResult open_partial(const StoreOpen& op);
  StoreResult read_chunk(const StoreRead& op);
  StoreResult verify_and_write(const StoreWrite& op);
  StoreResult finish_file(const StoreFinalize& op);

  struct Partial {
    FileInfo info;
    std::vector<std::uint8_t> bytes;
    ChunkSet verified;
  };
  struct Served {
    FileInfo info;
    std::string path;  // where the bytes live: files_ (complete) or partials_ (in progress)
    bool complete = false;
  };
  std::map<std::string, std::vector<std::uint8_t>> files_;  // path -> bytes
  std::map<std::string, Partial> partials_;                 // dest -> partial download
  std::map<std::string, Served> served_;                    // swarm name -> where
};

}  // namespace swarmlab::testing

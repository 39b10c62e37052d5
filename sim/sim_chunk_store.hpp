#pragma once
// The simulated chunk store of one node: which chunks of which file it holds, nothing
// more. Payloads are virtual, so "verification" is decided by who sent the chunk: chunks
// from a corrupting peer fail their SHA-256 check, as the real store would find.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "swarmlab/effects.hpp"

namespace swarmlab::sim {

/// The files of a scenario, with synthetic chunk hashes (SHA-256 of name and index).
class FileCatalogue {
 public:
  void add(const std::string& name, std::uint64_t size, std::uint32_t chunk_size);
  const FileInfo* find(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<const FileInfo>> files_;
};

class SimChunkStore {
 public:
  /// `corrupters`: peer ids whose chunks fail verification (shared by every store).
  SimChunkStore(const FileCatalogue& catalogue,
                std::shared_ptr<const std::set<std::string>> corrupters)
      : catalogue_(catalogue), corrupters_(std::move(corrupters)) {}

  /// Called with (file, index) whenever a chunk is added to this store's disk.
  std::function<void(const std::string&, std::uint32_t)> on_chunk_added;

  /// An original seeder's disk: the whole file, publishable by the path "sim:<name>".
  void give_whole_file(const std::string& name);
  /// The chunks on disk for `name` (a finished or partial download, or a published file).
  const ChunkSet* chunks(const std::string& name) const;

  StoreResult execute(const StoreOp& op);

  /// The node crashed: what it was serving is forgotten, its disk is not.
  void forget_open_files() { served_.clear(); }

 private:
  StoreResult run(const StoreScan& op);
  StoreResult run(const StoreOpen& op);
  StoreResult run(const StoreRead& op);
  StoreResult run(const StoreWrite& op);
  StoreResult run(const StoreFinalize& op);

  const FileCatalogue& catalogue_;
  std::shared_ptr<const std::set<std::string>> corrupters_;
  std::map<std::string, ChunkSet> disk_;  // file name -> chunks on disk
  std::set<std::string> served_;          // names this node serves now
};

}  // namespace swarmlab::sim

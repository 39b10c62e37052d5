#pragma once
// The chunk store on disk. Published files are read in place; downloads go to
// "<dest>.part" beside a resume record "<dest>.part.resume" listing verified chunks; on
// completion the part file is fsynced and renamed over <dest> atomically. A name can only
// ever map to a file this process published or is downloading: requests name swarm files,
// never paths.
//
// Once more than a bound of written chunks waits in the page cache, the oldest start their way
// to disk (WritebackQueue), so completion never waits for more than that bound to be flushed.
// Chunks are served as FileRegions, which the host sends with sendfile(2): served bytes go from the
// page cache to the socket without passing through this process.
//
// Every operation is synchronous and thread-safe. AsioHost runs them on worker threads, except
// read, which never waits for the disk (a lookup and an fstat) and runs on the network thread;
// no lock that read needs is ever held across disk I/O.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "realnet/buffer_pool.hpp"
#include "realnet/writeback_queue.hpp"
#include "swarmlab/effects.hpp"

namespace swarmlab::realnet {

/// A file descriptor shared by the store and the regions being sent from it, so that a file
/// stays open until its last region is sent even if the store forgets it.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

/// A chunk's bytes as they lie in a file: what FileStore::read hands out.
struct FileRegion final : ExternalBytes {
  FileRegion(std::shared_ptr<const OpenFile> f, std::uint64_t off, std::size_t len)
      : file(std::move(f)), offset(off), length(len) {}
  std::shared_ptr<const OpenFile> file;
  std::uint64_t offset;
  std::size_t length;
};

struct FileStoreOptions {
  /// Replace an existing destination file (`--force`); otherwise refuse to.
  bool overwrite = false;
  /// How often, at most, the resume record is rewritten while chunks arrive (it is also
  /// written when the download stops). Each rewrite is a new file renamed into place, so
  /// doing it every few chunks of a fast download costs more than the chunks' own writes.
  std::chrono::milliseconds record_interval{1000};
  /// Written bytes of a download that may wait in the page cache before they are sent to
  /// disk: what the fsync on completion has to write at most. Smaller bounds finish sooner
  /// after the last chunk (eight downloads finishing at once each flush this much) but
  /// write back earlier while the network is still busy; 32 MiB made eight 256 MiB
  /// downloads done 0.1-0.4 s sooner after their last chunk than 128 MiB did.
  std::uint64_t max_unflushed = 32ull << 20;
};

class FileStore {
 public:
  FileStore(std::shared_ptr<BufferPool> pool, FileStoreOptions options = {});
  ~FileStore();
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  StoreResult scan(const StoreScan& op);
  StoreResult open(const StoreOpen& op);
  StoreResult read(const StoreRead& op);
  StoreResult write(const StoreWrite& op);
  StoreResult finalize(const StoreFinalize& op);
  /// Writes every pending resume record (on shutdown, so partials resume exactly).
  void flush_records();

 private:
  struct Entry;
  std::shared_ptr<Entry> find(const std::string& name);
  struct RecordSnapshot {
    std::string path;
    std::string text;
    std::uint64_t number;
  };
  /// Under the entry's lock: what the record should say now.
  RecordSnapshot take_record(Entry& e);
  /// Outside it: writes the snapshot unless a newer one was written already.
  void store_record(Entry& e, const RecordSnapshot& snapshot);

  std::shared_ptr<BufferPool> pool_;
  FileStoreOptions options_;
  std::mutex mutex_;  // guards entries_ (each Entry has its own lock)
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  WritebackQueue writeback_;  // chunks beyond max_unflushed start their way to disk
};

}  // namespace swarmlab::realnet

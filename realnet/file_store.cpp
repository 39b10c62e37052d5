#include "realnet/file_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "swarmlab/units.hpp"

namespace swarmlab::realnet {
namespace {

Error io_error(const std::string& what, int err = errno) {
  return make_error(ErrorCode::IoError, what + ": " + std::strerror(err));
}

bool read_fully(int fd, std::uint8_t* data, std::size_t len, std::uint64_t offset) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, data, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool write_fully(int fd, const std::uint8_t* data, std::size_t len, std::uint64_t offset) {
  while (len > 0) {
    const ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

void fsync_dir_of(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

struct FileStore::Entry {
  std::mutex mutex;
  std::mutex write_mutex;  // one chunk write to the file at a time
  FileInfo info;
  std::string path;  // the published file, or the .part file while downloading
  std::string dest;  // downloads: where the finished file goes
  bool complete = false;
  std::shared_ptr<const OpenFile> file;
  ChunkSet verified;             // downloads in progress
  std::uint32_t unrecorded = 0;  // verified chunks the resume record does not list yet
  std::chrono::steady_clock::time_point recorded_at{};
  std::uint64_t records_taken = 0;
  // Record files are written outside `mutex`, one writer at a time, newest snapshot wins.
  std::mutex record_mutex;
  std::uint64_t record_on_disk = 0;
  // Written chunks not yet handed to the writeback queue, oldest first.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> unflushed;
  std::uint64_t unflushed_bytes = 0;
  int fd() const { return file->fd(); }
};

FileStore::FileStore(std::shared_ptr<BufferPool> pool, FileStoreOptions options)
    : pool_(std::move(pool)), options_(options) {
}

FileStore::~FileStore() {
  flush_records();
}

std::shared_ptr<FileStore::Entry> FileStore::find(const std::string& name) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second;
}

StoreResult FileStore::scan(const StoreScan& op) {
  StoreResult r;
  const int fd = ::open(op.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.status = make_error(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::IoError,
                          "cannot open " + op.path + ": " + std::strerror(errno));
    return r;
  }
  auto entry = std::make_shared<Entry>();
  entry->file = std::make_shared<const OpenFile>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    r.status = make_error(ErrorCode::InvalidArgument, op.path + " is not a regular file");
    return r;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0) {
    r.status =
        make_error(ErrorCode::InvalidArgument, op.path + " is empty: there is nothing to share");
    return r;
  }
  std::vector<Digest> hashes;
  hashes.reserve(chunk_count_for(size, op.chunk_size));
  auto buf = pool_->acquire(op.chunk_size);
  for (std::uint64_t off = 0; off < size; off += op.chunk_size) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(op.chunk_size, size - off));
    if (!read_fully(fd, buf->data(), len, off)) {
      r.status = io_error("cannot read " + op.path);
      return r;
    }
    hashes.push_back(sha256(std::span(buf->data(), len)));
  }
  entry->info = make_file_info(op.name, size, op.chunk_size, std::move(hashes));
  if (auto s = entry->info.validate(); !s) {
    r.status = s;
    return r;
  }
  entry->path = op.path;
  entry->complete = true;
  r.value = entry->info;
  std::lock_guard lock(mutex_);
  entries_[op.name] = std::move(entry);
  return r;
}

StoreResult FileStore::open(const StoreOpen& op) {
  StoreResult r;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!options_.overwrite && fs::exists(op.dest, ec)) {
    r.status = make_error(ErrorCode::InvalidArgument,
                          op.dest + " already exists (use --force to replace it)");
    return r;
  }
  // A retry within this process: what the failed attempt verified may not be on record yet.
  if (auto old = find(op.file.name); old && old->dest == op.dest) {
    std::unique_lock old_lock(old->mutex);
    if (!old->complete && old->info.file_hash == op.file.file_hash) {
      const auto snapshot = take_record(*old);
      old_lock.unlock();
      store_record(*old, snapshot);
    }
  }
  auto entry = std::make_shared<Entry>();
  entry->info = op.file;
  entry->dest = op.dest;
  entry->path = op.dest + ".part";
  entry->verified = ChunkSet(op.file.chunk_count());
  const int fd = ::open(entry->path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    r.status = io_error("cannot create " + entry->path);
    return r;
  }
  entry->file = std::make_shared<const OpenFile>(fd);
  // The resume record is only a hint: every chunk it claims is read back and re-hashed, so
  // a crash between a write and its record (or a torn write) can never pass bad data.
  const std::string record = entry->path + ".resume";
  std::ifstream in(record);
  if (in) {
    // Read without throwing: a record with the wrong types (hand-edited, another version) is
    // no hint at all, not a reason to fail every restart.
    const auto j = nlohmann::json::parse(in, nullptr, false);
    auto field = [&j](const char* key) -> const nlohmann::json* {
      if (!j.is_object()) return nullptr;
      const auto it = j.find(key);
      return it == j.end() ? nullptr : &*it;
    };
    const auto* hash = field("file_hash");
    const auto* size = field("size");
    const auto* verified = field("verified");
    if (hash != nullptr && hash->is_string() &&
        hash->get<std::string>() == to_hex(op.file.file_hash) && size != nullptr &&
        size->is_number_unsigned() && size->get<std::uint64_t>() == op.file.size &&
        verified != nullptr && verified->is_string()) {
      if (auto claimed = ChunkSet::parse(verified->get<std::string>(), op.file.chunk_count())) {
        auto buf = pool_->acquire(op.file.chunk_size);
        for (auto i : claimed->indexes()) {
          const auto len = op.file.chunk_length(i);
          if (read_fully(entry->fd(), buf->data(), len, op.file.chunk_offset(i)) &&
              sha256(std::span(buf->data(), len)) == op.file.chunk_hashes[i]) {
            entry->verified.insert(i);
          }
        }
      }
    }
  }
  if (entry->verified.empty() && ::ftruncate(entry->fd(), static_cast<off_t>(op.file.size)) != 0) {
    r.status = io_error("cannot size " + entry->path);
    return r;
  }
  // Reserve the whole file now: a full disk is reported before the download starts rather
  // than halfway through it. (Filesystems without fallocate stay sparse.)
  if (::fallocate(entry->fd(), 0, 0, static_cast<off_t>(op.file.size)) != 0 &&
      errno != EOPNOTSUPP) {
    const int err = errno;
    if (entry->verified.empty()) ::unlink(entry->path.c_str());  // nothing of value in it
    if (err == ENOSPC || err == EDQUOT) {
      struct statvfs fs {};
      const std::string free_text =
          ::fstatvfs(entry->fd(), &fs) == 0
              ? ", " + format_size(static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize) + " free"
              : "";
      r.status = make_error(ErrorCode::IoError, "not enough free space on its disk (" +
                                                    format_size(op.file.size) + " needed" +
                                                    free_text + ")");
    } else {
      r.status =
          io_error("cannot reserve " + format_size(op.file.size) + " for " + entry->path, err);
    }
    return r;
  }
  store_record(*entry, take_record(*entry));
  r.value = entry->verified;
  std::lock_guard lock(mutex_);
  entries_[op.file.name] = std::move(entry);
  return r;
}

StoreResult FileStore::read(const StoreRead& op) {
  StoreResult r;
  auto e = find(op.name);
  if (!e) {
    r.status = make_error(ErrorCode::NotFound, "not serving \"" + op.name + "\"");
    return r;
  }
  std::unique_lock lock(e->mutex);
  if (op.index >= e->info.chunk_count() || (!e->complete && !e->verified.contains(op.index))) {
    r.status = make_error(ErrorCode::NotFound, "chunk " + std::to_string(op.index) + " not held");
    return r;
  }
  // Not read here: the host sends the region straight from the page cache (sendfile). A
  // shared file that was cut short since is refused here, with a reason the downloader sees;
  // one cut while its chunk is on the way shows up as a short send, and the host hangs up.
  const auto len = e->info.block_length(op.index, op.offset, op.length);
  if (len == 0) {
    r.status = make_error(ErrorCode::OutOfRange,
                          "bytes " + std::to_string(op.offset) + "+" + std::to_string(op.length) +
                              " are not within chunk " + std::to_string(op.index));
    return r;
  }
  const auto off = e->info.chunk_offset(op.index) + op.offset;
  const auto file = e->file;
  const std::string path = e->path;
  lock.unlock();
  struct stat st {};
  if (::fstat(file->fd(), &st) != 0) {
    r.status = io_error("cannot read " + path);
    return r;
  }
  if (static_cast<std::uint64_t>(st.st_size) < off + len) {
    r.status = make_error(ErrorCode::IoError, path + " is shorter than when it was shared (" +
                                                  std::to_string(st.st_size) + " bytes, was " +
                                                  std::to_string(e->info.size) + ")");
    return r;
  }
  r.value = Payload::external(std::make_shared<const FileRegion>(file, off, len), len);
  return r;
}

StoreResult FileStore::write(const StoreWrite& op) {
  StoreResult r;
  auto e = find(op.name);
  if (!e || e->complete) {
    r.status = make_error(ErrorCode::NotFound, "no download open for \"" + op.name + "\"");
    return r;
  }
  if (op.data.is_virtual() || op.index >= e->info.chunk_count() ||
      op.data.size() != e->info.chunk_length(op.index)) {
    r.status = make_error(ErrorCode::OutOfRange,
                          "chunk " + std::to_string(op.index) + " has the wrong length");
    return r;
  }
  // Hash before anything touches the disk: unverified bytes are never written.
  if (sha256(op.data.bytes()) != op.expected) {
    r.status = make_error(ErrorCode::HashMismatch,
                          "chunk " + std::to_string(op.index) + " failed SHA-256");
    return r;
  }
  const auto offset = e->info.chunk_offset(op.index);
  {
    // The kernel serialises buffered writes to one file anyway, by spinning on the inode's
    // lock: waiting here instead leaves the core to the thread that is hashing.
    std::lock_guard write_lock(e->write_mutex);
    if (!write_fully(e->fd(), op.data.bytes().data(), op.data.size(), offset)) {
      r.status = io_error("cannot write " + e->path);
      return r;
    }
  }
  std::optional<RecordSnapshot> record;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> to_disk;
  {
    std::lock_guard lock(e->mutex);
    e->verified.insert(op.index);
    ++e->unrecorded;
    if (std::chrono::steady_clock::now() - e->recorded_at >= options_.record_interval) {
      record = take_record(*e);
    }
    // Oldest written chunks go to disk once more than max_unflushed waits in the page cache.
    e->unflushed.emplace_back(offset, op.data.size());
    e->unflushed_bytes += op.data.size();
    while (e->unflushed_bytes > options_.max_unflushed) {
      to_disk.push_back(e->unflushed.front());
      e->unflushed_bytes -= e->unflushed.front().second;
      e->unflushed.pop_front();
    }
  }
  for (const auto& [off, len] : to_disk) writeback_.push(e->file, off, len);
  if (record) store_record(*e, *record);
  return r;
}

StoreResult FileStore::finalize(const StoreFinalize& op) {
  StoreResult r;
  auto e = find(op.name);
  if (!e) {
    r.status = make_error(ErrorCode::NotFound, "no download open for \"" + op.name + "\"");
    return r;
  }
  std::unique_lock lock(e->mutex);
  if (!e->verified.complete()) {
    r.status = make_error(ErrorCode::DownloadIncomplete, "not every chunk is verified");
    return r;
  }
  const std::string part = e->path;
  lock.unlock();
  // Flushing and renaming can take a long time on a busy disk, and the entry's lock is what
  // serving this file needs: none of it happens under the lock. Every chunk is written, so
  // nothing else changes the entry meanwhile.
  if (::fsync(e->fd()) != 0) {
    r.status = io_error("cannot flush " + part);
    return r;
  }
  std::error_code ec;
  if (!options_.overwrite && std::filesystem::exists(e->dest, ec)) {
    r.status = make_error(ErrorCode::InvalidArgument,
                          e->dest + " appeared while downloading; the data is kept in " + part);
    return r;
  }
  if (::rename(part.c_str(), e->dest.c_str()) != 0) {
    r.status = io_error("cannot move " + part + " to " + e->dest);
    return r;
  }
  fsync_dir_of(e->dest);
  std::filesystem::remove(part + ".resume", ec);
  lock.lock();
  e->path = e->dest;
  e->complete = true;
  return r;
}

FileStore::RecordSnapshot FileStore::take_record(Entry& e) {
  e.unrecorded = 0;
  e.recorded_at = std::chrono::steady_clock::now();
  return RecordSnapshot{e.path + ".resume",
                        nlohmann::json{{"name", e.info.name},
                                       {"size", e.info.size},
                                       {"chunk_size", e.info.chunk_size},
                                       {"file_hash", to_hex(e.info.file_hash)},
                                       {"verified", e.verified.to_ranges()}}
                            .dump(),
                        ++e.records_taken};
}

void FileStore::store_record(Entry& e, const RecordSnapshot& snapshot) {
  std::lock_guard lock(e.record_mutex);
  if (snapshot.number <= e.record_on_disk) return;  // a newer one is already there
  // Written to a temporary file and renamed, so a crash leaves the old or the new record.
  const std::string tmp = snapshot.path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << snapshot.text << '\n';
    if (!out) return;  // a full disk: the record lags, and resume re-verifies anyway
  }
  if (std::rename(tmp.c_str(), snapshot.path.c_str()) == 0) e.record_on_disk = snapshot.number;
}

void FileStore::flush_records() {
  std::lock_guard lock(mutex_);
  for (auto& [name, e] : entries_) {
    std::unique_lock entry_lock(e->mutex);
    if (e->complete || e->unrecorded == 0) continue;
    const auto record = take_record(*e);
    entry_lock.unlock();
    store_record(*e, record);
  }
}

}  // namespace swarmlab::realnet

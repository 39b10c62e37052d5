#include "realnet/writeback_queue.hpp"

#include <fcntl.h>

#include "realnet/file_store.hpp"

namespace swarmlab::realnet {

WritebackQueue::WritebackQueue() : thread_([this](const std::stop_token& stop) { run(stop); }) {
}

WritebackQueue::~WritebackQueue() {
  thread_.request_stop();
  thread_.join();
}

void WritebackQueue::push(std::shared_ptr<const OpenFile> file, std::uint64_t offset,
                          std::uint64_t length) {
  {
    std::lock_guard lock(mutex_);
    ranges_.push_back(Range{std::move(file), offset, length});
  }
  wake_.notify_one();
}

void WritebackQueue::run(const std::stop_token& stop) {
  std::unique_lock lock(mutex_);
  while (wake_.wait(lock, stop, [this] { return !ranges_.empty(); })) {
    Range r = std::move(ranges_.front());
    ranges_.pop_front();
    lock.unlock();
    // Only a hint to the kernel: errors surface in the fsync that completes the download.
    ::sync_file_range(r.file->fd(), static_cast<off_t>(r.offset), static_cast<off_t>(r.length),
                      SYNC_FILE_RANGE_WRITE);
    r.file.reset();  // may close the file: outside the lock
    lock.lock();
  }
}

}  // namespace swarmlab::realnet

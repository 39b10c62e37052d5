#pragma once
// Starts the disk writeback of the file ranges pushed to it (sync_file_range) on a thread of
// its own. The fsync that completes a download then finds little left to write, because the
// disk worked while the network did, and the threads that hash and write chunks never wait
// for the disk: sync_file_range blocks whenever the device's queue is full.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

namespace swarmlab::realnet {

class OpenFile;

class WritebackQueue {
 public:
  WritebackQueue();
  ~WritebackQueue();
  WritebackQueue(const WritebackQueue&) = delete;
  WritebackQueue& operator=(const WritebackQueue&) = delete;

  void push(std::shared_ptr<const OpenFile> file, std::uint64_t offset, std::uint64_t length);

 private:
  struct Range {
    std::shared_ptr<const OpenFile> file;
    std::uint64_t offset;
    std::uint64_t length;
  };
  void run(const std::stop_token& stop);

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<Range> ranges_;
  std::jthread thread_;  // last: starts after, and stops before, what it uses
};

}  // namespace swarmlab::realnet

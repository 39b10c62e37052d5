#pragma once
// Text written to a stream by a thread of its own, so that the thread that moves chunks
// never waits for the stream: a file on a busy disk (the events log) or a pipe that nobody
// reads (the progress lines of a peer run from a script, whose stdout fills and then
// blocks every write).
//
// Lines marked skippable (progress) are not queued while more than `max_pending` bytes
// wait; the first line queued after such a gap says how many were skipped. Other lines are
// always kept.
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace swarmlab::realnet {

class LineWriter {
 public:
  struct Options {
    /// Bytes waiting beyond which skippable lines are skipped.
    std::size_t max_pending = std::numeric_limits<std::size_t>::max();
    /// How long the destructor waits for what is queued to be written. A stream that is
    /// still blocked then is abandoned (with what is left for it), so that the program can
    /// end.
    std::chrono::milliseconds drain_timeout = std::chrono::milliseconds::max();
    /// Close the descriptor once the writer is done with it (after the drain, or when an
    /// abandoned writer's last write returns).
    bool close_fd = false;
  };

  /// Writes to the descriptor `fd` with write(2), not stdio, so that a writer blocked for
  /// good holds no lock the rest of the program could need.
  LineWriter(int fd, Options options);
  explicit LineWriter(int fd) : LineWriter(fd, Options{}) {}
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  /// Queues `line` and, unless `end_line` is false (a bar redrawn in place with '\r'), a
  /// newline; returns at once.
  void write(std::string_view line, bool skippable = false, bool end_line = true);
  /// Lines skipped so far.
  std::size_t skipped() const;

 private:
  // Shared with the writer thread, which may outlive us when the stream never drains.
  struct State {
    State(int f, bool close) : fd(f), close_fd(close) {}
    ~State();
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    const int fd;
    const bool close_fd;
    bool broken = false;  // the stream failed: the rest is dropped
    std::mutex mutex;
    std::condition_variable wake;     // something to write, or stop
    std::condition_variable drained;  // nothing pending and nothing being written
    std::string pending;
    bool writing = false;
    bool stop = false;
    std::size_t skipped = 0;         // in all
    std::size_t skipped_unsaid = 0;  // since the last note about it
  };
  static void run(const std::shared_ptr<State>& state);

  Options options_;
  std::shared_ptr<State> state_;
  std::thread writer_;
};

}  // namespace swarmlab::realnet

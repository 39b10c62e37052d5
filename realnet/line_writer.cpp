#include "realnet/line_writer.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace swarmlab::realnet {

LineWriter::State::~State() {
  if (close_fd) ::close(fd);
}

LineWriter::LineWriter(int fd, Options options)
    : options_(options), state_(std::make_shared<State>(fd, options.close_fd)) {
  writer_ = std::thread([state = state_] { run(state); });
}

LineWriter::~LineWriter() {
  bool drained = false;
  {
    std::unique_lock lock(state_->mutex);
    state_->stop = true;
    state_->wake.notify_one();
    auto idle = [this] { return state_->pending.empty() && !state_->writing; };
    if (options_.drain_timeout == std::chrono::milliseconds::max()) {
      state_->drained.wait(lock, idle);
      drained = true;
    } else {
      drained = state_->drained.wait_for(lock, options_.drain_timeout, idle);
    }
  }
  if (drained) {
    writer_.join();
  } else {
    writer_.detach();  // blocked in a write that may never return; it owns its state
  }
}

void LineWriter::write(std::string_view line, bool skippable, bool end_line) {
  {
    std::lock_guard lock(state_->mutex);
    if (skippable && state_->pending.size() > options_.max_pending) {
      ++state_->skipped;
      ++state_->skipped_unsaid;
      return;
    }
    if (state_->skipped_unsaid > 0) {
      state_->pending += "(" + std::to_string(state_->skipped_unsaid) +
                         " lines skipped: the output was not being read)\n";
      state_->skipped_unsaid = 0;
    }
    state_->pending += line;
    if (end_line) state_->pending += '\n';
  }
  state_->wake.notify_one();
}

std::size_t LineWriter::skipped() const {
  std::lock_guard lock(state_->mutex);
  return state_->skipped;
}

void LineWriter::run(const std::shared_ptr<State>& state) {
  std::string batch;
  std::unique_lock lock(state->mutex);
  for (;;) {
    state->wake.wait(lock, [&] { return state->stop || !state->pending.empty(); });
    if (state->pending.empty()) return;  // stopped, and everything is written
    batch.swap(state->pending);
    state->writing = true;
    lock.unlock();
    std::size_t done = 0;
    while (done < batch.size() && !state->broken) {
      const auto n = ::write(state->fd, batch.data() + done, batch.size() - done);
      if (n >= 0) {
        done += static_cast<std::size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{state->fd, POLLOUT, 0};  // a non-blocking descriptor we were handed
        ::poll(&p, 1, -1);
      } else if (errno != EINTR) {
        state->broken = true;  // a closed pipe or a full disk: nobody will see the rest
      }
    }
    batch.clear();
    lock.lock();
    state->writing = false;
    if (state->pending.empty()) state->drained.notify_all();
  }
}

}  // namespace swarmlab::realnet

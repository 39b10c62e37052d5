// LineWriter on real pipes: nobody reading must not block the writer's callers, skippable
// lines give way first, nothing else is lost, and the destructor does not hang for ever.
#include "realnet/line_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>

namespace swarmlab::realnet {
namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    r = fds[0];
    w = fds[1];
    ::fcntl(w, F_SETPIPE_SZ, 4096);  // the smallest: fills after a page
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  std::string read_all() {  // after the writer end is closed
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(r, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

TEST(LineWriter, WritesEveryLineInOrder) {
  Pipe p;
  {
    LineWriter out(p.w);
    out.write("one");
    out.write("two", /*skippable=*/true);
    out.write("three");
  }  // drained here
  ::close(p.w);
  p.w = -1;
  EXPECT_EQ(p.read_all(), "one\ntwo\nthree\n");
}

TEST(LineWriter, AnUnreadPipeNeitherBlocksCallersNorLosesKeptLines) {
  Pipe p;
  const std::string line(100, 'x');
  std::size_t skipped = 0;
  {
    LineWriter out(p.w, {.max_pending = 1000, .drain_timeout = std::chrono::minutes(1)});
    // Far more than the pipe holds: with writes on the caller's thread this would block.
    for (int i = 0; i < 2000; ++i) out.write("progress " + line, /*skippable=*/true);
    for (int i = 0; i < 50; ++i) out.write("kept " + std::to_string(i));
    skipped = out.skipped();
    EXPECT_GT(skipped, 0U);
    out.write("last");
    // Reading now lets the writer drain before the destructor's deadline.
    std::string got;
    char buf[4096];
    while (got.find("last\n") == std::string::npos) {
      const auto n = ::read(p.r, buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t progress = 0;
    for (std::size_t at = 0; (at = got.find("progress ", at)) != std::string::npos; ++at)
      ++progress;
    EXPECT_EQ(progress + skipped, 2000U);
    std::size_t prev = 0;
    for (int i = 0; i < 50; ++i) {  // every kept line, in order
      const auto at = got.find("kept " + std::to_string(i) + "\n", prev);
      ASSERT_NE(at, std::string::npos) << i;
      prev = at;
    }
    // Each gap is announced where output resumes; together the notes count every skip.
    std::size_t announced = 0;
    const std::string note = " lines skipped: the output was not being read)\n";
    for (std::size_t at = 0; (at = got.find(note, at)) != std::string::npos; ++at) {
      const auto open = got.rfind('(', at);
      announced += std::stoul(got.substr(open + 1, at - open - 1));
    }
    EXPECT_EQ(announced, skipped);
  }
}

TEST(LineWriter, GivesUpOnAStreamThatNeverDrains) {
  Pipe p;
  const auto start = std::chrono::steady_clock::now();
  {
    LineWriter out(p.w, {.drain_timeout = std::chrono::milliseconds(50)});
    out.write(std::string(64 << 10, 'y'));  // more than the pipe takes: the writer blocks
  }
  // The abandoned writer still holds the descriptor's write end open in a blocked write;
  // reading lets it finish. The destructor returned without it.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  std::string got;
  char buf[4096];
  while (got.size() < (64 << 10) + 1) {
    const auto n = ::read(p.r, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got.size(), (64u << 10) + 1);
}

TEST(LineWriter, ANonBlockingDescriptorThatFillsUpLosesNoKeptLine) {
  // A program may be handed a stdout in non-blocking mode: a full pipe then answers EAGAIN,
  // which must mean "wait until it can take more", not a lost line or a broken stream.
  Pipe p;
  ASSERT_EQ(::fcntl(p.w, F_SETFL, ::fcntl(p.w, F_GETFL) | O_NONBLOCK), 0);
  const std::string line(1000, 'z');
  std::string got;
  {
    LineWriter out(p.w, {.drain_timeout = std::chrono::minutes(1)});
    for (int i = 0; i < 40; ++i) out.write(std::to_string(i) + " " + line);  // 40 KB > 4 KiB
    out.write("end");
    char buf[4096];
    while (got.find("end\n") == std::string::npos) {
      // A writer that gave up would leave the pipe silent: fail then rather than hang.
      pollfd ready{p.r, POLLIN, 0};
      ASSERT_EQ(::poll(&ready, 1, 10'000), 1) << "the writer stopped after " << got.size();
      const auto n = ::read(p.r, buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::string want;
  for (int i = 0; i < 40; ++i) want += std::to_string(i) + " " + line + "\n";
  EXPECT_EQ(got, want + "end\n");
}

TEST(LineWriter, AClosedReaderDoesNotStopTheProgram) {
  Pipe p;
  ::close(p.r);
  p.r = -1;
  ::signal(SIGPIPE, SIG_IGN);  // as the programs do: a closed reader is EPIPE, not death
  LineWriter out(p.w, {.drain_timeout = std::chrono::seconds(30)});
  for (int i = 0; i < 100; ++i) out.write("into the void");
  // The destructor must return: the writer gives up on a broken stream.
}

}  // namespace
}  // namespace swarmlab::realnet

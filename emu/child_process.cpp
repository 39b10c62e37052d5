#include "emu/child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace swarmlab::emu {
namespace {

// Only async-signal-safe calls between fork and exec: the runner has threads (ns-3's device
// readers).
[[noreturn]] void child_fail(int log_fd, const char* what) {
  const int err = errno;
  const char* why = strerror(err);  // glibc's is safe enough here: static strings
  if (log_fd >= 0) {
    (void)!::write(log_fd, "swarm-emu: ", 11);
    (void)!::write(log_fd, what, std::strlen(what));
    (void)!::write(log_fd, ": ", 2);
    (void)!::write(log_fd, why, std::strlen(why));
    (void)!::write(log_fd, "\n", 1);
  }
  ::_exit(127);
}

}  // namespace

Result<ChildProcess> ChildProcess::spawn(const ChildSpec& spec) {
  if (spec.argv.empty()) return make_error(ErrorCode::InvalidArgument, "no program to start");
  const std::string ns_path = "/run/netns/" + spec.netns;
  const int ns_fd = ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0)
    return make_error(ErrorCode::IoError, "cannot open " + ns_path + ": " + std::strerror(errno));
  const int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    const int err = errno;
    ::close(ns_fd);
    return make_error(ErrorCode::IoError,
                      "cannot write " + spec.log_path + ": " + std::strerror(err));
  }
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(ns_fd);
    ::close(log_fd);
    return make_error(ErrorCode::IoError, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Dies with the runner, however the runner ends; Ctrl-C on the terminal reaches only the
    // runner (its own process group), which stops everyone in order.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(log_fd, "prctl");
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
    if (::setns(ns_fd, CLONE_NEWNET) != 0) child_fail(log_fd, "setns");
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0)
      child_fail(log_fd, "redirect");
    // Nothing of the runner's (TAPs, ns-3's pipes, other programs' logs) stays open in the
    // program: a few hundred hosts would otherwise use up its descriptors.
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    child_fail(2, argv[0]);
  }
  ::close(ns_fd);
  ::close(log_fd);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (running()) stop(0);
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (running()) stop(0);
}

void ChildProcess::signal(int sig) const {
  if (running()) ::kill(pid_, sig);
}

bool ChildProcess::poll() {
  if (!running()) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return running();
}

void ChildProcess::stop(int grace_ms) {
  if (!running()) return;
  if (grace_ms > 0) {
    ::kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (poll() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
}

std::string ChildProcess::describe_end() const {
  if (!status_) return "running";
  if (WIFEXITED(*status_)) return "exit " + std::to_string(WEXITSTATUS(*status_));
  if (WIFSIGNALED(*status_)) return "killed by signal " + std::to_string(WTERMSIG(*status_));
  return "ended";
}

}  // namespace swarmlab::emu

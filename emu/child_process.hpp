#pragma once
// A program started inside a network namespace: the tracker or a peer of an emulated swarm.
// The runner knows each one by PID and stops each one itself; none outlives it (it dies with
// the runner if the runner dies).
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "swarmlab/error.hpp"

namespace swarmlab::emu {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0]: the program's path
  std::string netns;              // a namespace's name under /run/netns
  std::string log_path;           // stdout and stderr go here (appended)
};

class ChildProcess {
 public:
  /// Forks, enters the namespace and executes the program. Errors: the namespace or the log
  /// cannot be opened, fork fails. A program that cannot be executed exits 127 and says why in
  /// its log.
  static Result<ChildProcess> spawn(const ChildSpec& spec);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// Kills (SIGKILL) and reaps a program still running.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  /// Sends `sig` if it still runs.
  void signal(int sig) const;
  /// Reaps it if it has ended; returns whether it still runs.
  bool poll();
  /// Waits up to `grace_ms` for it to end after SIGTERM, then SIGKILLs it; reaps it.
  void stop(int grace_ms);
  /// The wait status once it ended.
  std::optional<int> status() const { return status_; }
  /// "exit 0", "killed by signal 9", ...
  std::string describe_end() const;

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace swarmlab::emu

#pragma once
// The emulated hosts' side of the wire: one network namespace per host (tracker or peer), each
// with a TAP device whose other end is read and written by the ns-3 star (tap_wire). Named
// after the runner's PID, so that a run finds and removes what a dead run left behind without
// touching anyone else's namespaces.
#include <sys/types.h>

#include <string>
#include <vector>

#include "swarmlab/error.hpp"

namespace swarmlab::emu {

/// Runs `ip ARGS...`; the error quotes what it printed.
Status run_ip(const std::vector<std::string>& args);

/// What swarm-emu needs and this process lacks (root, /dev/net/tun, the `ip` program), as
/// one message; empty when everything is there.
std::string missing_privileges();

class HostNamespaces {
 public:
  /// Names for this runner: namespaces swarmlab-emu-<pid>-<i>, TAPs swl<pid>t<i>.
  HostNamespaces();
  HostNamespaces(const HostNamespaces&) = delete;
  HostNamespaces& operator=(const HostNamespaces&) = delete;
  /// Removes every namespace made (and with it its TAP and anything still inside).
  ~HostNamespaces();

  /// Makes host `i`'s namespace and TAP; returns the TAP's descriptor, for the wire (the TAP
  /// lives while it is open). The TAP is configured by configure(), once the wire holds it.
  Result<int> add(std::size_t i);
  /// Moves host i's TAP into its namespace and gives it `address`/30 with `gateway` as default
  /// route.
  Status configure(std::size_t i, const std::string& address, const std::string& gateway);
  /// Whether every configured namespace's TCP runs CUBIC (as the simulation's); false if
  /// the kernel refused it and the host's default congestion control is used.
  bool cubic_everywhere() const { return cubic_everywhere_; }
  std::string netns(std::size_t i) const;
  /// Host i's /proc/net/netstat and /proc/net/snmp as read inside its namespace: what its
  /// kernel counted (emu/tcp_counters.hpp reads them).
  Result<std::string> proc_net_counters(std::size_t i) const;
  std::string tap(std::size_t i) const;
  /// Deletes what add() made, now.
  void remove_all();

  /// Namespaces of earlier runs whose runner is gone (crashed, killed): their processes are
  /// killed and the namespaces deleted. Returns their names. Call it before this process makes
  /// any: names with its own PID are taken for a dead runner's that had the PID before.
  static std::vector<std::string> sweep_dead_runs();
  /// The namespaces that exist now with our prefix, of any run.
  static std::vector<std::string> existing();

 private:
  pid_t pid_;
  std::vector<std::size_t> made_;
  bool cubic_everywhere_ = true;
};

}  // namespace swarmlab::emu

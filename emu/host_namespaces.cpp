#include "emu/host_namespaces.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace swarmlab::emu {
namespace {

constexpr const char* kPrefix = "swarmlab-emu-";

std::string find_ip() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

// Everything the other end writes until it closes; closes `fd`.
std::string read_to_end(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

int wait_status(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

// What `cmd` printed, and its wait status.
int run_capture(const std::vector<std::string>& argv, std::string& output) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    output = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  output += read_to_end(fds[0]);
  return pid < 0 ? -1 : wait_status(pid);
}

bool runner_alive(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  return comm && std::getline(comm, name) && name == "swarm-emu";
}

}  // namespace

Status run_ip(const std::vector<std::string>& args) {
  static const std::string ip = find_ip();
  if (ip.empty()) return make_error(ErrorCode::NotFound, "the `ip` program (iproute2) is missing");
  std::vector<std::string> argv{ip};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  const int st = run_capture(argv, out);
  if (st == 0) return {};
  std::string cmd = "ip";
  for (const auto& a : args) cmd += " " + a;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return make_error(ErrorCode::IoError, cmd + " failed: " + (out.empty() ? "no output" : out));
}

std::string missing_privileges() {
  std::vector<std::string> missing;
  if (::geteuid() != 0) missing.push_back("root (network namespaces and TAP devices)");
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) missing.push_back("/dev/net/tun");
  if (find_ip().empty()) missing.push_back("the `ip` program (Debian package iproute2)");
  std::string text;
  for (const auto& m : missing) text += (text.empty() ? "" : ", ") + m;
  return text;
}

HostNamespaces::HostNamespaces() : pid_(::getpid()) {
}

HostNamespaces::~HostNamespaces() {
  remove_all();
}

std::string HostNamespaces::netns(std::size_t i) const {
  return kPrefix + std::to_string(pid_) + "-" + std::to_string(i);
}

std::string HostNamespaces::tap(std::size_t i) const {
  return "swl" + std::to_string(pid_) + "t" + std::to_string(i);
}

Result<int> HostNamespaces::add(std::size_t i) {
  if (tap(i).size() >= IFNAMSIZ)
    return make_error(ErrorCode::OutOfRange, "too many hosts for interface names");
  if (auto s = run_ip({"netns", "add", netns(i)}); !s) return s.error();
  made_.push_back(i);
  // Not persistent: the TAP goes away when its descriptor closes, even if we crash.
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::IoError, std::string("/dev/net/tun: ") + std::strerror(errno));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, tap(i).c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(ErrorCode::IoError,
                      "cannot create TAP " + tap(i) + ": " + std::strerror(err));
  }
  return fd;
}

Status HostNamespaces::configure(std::size_t i, const std::string& address,
                                 const std::string& gateway) {
  const auto ns = netns(i);
  const auto dev = tap(i);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"link", "set", "dev", dev, "netns", ns},
           {"-n", ns, "link", "set", "lo", "up"},
           // No IPv6 link-local address: no router solicitations on the wire.
           {"-n", ns, "link", "set", "dev", dev, "addrgenmode", "none"},
           {"-n", ns, "addr", "add", address + "/30", "dev", dev},
           {"-n", ns, "link", "set", "dev", dev, "up"}}) {
    if (auto s = run_ip(args); !s) return s;
  }
  // The simulation's TCP is ns-3's CUBIC; a namespace would otherwise take the host's default
  // (BBR on these machines). Set per route: the namespaces' sysctl is not writable here. A
  // kernel without CUBIC keeps its default, and says so in run.json.
  if (run_ip({"-n", ns, "route", "add", "default", "via", gateway, "congctl", "cubic"})) return {};
  cubic_everywhere_ = false;
  return run_ip({"-n", ns, "route", "add", "default", "via", gateway});
}

// A child enters the namespace and copies both files into a pipe: /proc/self/net is the
// namespace of whoever reads it. Only system calls between fork and _exit (this process has
// other threads).
Result<std::string> HostNamespaces::proc_net_counters(std::size_t i) const {
  const std::string ns_path = "/run/netns/" + netns(i);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(ErrorCode::IoError, std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int ns = ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(2);
    for (const char* file : {"/proc/self/net/netstat", "/proc/self/net/snmp"}) {
      const int fd = ::open(file, O_RDONLY | O_CLOEXEC);
      if (fd < 0) ::_exit(3);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        if (::write(fds[1], buf, static_cast<std::size_t>(n)) != n) ::_exit(4);
      }
      ::close(fd);
    }
    ::_exit(0);
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  std::string text = read_to_end(fds[0]);
  if (pid < 0)
    return make_error(ErrorCode::IoError, std::string("fork: ") + std::strerror(fork_errno));
  const int st = wait_status(pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return text;
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return make_error(ErrorCode::IoError,
                    "reading TCP counters in " + netns(i) + ": " +
                        (code == 2   ? "cannot enter " + ns_path
                         : code == 3 ? std::string("cannot open /proc/self/net/netstat or snmp")
                         : code == 4 ? std::string("cannot write to the runner")
                                     : "the reader ended with status " + std::to_string(st)));
}

void HostNamespaces::remove_all() {
  for (const auto i : made_) {
    // Whatever still runs inside is killed first: a namespace with processes stays alive
    // after `ip netns del`, invisible.
    std::string pids;
    run_capture({find_ip(), "netns", "pids", netns(i)}, pids);
    std::istringstream in(pids);
    for (pid_t p; in >> p;) ::kill(p, SIGKILL);
    (void)run_ip({"netns", "del", netns(i)});
  }
  made_.clear();
}

std::vector<std::string> HostNamespaces::existing() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) == 0) names.push_back(name);
  }
  return names;
}

std::vector<std::string> HostNamespaces::sweep_dead_runs() {
  std::vector<std::string> swept;
  const std::string ip = find_ip();
  if (ip.empty()) return swept;
  for (const auto& name : existing()) {
    const auto rest = name.substr(std::strlen(kPrefix));
    const auto dash = rest.find('-');
    pid_t owner = 0;
    try {
      owner = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    } catch (...) {
      continue;
    }
    // A name with our own PID is a dead runner's that had it before us: we made none yet.
    if (owner != ::getpid() && runner_alive(owner)) continue;
    std::string pids;
    run_capture({ip, "netns", "pids", name}, pids);
    std::istringstream in(pids);
    for (pid_t p; in >> p;) ::kill(p, SIGKILL);
    if (run_ip({"netns", "del", name})) swept.push_back(name);
  }
  return swept;
}

}  // namespace swarmlab::emu

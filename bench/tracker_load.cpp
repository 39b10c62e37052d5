// tracker-load: how many peers and chunk registrations one swarm-tracker holds.
//
//   tracker-load [--tracker-bin PATH] [--peers 10000] [--rate 100000] [--duration 60]
//                [--chunks 4096] [--probe-interval 10ms]
//
// Starts its own swarm-tracker on loopback, opens --peers registered sessions (one TCP
// connection each, as real peers keep), publishes one file of --chunks chunks from the first
// session, then has the sessions register chunks of it (REQUEST_CHUNKS_REGISTER, one chunk
// each, every session walking through the file) at --rate per second in total for --duration
// seconds. Meanwhile one session in turn pings the tracker and another asks for the file's
// owners every --probe-interval, and their reply latencies are recorded: a tracker falling
// behind shows there first. At the end every session pings once; registrations travel ahead
// of the ping on the same connection, so when all pongs are in, the tracker has handled every
// registration sent. Prints the figures and one JSON line. The load generator shares the
// machine with the tracker: the figures are for both on these cores.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "realnet/asio.hpp"
#include "swarmlab/file_info.hpp"
#include "swarmlab/frame_codec.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/units.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace swarmlab;

namespace {

constexpr const char* kFile = "load.bin";

// One session: a connection with a write queue (frames go out in order, one write at a
// time) and a frame decoder for what comes back.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using OnMessage = std::function<void(Session&, Message)>;
  Session(asio::io_context& io, std::size_t index, OnMessage on_message)
      : socket_(io), index_(index), on_message_(std::move(on_message)) {}

  tcp::socket& socket() { return socket_; }
  std::size_t index() const { return index_; }
  bool open() const { return open_; }
  std::uint32_t next_chunk = 0;

  void start() {
    open_ = true;
    read();
  }
  void send(const Message& m) {
    if (!open_) return;
    const auto bytes = encode_frame_bytes(encode_message(m));
    queue_.emplace_back(bytes.begin(), bytes.end());
    if (queue_.size() == 1) write();
  }
  std::size_t queued() const { return queue_.size(); }

 private:
  void write() {
    asio::async_write(socket_, asio::buffer(queue_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->fail("write", ec);
                        self->queue_.pop_front();
                        if (!self->queue_.empty()) self->write();
                      });
  }
  void read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->fail("read", ec);
          if (auto st = self->decoder_.feed({self->buffer_.data(), n}); !st) {
            std::fprintf(stderr, "tracker-load: session %zu: bad frame: %s\n", self->index_,
                         st.error().message.c_str());
            return self->close();
          }
          while (auto frame = self->decoder_.next()) {
            auto m = decode_message(*frame);
            if (m) self->on_message_(*self, std::move(*m));
          }
          self->read();
        });
  }
  void fail(const char* what, boost::system::error_code ec) {
    if (open_) {
      std::fprintf(stderr, "tracker-load: session %zu: %s: %s\n", index_, what,
                   ec.message().c_str());
    }
    close();
  }
  void close() {
    open_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::size_t index_;
  OnMessage on_message_;
  bool open_ = false;
  FrameDecoder decoder_{1 << 20};
  std::array<std::uint8_t, 4096> buffer_{};  // x 10,000 sessions: keep it small
  std::deque<std::string> queue_;
};

// Latencies in milliseconds; percentiles by sorting at the end.
struct Latencies {
  std::vector<double> ms;
  double at(double q) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(ms.size())))];
  }
};

struct ProcUsage {
  double cpu_s = 0;           // user + system
  std::uint64_t rss_kib = 0;  // now
  std::uint64_t hwm_kib = 0;  // peak
};

ProcUsage usage_of(pid_t pid) {
  ProcUsage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    std::vector<std::string> f;
    while (rest >> field) f.push_back(field);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    if (f.size() > 12) {
      const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
      u.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stoull(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) u.hwm_kib = std::stoull(line.substr(6));
  }
  return u;
}

double self_cpu_s() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Starts the tracker with stdout on a pipe; returns its pid and the port it listens on.
std::optional<std::pair<pid_t, std::uint16_t>> start_tracker(const std::string& bin) {
  int out[2];
  if (::pipe(out) != 0) return std::nullopt;
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--no-terminal", "--log-level",
            "warn", static_cast<char*>(nullptr));
    std::perror("tracker-load: exec swarm-tracker");
    ::_exit(127);
  }
  ::close(out[1]);
  std::string seen;
  char c;
  while (seen.find('\n') == std::string::npos && ::read(out[0], &c, 1) == 1) seen += c;
  // The tracker's later lines (none at warn, unless it fails) are not read: keep the pipe
  // open so it never gets SIGPIPE, and let the kernel buffer them.
  const auto colon = seen.rfind(':');
  if (seen.find("listening on") == std::string::npos || colon == std::string::npos) {
    std::fprintf(stderr, "tracker-load: the tracker said \"%s\"\n", seen.c_str());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::nullopt;
  }
  return std::make_pair(pid, static_cast<std::uint16_t>(std::stoul(seen.substr(colon + 1))));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tracker-load: peers and chunk registrations one swarm-tracker holds"};
  std::string tracker_bin = "build/release/realnet/swarm-tracker";
  std::size_t peers = 10000;
  double rate = 100000, duration = 60;
  std::uint32_t chunks = 4096;
  double probe_ms = 10;
  std::size_t connect_window = 256;
  app.add_option("--tracker-bin", tracker_bin, "the swarm-tracker to start")->capture_default_str();
  app.add_option("--peers", peers, "registered sessions")->capture_default_str();
  app.add_option("--rate", rate, "chunk registrations per second, all sessions together")
      ->capture_default_str();
  app.add_option("--duration", duration, "seconds of load")->capture_default_str();
  app.add_option("--chunks", chunks, "chunks of the one file")->capture_default_str();
  app.add_option("--probe-interval", probe_ms, "milliseconds between latency probes")
      ->capture_default_str();
  app.add_option("--connect-window", connect_window, "connections being set up at once")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (peers == 0 || rate <= 0 || duration <= 0 || chunks == 0) {
    std::fprintf(stderr, "tracker-load: --peers, --rate, --duration and --chunks must be > 0\n");
    return 2;
  }

  // Two descriptors per session (ours and the tracker's), which the tracker inherits.
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur =
      std::min<rlim_t>(nofile.rlim_max, std::max<rlim_t>(nofile.rlim_cur, peers + 1024));
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < peers + 64) {
    std::fprintf(stderr, "tracker-load: %zu sessions need %zu descriptors; the limit is %llu\n",
                 peers, peers + 64, static_cast<unsigned long long>(nofile.rlim_cur));
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const auto tracker = start_tracker(tracker_bin);
  if (!tracker) return 1;
  const auto [tracker_pid, port] = *tracker;
  auto stop_tracker = [pid = tracker_pid] {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  };

  asio::io_context io;
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
  std::vector<std::shared_ptr<Session>> sessions;
  std::size_t registered = 0, pongs_due = 0, failed_connects = 0;
  bool published = false, draining = false;
  std::map<std::uint64_t, Clock::time_point> pings, locations;
  Latencies ping_ms, location_ms;
  std::uint32_t next_req = 1;
  Clock::time_point began{};

  auto on_message = [&](Session& s, Message m) {
    if (std::holds_alternative<ReplyRegistry>(m)) {
      ++registered;
    } else if (std::holds_alternative<ReplyToPublish>(m)) {
      published = true;
    } else if (auto* p = std::get_if<PeerPong>(&m)) {
      if (p->nonce == 0) {
        if (draining) --pongs_due;  // the last ping of a session: all it sent is handled
      } else if (auto it = pings.find(p->nonce); it != pings.end()) {
        ping_ms.ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
        pings.erase(it);
      }
    } else if (auto* r = std::get_if<ReplyFileLocation>(&m)) {
      if (auto it = locations.find(r->req); it != locations.end()) {
        location_ms.ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
        locations.erase(it);
      }
    } else if (auto* e = std::get_if<ErrorMessage>(&m)) {
      std::fprintf(stderr, "tracker-load: session %zu: %s\n", s.index(), e->message.c_str());
    }
  };

  // Set-up: connect and register in windows, so the tracker's accept backlog never overflows.
  const auto setup_began = Clock::now();
  std::size_t next_connect = 0, connecting = 0;
  std::function<void()> connect_more = [&] {
    while (connecting < connect_window && next_connect < peers) {
      auto s = std::make_shared<Session>(io, next_connect++, on_message);
      sessions.push_back(s);
      ++connecting;
      s->socket().async_connect(at, [&, s](boost::system::error_code ec) {
        --connecting;
        if (ec) {
          ++failed_connects;
        } else {
          s->start();
          s->send(RequestRegistry{
              next_req++, kProtocolVersion, "load-" + std::to_string(s->index()),
              Endpoint{"127.0.0.1", static_cast<std::uint16_t>(20000 + s->index() % 40000)}});
        }
        connect_more();
      });
    }
  };
  connect_more();
  while (registered + failed_connects < peers) {
    if (io.run_one_for(std::chrono::seconds(30)) == 0) break;
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_began).count();
  if (registered < peers) {
    std::fprintf(stderr, "tracker-load: only %zu of %zu sessions registered (%zu failed)\n",
                 registered, peers, failed_connects);
    stop_tracker();
    return 1;
  }
  std::fprintf(stderr, "tracker-load: %zu sessions registered in %.1f s\n", peers, setup_s);

  std::vector<Digest> hashes(chunks);
  for (std::uint32_t i = 0; i < chunks; ++i) hashes[i][0] = static_cast<std::uint8_t>(i);
  const auto info =
      make_file_info(kFile, std::uint64_t{chunks} * kDefaultChunkSize, kDefaultChunkSize, hashes);
  sessions[0]->send(RequestToPublish{next_req++, info, {}});
  while (!published) {
    if (io.run_one_for(std::chrono::seconds(30)) == 0) break;
  }
  if (!published) {
    std::fprintf(stderr, "tracker-load: the file was not published\n");
    stop_tracker();
    return 1;
  }

  // Load: registrations every tick, round-robin over the sessions; probes in between.
  const auto before_tracker = usage_of(tracker_pid);
  const double before_self = self_cpu_s();
  std::uint64_t sent = 0, probes = 0;
  // Every session sends some: one silent for the tracker's keep-alive timeout (30 s) is
  // rightly dropped.
  std::size_t turn = 0, probe_turn = 0;
  const auto tick = std::chrono::milliseconds(5);
  asio::steady_timer timer(io), probe(io);
  began = Clock::now();
  const auto end =
      began + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::function<void()> on_tick = [&] {
    const auto now = Clock::now();
    if (now >= end) return;
    // As many as the rate allows by now: a late tick catches up instead of losing load.
    const auto due =
        static_cast<std::uint64_t>(rate * std::chrono::duration<double>(now - began).count());
    for (; sent < due; ++sent) {
      Session& s = *sessions[turn];
      turn = (turn + 1) % sessions.size();
      const std::uint32_t c = s.next_chunk;
      s.next_chunk = (c + 1) % chunks;
      s.send(RequestChunksRegister{kFile, {{c, c}}});
    }
    timer.expires_at(now + tick);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) on_tick();
    });
  };
  std::function<void()> on_probe = [&] {
    const auto now = Clock::now();
    if (now >= end) return;
    Session& s = *sessions[probe_turn];
    probe_turn = (probe_turn + 1) % sessions.size();
    const std::uint64_t nonce = ++probes;
    pings[nonce] = now;
    s.send(PeerPing{nonce});
    if (probes % 10 == 0) {
      const auto req = next_req++;
      locations[req] = now;
      sessions[(probe_turn + sessions.size() / 2) % sessions.size()]->send(
          RequestFileLocation{req, kFile, false});
    }
    probe.expires_at(now + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double, std::milli>(probe_ms)));
    probe.async_wait([&](boost::system::error_code ec) {
      if (!ec) on_probe();
    });
  };
  on_tick();
  on_probe();
  std::uint64_t peak_rss_kib = 0;
  asio::steady_timer sample(io);
  std::function<void()> on_sample = [&] {
    peak_rss_kib = std::max(peak_rss_kib, usage_of(tracker_pid).rss_kib);
    if (Clock::now() >= end) return;
    sample.expires_after(std::chrono::milliseconds(500));
    sample.async_wait([&](boost::system::error_code ec) {
      if (!ec) on_sample();
    });
  };
  on_sample();
  while (Clock::now() < end) io.run_one_for(std::chrono::milliseconds(50));
  const double load_s = std::chrono::duration<double>(Clock::now() - began).count();

  // Drain: a ping behind the registrations on every session.
  draining = true;
  for (auto& s : sessions) {
    if (!s->open()) continue;
    s->send(PeerPing{0});
    ++pongs_due;
  }
  while (pongs_due > 0) {
    if (io.run_one_for(std::chrono::seconds(60)) == 0) break;
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - began).count();
  const auto after_tracker = usage_of(tracker_pid);
  const double self_cpu = self_cpu_s() - before_self;
  const std::size_t open = static_cast<std::size_t>(
      std::count_if(sessions.begin(), sessions.end(), [](const auto& s) { return s->open(); }));
  stop_tracker();
  if (pongs_due > 0) {
    std::fprintf(stderr, "tracker-load: %zu sessions never answered the last ping\n", pongs_due);
  }

  // The rate the tracker kept up with: all sent during the load, and handled by the time
  // the last pongs came (drain_ms after the load ended).
  const double handled = static_cast<double>(sent) / total_s;
  const double drain_ms = (total_s - load_s) * 1e3;
  const double tracker_cpu = (after_tracker.cpu_s - before_tracker.cpu_s) / total_s;
  std::printf("sessions            %zu registered (%.1f s to set up), %zu still open\n", peers,
              setup_s, open);
  std::printf(
      "registrations       %llu sent in %.1f s (%.0f/s asked); the last handled %.0f ms "
      "after the load ended: %.0f/s sustained\n",
      static_cast<unsigned long long>(sent), load_s, rate, drain_ms, handled);
  std::printf("ping reply          p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu probes)\n",
              ping_ms.at(0.5), ping_ms.at(0.99), ping_ms.at(1.0), ping_ms.ms.size());
  std::printf("location reply      p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu probes)\n",
              location_ms.at(0.5), location_ms.at(0.99), location_ms.at(1.0),
              location_ms.ms.size());
  std::printf("tracker             RSS %.0f MiB at the end, peak %.0f MiB; CPU %.0f %% of a core\n",
              static_cast<double>(after_tracker.rss_kib) / 1024,
              static_cast<double>(std::max(peak_rss_kib, after_tracker.hwm_kib)) / 1024,
              100 * tracker_cpu);
  std::printf("load generator      CPU %.0f %% of a core\n", 100 * self_cpu / total_s);
  nlohmann::json j = {{"sessions", peers},
                      {"sessions_open", open},
                      {"setup_s", setup_s},
                      {"registrations_sent", sent},
                      {"rate_asked", rate},
                      {"load_s", load_s},
                      {"drained_s", total_s},
                      {"drain_ms", drain_ms},
                      {"registrations_per_s", handled},
                      {"ping_p50_ms", ping_ms.at(0.5)},
                      {"ping_p99_ms", ping_ms.at(0.99)},
                      {"location_p50_ms", location_ms.at(0.5)},
                      {"location_p99_ms", location_ms.at(0.99)},
                      {"tracker_rss_mib", static_cast<double>(after_tracker.rss_kib) / 1024},
                      {"tracker_peak_rss_mib",
                       static_cast<double>(std::max(peak_rss_kib, after_tracker.hwm_kib)) / 1024},
                      {"tracker_cpu_cores", tracker_cpu},
                      {"generator_cpu_cores", self_cpu / total_s}};
  std::printf("%s\n", j.dump().c_str());
  return pongs_due == 0 && open == peers ? 0 : 1;
}

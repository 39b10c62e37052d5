#include "emu/emulation.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "emu/child_process.hpp"
#include "emu/event_tail.hpp"
#include "emu/host_namespaces.hpp"
#include "emu/tcp_counters.hpp"
#include "sim/ns3_headers.hpp"
#include "sim/run_metrics.hpp"
#include "sim/star_schedule.hpp"
#include "sim/star_topology.hpp"
#include "sim/swarm_plan.hpp"
#include "swarmlab/chunk_set.hpp"
#include "swarmlab/file_info.hpp"

namespace swarmlab::emu {

using sim::PeerGroup;
using sim::RunMetrics;
using sim::Scenario;
namespace fs = std::filesystem;

namespace {

constexpr std::uint16_t kTrackerPort = 7000;
constexpr std::uint16_t kPeerPort = 6881;
constexpr std::size_t kTrackerHost = 0;
// The host side is a real network interface: Ethernet-sized packets, whatever the
// scenario's simulated packet size.
constexpr std::uint32_t kMtu = 1500;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// Time the programs get to end by themselves (a peer's goodbye to the tracker) at the end.
constexpr int kStopGraceMs = 2000;
constexpr std::size_t kMaxHosts = 2000;

std::string bytes_arg(std::uint64_t n) {
  return std::to_string(n) + "B";
}
std::string rate_arg(std::uint64_t bps) {
  return std::to_string(bps) + "bps";
}

// The file every origin seed shares: the same bytes for the same scenario and seed.
Status write_source(const std::string& path, std::uint64_t size, std::uint64_t seed) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return make_error(ErrorCode::IoError, "cannot write " + path);
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::uint64_t written = 0; written < size;) {
    for (auto& w : block) {  // splitmix64
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      w = z ^ (z >> 31);
    }
    const auto n = std::min<std::uint64_t>(size - written, block.size() * sizeof(block[0]));
    f.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  f.close();
  if (!f) return make_error(ErrorCode::IoError, "writing " + path + " failed (disk full?)");
  return {};
}

bool same_contents(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  if (fs::file_size(a, ec1) != fs::file_size(b, ec2) || ec1 || ec2) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
      return false;
  }
  return fa.eof() && fb.eof();
}

double cpu_seconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class Emulation {
 public:
  Emulation(const Scenario& s, EmuOptions o, std::function<void(const sim::Progress&)> progress)
      : s_(s),
        o_(std::move(o)),
        progress_(std::move(progress)),
        plans_(sim::plan_peers(s)),
        topo_(kMtu),
        runs_(plans_.size()) {}

  Result<sim::RunResult> run();

 private:
  struct PeerRun {
    bool arrived = false, spawned = false, waiting = false, completed = false, gone = false;
    bool failed = false;
    std::optional<ChildProcess> process;
    std::unique_ptr<EventTail> tail;
  };
  struct Sample {
    Time t;
    RunMetrics::Wire wire;
  };

  static std::size_t host_of(std::size_t peer) { return peer + 1; }
  const PeerGroup& group_of(std::size_t peer) const { return s_.groups[plans_[peer].group]; }
  bool is_leecher(std::size_t peer) const {
    return group_of(peer).role == PeerGroup::Role::Leecher;
  }
  std::string path(const std::string& rel) const { return o_.out + "/" + rel; }
  std::string data_dir(std::size_t peer) const { return path("data/" + plans_[peer].id); }

  Time now() const {
    return time_at(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - epoch_));
  }
  void schedule(Duration at, std::function<void()> fn);
  void note(const std::string& type, nlohmann::json fields);

  Status prepare_folder();
  Status build_wire();
  Status start_tracker();
  std::vector<std::string> peer_argv(std::size_t peer) const;
  void arrive(std::size_t peer);
  void spawn(std::size_t peer);
  void leave(std::size_t peer);
  void crash(std::size_t peer);
  void tracker_event(const sim::TrackerEvent& e);
  void apply(const sim::LinkEvent& e);
  void poll();
  void on_live_event(std::optional<std::size_t> peer, const Event& e);
  void tick();
  void check_done();
  void begin_stop(const std::string& why);
  RunMetrics::Wire wire() const;
  Status write_results(sim::RunResult& r);
  nlohmann::json tcp_json() const;
  nlohmann::json verify_files() const;

  const Scenario& s_;
  EmuOptions o_;
  std::function<void(const sim::Progress&)> progress_;
  std::vector<sim::PeerPlan> plans_;
  std::map<std::string, std::size_t> peer_by_id_;
  sim::StarTopology topo_;
  HostNamespaces namespaces_;
  std::vector<PeerRun> runs_;
  std::vector<ChildProcess> trackers_;  // every incarnation; the last may run
  std::vector<std::unique_ptr<EventTail>> tracker_tails_;
  std::set<std::string> published_;
  std::vector<Event> events_;  // the runner's notes and every program's events
  std::vector<Sample> samples_;
  std::chrono::steady_clock::time_point epoch_, wall_start_;
  Duration offset_{};  // the simulator's time 0, on the epoch's clock
  std::uint64_t epoch_ns_ = 0;
  std::uint64_t bytes_wanted_ = 0, bytes_verified_ = 0;
  std::uint32_t leechers_ = 0, settled_ = 0, completed_ = 0;
  bool stopping_ = false, interrupted_ = false;
  std::optional<Time> end_;
  std::chrono::steady_clock::time_point stop_asked_;
  double max_lag_s_ = 0, lag_sum_s_ = 0;  // measured every poll
  std::uint64_t lag_samples_ = 0;
  std::vector<std::string> host_addresses_;  // by host: the address inside its namespace
  std::uint64_t ns3_events_ = 0;
  TcpCounters tcp_;             // Linux's, summed over the hosts
  std::size_t tcp_unread_ = 0;  // hosts whose counters could not be read
  std::string tcp_unread_because_;
  bool tracker_down_ = false;  // crashed on schedule or ended by itself
  std::string stop_reason_;
};

void Emulation::schedule(Duration at, std::function<void()> fn) {
  const auto delay = at - offset_ - Duration(ns3::Simulator::Now().GetNanoSeconds());
  ns3::Simulator::Schedule(ns3::NanoSeconds(std::max<Duration::rep>(0, delay.count())),
                           std::move(fn));
}

void Emulation::note(const std::string& type, nlohmann::json fields) {
  if (!fields.is_object()) fields = nlohmann::json::object();
  events_.push_back(Event{now(), "emu", type, std::move(fields)});
}

Status Emulation::prepare_folder() {
  std::error_code ec;
  // Run as root and told to clean the folder up: only a folder that is new, empty or an
  // earlier run's (its scenario.json, written first) is ours to clean.
  if (fs::exists(o_.out, ec) && !fs::is_empty(o_.out, ec) &&
      !fs::exists(path("scenario.json"), ec)) {
    return make_error(ErrorCode::InvalidArgument,
                      o_.out +
                          " holds files but no run folder (no scenario.json): give a new or "
                          "empty folder, or an earlier run's");
  }
  // An earlier run's event logs must not be read as this run's (a program truncates its log
  // only once it has started), nor its logs appended to.
  for (const auto* dir : {"/nodes", "/logs", "/data"}) fs::remove_all(o_.out + dir, ec);
  for (const auto* dir : {"", "/nodes", "/logs", "/data/source"}) {
    fs::create_directories(o_.out + dir, ec);
    if (ec)
      return make_error(ErrorCode::IoError, "cannot create " + o_.out + dir + ": " + ec.message());
  }
  // An earlier run's summary must not pass for this one's.
  fs::remove(path("summary.json"), ec);
  fs::remove(path("run.json"), ec);
  {
    std::ofstream scenario_file(path("scenario.json"), std::ios::trunc);
    scenario_file << sim::to_json(s_).dump(2) << '\n';
    if (!scenario_file)
      return make_error(ErrorCode::IoError, "cannot write " + path("scenario.json"));
  }
  for (std::size_t f = 0; f < s_.files.size(); ++f) {
    const auto& file = s_.files[f];
    if (auto st = write_source(path("data/source/" + file.name), file.size, s_.seed * 1000 + f);
        !st)
      return st;
  }
  for (std::size_t p = 0; p < plans_.size(); ++p) {
    peer_by_id_[plans_[p].id] = p;
    fs::create_directories(data_dir(p), ec);
    if (ec)
      return make_error(ErrorCode::IoError, "cannot create " + data_dir(p) + ": " + ec.message());
    const auto& g = group_of(p);
    const auto& file = s_.file_named(g.file.empty() ? s_.files.front().name : g.file);
    if (g.role == PeerGroup::Role::Seeder) {
      // Each origin seed has its own name for the one source file.
      fs::create_hard_link(path("data/source/" + file.name), data_dir(p) + "/" + file.name, ec);
      if (ec)
        return make_error(ErrorCode::IoError, "cannot link " + data_dir(p) + ": " + ec.message());
    } else {
      ++leechers_;
      bytes_wanted_ += file.size;
    }
  }
  return {};
}

Status Emulation::build_wire() {
  topo_.add(sim::AccessLink{s_.tracker.up_bps, s_.tracker.down_bps, s_.tracker.delay, 0.0});
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    const auto& g = group_of(i);
    topo_.add(sim::AccessLink{g.up_bps, g.down_bps, plans_[i].delay, g.loss});
  }
  topo_.build();
  for (std::size_t h = 0; h < topo_.size(); ++h) {
    auto fd = namespaces_.add(h);
    if (!fd) return fd.error();
    auto device = ns3::CreateObject<ns3::FdNetDevice>();
    device->SetAddress(ns3::Mac48Address::Allocate());
    device->SetEncapsulationMode(ns3::FdNetDevice::DIX);
    device->SetFileDescriptor(*fd);
    const auto host = topo_.attach_host(h, device);
    // The leaf's side of the host's /30 is the address just below the host's.
    auto gateway = ns3::Ipv4Address(host.c_str());
    gateway.Set(gateway.Get() - 1);
    std::ostringstream gw;
    gateway.Print(gw);
    if (auto st = namespaces_.configure(h, host, gw.str()); !st) return st;
    host_addresses_.push_back(host);
  }
  return {};
}

Status Emulation::start_tracker() {
  const auto n = trackers_.size() + 1;
  const auto events = path("nodes/tracker-" + std::to_string(n) + ".jsonl");
  ChildSpec spec;
  spec.argv = {
      o_.tracker_program, "--no-terminal",
      "--listen",         host_addresses_[kTrackerHost] + ":" + std::to_string(kTrackerPort),
      "--events",         events,
      "--epoch",          std::to_string(epoch_ns_)};
  spec.netns = namespaces_.netns(kTrackerHost);
  spec.log_path = path("logs/tracker.log");
  auto child = ChildProcess::spawn(spec);
  if (!child) return child.error();
  trackers_.push_back(std::move(*child));
  tracker_down_ = false;
  tracker_tails_.push_back(std::make_unique<EventTail>(events));
  return {};
}

std::vector<std::string> Emulation::peer_argv(std::size_t peer) const {
  const auto& g = group_of(peer);
  const auto& file = s_.file_named(g.file.empty() ? s_.files.front().name : g.file);
  const auto resolved = sim::to_json(s_);
  std::vector<std::string> a = {
      o_.peer_program, "--no-terminal", "--tracker",
      host_addresses_[kTrackerHost] + ":" + std::to_string(kTrackerPort), "--listen",
      host_addresses_[host_of(peer)] + ":" + std::to_string(kPeerPort), "--id", plans_[peer].id,
      "--events", path("nodes/" + plans_[peer].id + ".jsonl"), "--epoch", std::to_string(epoch_ns_),
      "--chunk-strategy", resolved["strategy"]["chunk"].get<std::string>(), "--peer-strategy",
      resolved["strategy"]["peer"].get<std::string>(), "--block-size",
      bytes_arg(s_.download.block_size), "--inflight-per-peer",
      std::to_string(s_.download.max_inflight_per_peer), "--inflight-total",
      std::to_string(s_.download.max_inflight_total), "--max-uploads",
      std::to_string(s_.upload.max_connections),
      // The simulated peer's pipeline depths, not the LAN defaults of swarm-peer.
      "--min-inflight-per-peer", std::to_string(s_.download.min_inflight_per_peer),
      "--chunks-per-downloader", std::to_string(s_.upload.chunks_per_downloader),
      // What the simulated peer is told (Simulation::build): its uplink's rate, the pacing
      // while it downloads, and the pacing at all times.
      "--upload-capacity", rate_arg(g.up_bps)};
  if (s_.seed_upload_limit > 0) {
    a.insert(a.end(),
             {"--max-upload-rate", rate_arg(static_cast<std::uint64_t>(
                                       static_cast<double>(g.up_bps) * s_.seed_upload_limit))});
  }
  if (g.retry_after > Duration::zero()) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(g.retry_after).count();
    // As the simulated peer: retried without end, after a fixed wait.
    a.insert(a.end(), {"--retries", "1000000", "--retry-wait", std::to_string(ms) + "ms",
                       "--retry-wait-max", std::to_string(ms) + "ms"});
  } else {
    a.insert(a.end(), {"--retries", "0"});
  }
  if (g.role == PeerGroup::Role::Seeder) {
    a.insert(a.end(), {"--publish", data_dir(peer) + "/" + file.name, "--chunk-size",
                       bytes_arg(file.chunk_size)});
  } else {
    a.insert(a.end(), {"--download", file.name, "--output", data_dir(peer) + "/", "--seed"});
  }
  return a;
}

void Emulation::arrive(std::size_t peer) {
  auto& run = runs_[peer];
  if (stopping_ || run.arrived) return;
  const auto& g = group_of(peer);
  const auto h = host_of(peer);
  run.arrived = true;
  note("peer_arrived", {{"peer", plans_[peer].id},
                        {"group", g.name},
                        {"role", g.role == PeerGroup::Role::Seeder ? "seeder" : "leecher"},
                        {"address", host_addresses_[h]},
                        {"delay_ms", std::round(to_seconds(plans_[peer].delay) * 1e6) / 1e3},
                        {"up_bps", topo_.link(h).up_bps},
                        {"down_bps", topo_.link(h).down_bps}});
  const auto file = g.file.empty() ? s_.files.front().name : g.file;
  if (g.role == PeerGroup::Role::Leecher && !published_.contains(file)) {
    run.waiting = true;  // nobody can want a file before it exists (as in the simulation)
    return;
  }
  spawn(peer);
}

void Emulation::spawn(std::size_t peer) {
  auto& run = runs_[peer];
  run.waiting = false;
  if (run.spawned || run.gone || stopping_) return;
  ChildSpec spec;
  spec.argv = peer_argv(peer);
  spec.netns = namespaces_.netns(host_of(peer));
  spec.log_path = path("logs/" + plans_[peer].id + ".log");
  auto child = ChildProcess::spawn(spec);
  if (!child) {
    note("peer_start_failed", {{"peer", plans_[peer].id}, {"error", child.error().message}});
    run.gone = run.failed = true;
    check_done();
    return;
  }
  run.spawned = true;
  run.process.emplace(std::move(*child));
  run.tail = std::make_unique<EventTail>(path("nodes/" + plans_[peer].id + ".jsonl"));
  note("peer_started", {{"peer", plans_[peer].id}, {"pid", run.process->pid()}});
}

void Emulation::leave(std::size_t peer) {
  auto& run = runs_[peer];
  if (run.gone || !run.arrived || stopping_) return;
  run.gone = true;
  run.waiting = false;
  note("peer_left", {{"peer", plans_[peer].id}});
  if (run.process) run.process->signal(SIGTERM);
  check_done();
}

void Emulation::crash(std::size_t peer) {
  auto& run = runs_[peer];
  if (run.gone || !run.arrived || stopping_) return;
  run.gone = true;
  run.waiting = false;
  note("peer_crashed", {{"peer", plans_[peer].id}});
  if (run.process) run.process->signal(SIGKILL);
  check_done();
}

void Emulation::tracker_event(const sim::TrackerEvent& e) {
  if (stopping_) return;
  const bool up = !trackers_.empty() && !tracker_down_;
  if (e.action == sim::TrackerEvent::Action::Crash) {
    if (!up) return;
    note("tracker_crashed", {});
    tracker_down_ = true;
    trackers_.back().signal(SIGKILL);
  } else {
    if (up) return;
    note("tracker_restarted", {});
    if (auto st = start_tracker(); !st)
      note("tracker_start_failed", {{"error", st.error().message}});
  }
}

void Emulation::apply(const sim::LinkEvent& e) {
  if (stopping_) return;
  note("link_changed", sim::link_event_fields(e));
  sim::apply_link_event(topo_, s_, plans_, e);
}

void Emulation::on_live_event(std::optional<std::size_t> peer, const Event& e) {
  if (!peer) {
    if (e.type == "file_published") {
      const auto file = e.fields.value("file", std::string{});
      if (published_.insert(file).second) {
        for (std::size_t p = 0; p < runs_.size(); ++p) {
          const auto& g = group_of(p);
          if (runs_[p].waiting && (g.file.empty() ? s_.files.front().name : g.file) == file)
            spawn(p);
        }
      }
    }
    return;
  }
  auto& run = runs_[*peer];
  if (e.type == "chunk_received") {
    bytes_verified_ += e.fields.value("bytes", std::uint64_t{0});
  } else if (e.type == "download_completed" && !run.completed && is_leecher(*peer)) {
    run.completed = true;
    ++completed_;
    const auto& g = group_of(*peer);
    if (g.departure.kind == sim::DepartureSpec::Kind::AfterCompletion) {
      const auto p = *peer;
      schedule(e.time.time_since_epoch() + g.departure.seed_time, [this, p] { leave(p); });
    }
    check_done();
  }
}

void Emulation::poll() {
  // How late the wire runs: its events fire when the wall clock reaches them, unless it is
  // too busy to keep up.
  const double lag_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count() -
      to_seconds(offset_) - ns3::Simulator::Now().GetSeconds();
  max_lag_s_ = std::max(max_lag_s_, lag_s);
  lag_sum_s_ += lag_s;
  ++lag_samples_;
  if (!stopping_) {
    // SIGINT, SIGTERM and SIGHUP are blocked in every thread (run_emulated): taken here, on
    // the wire's own thread, between its events.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
    const timespec no_wait{};
    if (::sigtimedwait(&stop_signals, nullptr, &no_wait) > 0) {
      interrupted_ = true;
      begin_stop("interrupted");
    }
  }
  for (auto& tail : tracker_tails_) {
    for (auto& e : tail->read_new()) {
      on_live_event(std::nullopt, e);
      events_.push_back(std::move(e));
    }
  }
  for (std::size_t p = 0; p < runs_.size(); ++p) {
    auto& run = runs_[p];
    if (!run.tail) continue;
    // Reaped before its log is read: what it wrote before it ended is seen first.
    const bool ended = run.process && !run.process->poll();
    for (auto& e : run.tail->read_new()) {
      on_live_event(p, e);
      events_.push_back(std::move(e));
    }
    if (ended && !run.gone && !stopping_) {
      // Ended by itself: a final failure (retries spent), or a crash of the program.
      run.gone = true;
      run.failed = !run.completed;
      note("peer_exited", {{"peer", plans_[p].id}, {"how", run.process->describe_end()}});
      check_done();
    }
  }
  if (!trackers_.empty() && !trackers_.back().poll() && !stopping_ && !tracker_down_) {
    tracker_down_ = true;  // it ended by itself: said once, until a restart
    note("tracker_exited", {{"how", trackers_.back().describe_end()}});
  }
  if (stopping_) {
    const bool any_running =
        std::any_of(runs_.begin(), runs_.end(),
                    [](const PeerRun& r) { return r.process && r.process->running(); }) ||
        std::any_of(trackers_.begin(), trackers_.end(), [](ChildProcess& t) { return t.poll(); });
    if (!any_running ||
        std::chrono::steady_clock::now() - stop_asked_ > std::chrono::milliseconds(kStopGraceMs)) {
      ns3::Simulator::Stop();
      return;
    }
  }
  ns3::Simulator::Schedule(ns3::MilliSeconds(kPollInterval.count()), [this] { poll(); });
}

RunMetrics::Wire Emulation::wire() const {
  return sim::measure_wire(topo_, s_, plans_,
                           [this](std::size_t p) { return runs_[p].arrived && !runs_[p].gone; });
}

void Emulation::tick() {
  if (stopping_) return;  // the end's own sample is taken by begin_stop
  samples_.push_back(Sample{now(), wire()});
  if (progress_) {
    sim::Progress p;
    p.sim_time_s = to_seconds(now());
    p.stop_time_s = to_seconds(s_.stop_time);
    p.done = settled_;
    p.leechers = leechers_;
    if (bytes_wanted_ > 0)
      p.verified_fraction =
          static_cast<double>(bytes_verified_) / static_cast<double>(bytes_wanted_);
    p.wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    progress_(p);
  }
  ns3::Simulator::Schedule(ns3::NanoSeconds(s_.snapshot_interval.count()), [this] { tick(); });
}

void Emulation::check_done() {
  std::uint32_t settled = 0;
  for (std::size_t p = 0; p < runs_.size(); ++p) {
    if (is_leecher(p) && (runs_[p].completed || runs_[p].gone)) ++settled;
  }
  settled_ = settled;
  if (stopping_ || !s_.stop_when_all_done || settled_ < leechers_) return;
  note("all_done", {{"completed", completed_}, {"leechers", leechers_}});
  begin_stop("all_done");
}

void Emulation::begin_stop(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = why;
  end_ = now();
  samples_.push_back(Sample{*end_, wire()});
  if (why == "interrupted") note("interrupted", {});
  stop_asked_ = std::chrono::steady_clock::now();
  for (auto& run : runs_) {
    if (run.process) run.process->signal(SIGTERM);
  }
  for (auto& t : trackers_) t.signal(SIGTERM);
}

nlohmann::json Emulation::verify_files() const {
  nlohmann::json identical = nlohmann::json::array(), different = nlohmann::json::array();
  for (std::size_t p = 0; p < plans_.size(); ++p) {
    if (!runs_[p].completed) continue;
    const auto& g = group_of(p);
    const auto name = g.file.empty() ? s_.files.front().name : g.file;
    (same_contents(data_dir(p) + "/" + name, path("data/source/" + name)) ? identical : different)
        .push_back(plans_[p].id);
  }
  return {{"checked", identical.size() + different.size()},
          {"identical", identical.size()},
          {"different", different}};
}

Status Emulation::write_results(sim::RunResult& r) {
  const Time end = end_.value_or(now());
  // Shutdown chatter after the end is not part of the run (the simulation has none).
  std::erase_if(events_, [&](const Event& e) { return e.time > end; });
  // A peer told to leave, or killed, says goodbye or dies mid-write: what it records after
  // the moment it was stopped is not part of the run (a simulated peer stops at once).
  std::map<std::string, Time> stopped_at;
  for (const auto& e : events_) {
    if (e.node == "emu" && (e.type == "peer_left" || e.type == "peer_crashed"))
      stopped_at.emplace(e.fields.value("peer", std::string{}), e.time);
  }
  std::erase_if(events_, [&](const Event& e) {
    const auto it = stopped_at.find(e.node);
    return it != stopped_at.end() && e.time > it->second;
  });
  std::stable_sort(events_.begin(), events_.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });

  std::ofstream events(path("events.jsonl"), std::ios::trunc);
  std::ofstream csv(path("swarm.csv"), std::ios::trunc);
  if (!events || !csv)
    return make_error(ErrorCode::IoError, "cannot write the run folder " + o_.out);
  csv << RunMetrics::csv_header();

  // The run again, in time order: what the simulation computes as it goes.
  RunMetrics metrics(s_, plans_);
  const auto& primary = s_.files.front();
  const auto chunks = static_cast<std::uint32_t>(chunk_count_for(primary.size, primary.chunk_size));
  std::vector<ChunkSet> have;
  for (std::size_t p = 0; p < plans_.size(); ++p) {
    const auto& g = group_of(p);
    const bool primary_seed =
        g.role == PeerGroup::Role::Seeder && (g.file.empty() || g.file == primary.name);
    have.push_back(primary_seed ? ChunkSet::full(chunks) : ChunkSet(chunks));
  }
  std::size_t next_sample = 0;
  std::uint64_t written = 0;
  for (const auto& e : events_) {
    while (next_sample < samples_.size() && samples_[next_sample].t <= e.time) {
      csv << RunMetrics::csv_row(
          metrics.snapshot(samples_[next_sample].t, samples_[next_sample].wire));
      ++next_sample;
    }
    metrics.on_event(e);
    if (e.node == "emu") {
      const auto it = peer_by_id_.find(e.fields.value("peer", std::string{}));
      if (it != peer_by_id_.end()) {
        const auto p = it->second;
        if (e.type == "peer_arrived") metrics.peer_online(p, have[p]);
        if (e.type == "peer_left") metrics.peer_offline(p, have[p], e.time, false);
        if (e.type == "peer_crashed") metrics.peer_offline(p, have[p], e.time, true);
        if (e.type == "peer_exited" || e.type == "peer_start_failed") {
          // It ended by itself: offline, and a failure (not a crash) unless it had finished.
          metrics.peer_offline(p, have[p], e.time, false);
          metrics.peer_failed(p);
        }
      }
    } else if (e.type == "chunk_received" &&
               e.fields.value("file", std::string{}) == primary.name) {
      const auto it = peer_by_id_.find(e.node);
      const auto index = e.fields.value("index", std::uint64_t{UINT64_MAX});
      if (it != peer_by_id_.end() && index < chunks &&
          !have[it->second].contains(static_cast<std::uint32_t>(index))) {
        have[it->second].insert(static_cast<std::uint32_t>(index));
        metrics.chunk_added(it->second, static_cast<std::uint32_t>(index));
      }
    }
    if (!s_.record_chunks &&
        (e.type == "chunk_received" || e.type == "endgame_request" || e.type == "request_moved"))
      continue;
    events << e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    ++written;
  }
  for (; next_sample < samples_.size(); ++next_sample) {
    csv << RunMetrics::csv_row(
        metrics.snapshot(samples_[next_sample].t, samples_[next_sample].wire));
  }
  r.summary = metrics.summary(end);
  r.summary["world"] = "emulated";

  std::uint64_t bad_lines = 0;
  nlohmann::json processes = nlohmann::json::array();
  for (std::size_t i = 0; i < trackers_.size(); ++i) {
    bad_lines += tracker_tails_[i]->bad_lines();
    processes.push_back(
        {{"node", "tracker"}, {"pid", trackers_[i].pid()}, {"end", trackers_[i].describe_end()}});
  }
  for (std::size_t p = 0; p < runs_.size(); ++p) {
    if (!runs_[p].process) continue;
    bad_lines += runs_[p].tail->bad_lines();
    processes.push_back({{"node", plans_[p].id},
                         {"pid", runs_[p].process->pid()},
                         {"end", runs_[p].process->describe_end()}});
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  r.run = {{"world", "emulated"},
           {"wall_time_s", wall},
           {"emulated_time_s", to_seconds(end)},
           {"stopped_by", stop_reason_.empty() ? "stop_time" : stop_reason_},
           {"interrupted", interrupted_},
           {"chunk_bytes_verified", metrics.chunk_bytes()},
           {"events_written", written},
           {"unreadable_event_lines", bad_lines},
           {"packet_size", kMtu},
           {"tcp_congestion_control",
            namespaces_.cubic_everywhere() ? "cubic" : "the host's default (no cubic)"},
           {"wire",
            {{"cpu_s", cpu_seconds(RUSAGE_SELF)},
             {"max_lag_ms", max_lag_s_ * 1e3},
             {"mean_lag_ms",
              lag_samples_ > 0 ? lag_sum_s_ / static_cast<double>(lag_samples_) * 1e3 : 0.0},
             {"ns3_events", ns3_events_},
             {"queue_drops",
              {{"packets", topo_.queue_drops().packets}, {"bytes", topo_.queue_drops().bytes}}}}},
           {"tcp", tcp_json()},
           {"programs_cpu_s", cpu_seconds(RUSAGE_CHILDREN)},
           {"processes", processes},
           {"strategy_not_applied", strategy_not_applied(s_)},
           {"files", verify_files()}};

  std::ofstream summary_file(path("summary.json"), std::ios::trunc);
  summary_file << r.summary.dump(2) << '\n';
  std::ofstream run_file(path("run.json"), std::ios::trunc);
  run_file << r.run.dump(2) << '\n';
  events.flush();
  csv.flush();
  if (!events || !csv || !summary_file || !run_file)
    return make_error(ErrorCode::IoError,
                      "writing the run folder " + o_.out + " failed (disk full?)");
  return {};
}

// Linux's counters beside the simulation's tcp_timeouts, tcp_fast_recoveries and
// tcp_loss_probes (ns-3 counts entries into loss recovery; Linux every expiry of the timer,
// so repeats while backing off count too).
nlohmann::json Emulation::tcp_json() const {
  auto j = tcp_.to_json();
  j["counted_by"] = "Linux, summed over the hosts' namespaces";
  if (tcp_unread_ > 0) {
    j["hosts_unread"] = tcp_unread_;
    j["unread_because"] = tcp_unread_because_;
  }
  return j;
}

Result<sim::RunResult> Emulation::run() {
  wall_start_ = std::chrono::steady_clock::now();
  if (auto st = prepare_folder(); !st) return st.error();

  ns3::GlobalValue::Bind("SimulatorImplementationType",
                         ns3::StringValue("ns3::RealtimeSimulatorImpl"));
  // The kernels at either end check and expect real checksums.
  ns3::GlobalValue::Bind("ChecksumEnabled", ns3::BooleanValue(true));
  ns3::RngSeedManager::SetSeed(1);
  ns3::RngSeedManager::SetRun(s_.seed + 1);
  if (auto st = build_wire(); !st) return st.error();

  epoch_ = std::chrono::steady_clock::now();
  epoch_ns_ = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(epoch_.time_since_epoch()).count());
  // The tracker first, listening before anyone arrives: a peer that finds no tracker at its
  // first try waits a second before the next.
  if (auto st = start_tracker(); !st) return st.error();
  const auto listening_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::ifstream log(path("logs/tracker.log"));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("Tracker listening") != std::string::npos) break;
    if (!trackers_.back().poll() || std::chrono::steady_clock::now() > listening_by) {
      return make_error(ErrorCode::IoError, "the tracker did not start (" +
                                                trackers_.back().describe_end() + "); see " +
                                                path("logs/tracker.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  offset_ = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - epoch_);

  for (std::size_t p = 0; p < plans_.size(); ++p) {
    schedule(plans_[p].arrival, [this, p] { arrive(p); });
    if (plans_[p].crash_at) schedule(*plans_[p].crash_at, [this, p] { crash(p); });
    if (plans_[p].leave_at) schedule(*plans_[p].leave_at, [this, p] { leave(p); });
  }
  for (const auto& e : s_.tracker.events) schedule(e.at, [this, e] { tracker_event(e); });
  for (const auto& e : s_.link_events) schedule(e.at, [this, e] { apply(e); });
  schedule(Duration::zero(), [this] { tick(); });
  schedule(Duration::zero(), [this] { poll(); });
  schedule(s_.stop_time, [this] { begin_stop("stop_time"); });

  ns3::Simulator::Run();
  ns3_events_ = ns3::Simulator::GetEventCount();
  // Whoever is still running after the grace is killed, and everyone is reaped.
  for (auto& run : runs_) {
    if (run.process) run.process->stop(0);
  }
  for (auto& t : trackers_) t.stop(0);
  for (auto& tail : tracker_tails_) {
    for (auto& e : tail->read_new()) events_.push_back(std::move(e));
  }
  for (auto& run : runs_) {
    if (!run.tail) continue;
    for (auto& e : run.tail->read_new()) events_.push_back(std::move(e));
  }
  ns3::Simulator::Destroy();
  // Every program has ended. Sockets they left closing may still count a timer expiry or two
  // (their packets no longer cross the wire), which only adds to Linux's side.
  for (std::size_t h = 0; h < topo_.size(); ++h) {
    auto text = namespaces_.proc_net_counters(h);
    const auto counters = text ? parse_tcp_counters(*text) : std::nullopt;
    if (counters) {
      tcp_ += *counters;
      continue;
    }
    if (tcp_unread_++ == 0) {
      tcp_unread_because_ = text ? namespaces_.netns(h) +
                                       ": no TcpExt or Tcp counters in its "
                                       "/proc/net/netstat and snmp"
                                 : text.error().message;
      std::fprintf(stderr, "swarm-emu: warning: %s; run.json's tcp leaves such hosts out\n",
                   tcp_unread_because_.c_str());
    }
  }
  namespaces_.remove_all();

  sim::RunResult r;
  if (auto st = write_results(r); !st) return st.error();
  if (!o_.keep_data) {
    std::error_code ec;
    fs::remove_all(path("data"), ec);
  }
  return r;
}

}  // namespace

std::vector<std::string> strategy_not_applied(const Scenario& s) {
  // What peer_argv passes to swarm-peer; the programs' own defaults hold for the rest.
  static const std::set<std::string> passed = {"chunk",
                                               "peer",
                                               "block_size",
                                               "inflight_per_peer",
                                               "inflight_total",
                                               "max_upload_connections",
                                               "seed_upload_limit"};
  const auto mine = sim::to_json(s)["strategy"];
  const auto defaults = sim::to_json(Scenario{})["strategy"];
  std::vector<std::string> fields;
  for (const auto& [key, value] : mine.items()) {
    if (passed.contains(key) || defaults.value(key, nlohmann::json()) == value) continue;
    // --upload-capacity paces to 95 % while downloading, the default fraction.
    fields.push_back("strategy." + key);
  }
  return fields;
}

std::string unsupported_by_emulation(const Scenario& s) {
  for (std::size_t i = 0; i < s.groups.size(); ++i) {
    if (s.groups[i].corrupt)
      return "groups[" + std::to_string(i) +
             "].corrupt: real peers serve only what they hold; swarm-emu cannot make one lie";
  }
  if (s.download.block_size < 4096)
    return "strategy.block_size: swarm-peer asks for blocks of at least 4 KiB";
  for (std::size_t i = 0; i < s.groups.size(); ++i) {
    if (s.groups[i].retry_after > std::chrono::minutes(5))
      return "groups[" + std::to_string(i) +
             "].retry_after: swarm-peer waits at most 5 minutes between retries";
  }
  if (s.peer_count() + 1 > kMaxHosts)
    return std::to_string(s.peer_count()) + " peers: swarm-emu runs at most " +
           std::to_string(kMaxHosts - 1) + " (each is a process and a namespace)";
  return {};
}

Result<sim::RunResult> run_emulated(const Scenario& s, const EmuOptions& options,
                                    const std::function<void(const sim::Progress&)>& progress) {
  // Blocked here, before ns-3 starts its device threads (they inherit the mask): a stop signal
  // can then only be taken by the wire's thread, between events (Emulation::poll), and the
  // `ip` helpers, which share our process group, are not killed by a Ctrl-C mid-cleanup.
  sigset_t stop_signals, before;
  sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &before);
  // A reader of our output that goes away must not take the runner (and its cleanup) along.
  const auto pipe_before = ::signal(SIGPIPE, SIG_IGN);
  // Each host costs a few descriptors (its TAP, ns-3's reader pipe).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  Result<sim::RunResult> result = make_error(ErrorCode::IoError, "not run");
  {
    Emulation e(s, options, progress);
    result = e.run();
  }
  ::signal(SIGPIPE, pipe_before);
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return result;
}

}  // namespace swarmlab::emu

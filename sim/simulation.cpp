#include "sim/simulation.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <set>

#include "sim/ns3_headers.hpp"
#include "sim/ns3_host.hpp"
#include "sim/run_metrics.hpp"
#include "sim/sim_chunk_store.hpp"
#include "sim/star_schedule.hpp"
#include "sim/star_topology.hpp"
#include "sim/swarm_plan.hpp"
#include "sim/tcp_config.hpp"
#include "swarmlab/peer.hpp"
#include "swarmlab/tracker.hpp"
#include "swarmlab/units.hpp"

namespace swarmlab::sim {
namespace {

constexpr std::uint16_t kTrackerPort = 7000;
constexpr std::uint16_t kPeerPort = 6881;
constexpr std::size_t kTrackerHost = 0;

// TCP payload per segment: the simulated MTU less the headers.
std::uint32_t segment_size(const Scenario& s) {
  return resolve_packet_size(s) - kTcpIpHeaderBytes;
}

Time sim_now() {
  return time_at(Duration(ns3::Simulator::Now().GetNanoSeconds()));
}
ns3::Time at(Duration d) {
  return ns3::NanoSeconds(d.count());
}

class Simulation final : public HostObserver {
 public:
  Simulation(const Scenario& s, std::string out, std::function<void(const Progress&)> progress)
      : s_(s),
        out_(std::move(out)),
        progress_(std::move(progress)),
        plans_(plan_peers(s)),
        corrupters_(std::make_shared<std::set<std::string>>()),
        topo_(resolve_packet_size(s)),
        metrics_(s, plans_) {}

  Result<RunResult> run();

  void on_record(std::size_t host, const Event& e) override;
  void on_notice(std::size_t host, const Notify& n) override;
  void on_payload_sent(std::size_t, std::uint64_t bytes) override { payload_sent_ += bytes; }
  void on_tcp_recovery(std::size_t host, bool timeout) override {
    ++(timeout ? tcp_timeouts_ : tcp_fast_recoveries_);
    if (timeout && host > 0 && host <= plans_.size()) ++group_timeouts_[plans_[host - 1].group];
  }
  void on_tcp_loss_probe(std::size_t) override { ++tcp_loss_probes_; }
  void on_tcp_hystart_exit(std::size_t, bool by_delay) override {
    ++(by_delay ? tcp_hystart_delay_exits_ : tcp_hystart_train_exits_);
  }

 private:
  struct PeerRun {
    bool acted = false;  // published or started downloading after first joining
    bool gone = false;   // left or crashed
    bool downloading = false;
    bool waiting = false;  // for its file to be published
  };

  static std::size_t host_of(std::size_t peer) { return peer + 1; }
  const PeerGroup& group_of(std::size_t peer) const { return s_.groups[plans_[peer].group]; }
  const ChunkSet& have(std::size_t peer) const;

  void configure_tcp();
  void build();
  void write_event(const Event& e);
  void note(const std::string& type, nlohmann::json fields) {
    if (!fields.is_object()) fields = nlohmann::json::object();  // `{}` is null in nlohmann
    const Event e{sim_now(), "sim", type, std::move(fields)};
    metrics_.on_event(e);
    write_event(e);
  }
  void arrive(std::size_t peer);
  void start_download(std::size_t peer);
  void leave(std::size_t peer);
  void crash(std::size_t peer);
  void apply(const LinkEvent& e);
  void tick();
  void check_done();
  RunMetrics::Wire wire() const;
  /// One groups.csv row per group: what its uplinks carried since the last snapshot.
  void write_group_rows();

  const Scenario& s_;
  std::string out_;
  std::function<void(const Progress&)> progress_;
  std::vector<PeerPlan> plans_;
  FileCatalogue catalogue_;
  std::shared_ptr<std::set<std::string>> corrupters_;
  StarTopology topo_;
  FrameChannel channel_;
  RunMetrics metrics_;
  std::vector<std::unique_ptr<SimChunkStore>> stores_;  // by host
  std::vector<ns3::Ptr<Ns3Host>> hosts_;
  std::vector<PeerRun> runs_;
  std::set<std::string> published_;
  std::ofstream events_, csv_, groups_csv_;
  std::unique_ptr<TrafficTrace> trace_;            // with record_traffic
  std::vector<std::uint64_t> group_uplink_bytes_;  // by group, at the last snapshot
  Time last_group_snapshot_{};
  std::uint64_t events_written_ = 0, payload_sent_ = 0;
  std::uint64_t tcp_timeouts_ = 0, tcp_fast_recoveries_ = 0, tcp_loss_probes_ = 0;
  std::uint64_t tcp_hystart_train_exits_ = 0, tcp_hystart_delay_exits_ = 0;
  std::vector<std::uint64_t> group_timeouts_;  // by group: timeouts of what its peers sent
  ChunkSet empty_;
  std::chrono::steady_clock::time_point wall_start_;
  bool stopping_ = false;
};

const ChunkSet& Simulation::have(std::size_t peer) const {
  const auto* c = stores_[host_of(peer)]->chunks(group_of(peer).file);
  return c != nullptr ? *c : empty_;
}

void Simulation::configure_tcp() {
  std::uint64_t fastest = std::max(s_.tracker.up_bps, s_.tracker.down_bps);
  Duration slowest_delay = s_.tracker.delay;
  for (const auto& g : s_.groups) fastest = std::max({fastest, g.up_bps, g.down_bps});
  for (const auto& p : plans_) slowest_delay = std::max(slowest_delay, p.delay);
  for (const auto& e : s_.link_events) {
    if (e.delay) slowest_delay = std::max(slowest_delay, *e.delay);
  }
  // The longest wait in any one queue: a queue keeps the size it was built with, so a link
  // event that slows a group's link makes its full queue drain slower.
  Duration longest_wait = std::max(topo_.longest_wait(s_.tracker.up_bps, s_.tracker.up_bps),
                                   topo_.longest_wait(s_.tracker.down_bps, s_.tracker.down_bps));
  for (const auto& g : s_.groups) {
    std::uint64_t up = g.up_bps, down = g.down_bps;
    for (const auto& e : s_.link_events) {
      if (e.group != g.name) continue;
      if (e.up_bps) up = std::min(up, *e.up_bps);
      if (e.down_bps) down = std::min(down, *e.down_bps);
    }
    longest_wait = std::max(
        {longest_wait, topo_.longest_wait(g.up_bps, up), topo_.longest_wait(g.down_bps, down)});
  }
  // Up one access link and down another.
  const Duration longest_life = 2 * (longest_wait + slowest_delay);
  const auto run = s_.seed + 1;
  configure_ns3_run(segment_size(s_), fastest, slowest_delay, longest_life, run);
  if (trace_) trace_->tcp(segment_size(s_), fastest, slowest_delay, longest_life, run);
}

void Simulation::build() {
  for (const auto& f : s_.files) catalogue_.add(f.name, f.size, f.chunk_size);
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    if (group_of(i).corrupt) corrupters_->insert(plans_[i].id);
  }
  const std::uint32_t segment = segment_size(s_);

  topo_.add(AccessLink{s_.tracker.up_bps, s_.tracker.down_bps, s_.tracker.delay, 0.0});
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    const auto& g = group_of(i);
    topo_.add(AccessLink{g.up_bps, g.down_bps, plans_[i].delay, g.loss});
  }
  topo_.build();
  if (trace_) {
    for (std::size_t h = 0; h < topo_.size(); ++h) trace_->link(topo_.link(h));
  }
  const Endpoint tracker{topo_.address(kTrackerHost), kTrackerPort};

  runs_.resize(plans_.size());
  for (std::size_t h = 0; h < topo_.size(); ++h) {
    stores_.push_back(std::make_unique<SimChunkStore>(catalogue_, corrupters_));
    auto host = ns3::CreateObject<Ns3Host>();
    Ns3Host::NodeFactory factory;
    std::uint16_t port = kPeerPort;
    if (h == kTrackerHost) {
      port = kTrackerPort;
      factory = [seed = s_.seed] {
        TrackerConfig c;
        c.seed = seed;
        return std::make_unique<Tracker>(c);
      };
    } else {
      const std::size_t peer = h - 1;
      const auto& g = group_of(peer);
      if (g.role == PeerGroup::Role::Seeder) stores_[h]->give_whole_file(g.file);
      stores_[h]->on_chunk_added = [this, peer](const std::string& file, std::uint32_t index) {
        if (file == s_.files.front().name) metrics_.chunk_added(peer, index);
      };
      PeerConfig c;
      c.peer_id = plans_[peer].id;
      c.listen = Endpoint{topo_.address(h), kPeerPort};
      c.tracker = tracker;
      c.chunk_size = s_.file_named(g.file).chunk_size;
      c.download = s_.download;
      c.upload = s_.upload;
      c.have_delay = s_.have_delay;
      c.upload.upload_bps = g.up_bps;
      c.upload.downloading_rate_limit_bps =
          static_cast<std::uint64_t>(static_cast<double>(g.up_bps) * s_.upload_limit);
      c.upload.rate_limit_bps =
          static_cast<std::uint64_t>(static_cast<double>(g.up_bps) * s_.seed_upload_limit);
      // A failed download is retried by the peer itself, as a real one does; the scenario's
      // retry_after is the wait, kept fixed (no doubling) and with no limit on retries.
      c.download_retries =
          g.retry_after > Duration::zero() ? std::numeric_limits<std::uint32_t>::max() : 0;
      c.retry_wait = g.retry_after;
      c.retry_wait_max = g.retry_after;
      c.seed = s_.seed * 1'000'003 + peer;
      factory = [c] { return std::make_unique<Peer>(c); };
    }
    host->Setup(h, std::move(factory), topo_.address(h), port, stores_[h].get(), &channel_, this,
                segment);
    host->SetTrace(trace_.get());
    topo_.node(h)->AddApplication(host);
    if (h == kTrackerHost) {
      host->SetStartTime(ns3::Seconds(0));
    } else {
      // Arrivals are played by the simulation so that they are recorded and counted.
      host->SetStartTime(ns3::Seconds(1e9));
      const std::size_t peer = h - 1;
      ns3::Simulator::Schedule(at(plans_[peer].arrival), [this, peer] { arrive(peer); });
      if (plans_[peer].crash_at) {
        ns3::Simulator::Schedule(at(*plans_[peer].crash_at), [this, peer] { crash(peer); });
      }
      if (plans_[peer].leave_at) {
        ns3::Simulator::Schedule(at(*plans_[peer].leave_at), [this, peer] { leave(peer); });
      }
    }
    hosts_.push_back(host);
  }
  for (const auto& e : s_.tracker.events) {
    ns3::Simulator::Schedule(at(e.at), [this, e] {
      if (e.action == TrackerEvent::Action::Crash) {
        if (!hosts_[kTrackerHost]->up()) return;
        note("tracker_crashed", {});
        hosts_[kTrackerHost]->Crash();
      } else {
        if (hosts_[kTrackerHost]->up()) return;
        note("tracker_restarted", {});
        hosts_[kTrackerHost]->Restart();
      }
    });
  }
  for (const auto& e : s_.link_events) {
    ns3::Simulator::Schedule(at(e.at), [this, e] { apply(e); });
  }
}

void Simulation::write_event(const Event& e) {
  if (!s_.record_chunks &&
      (e.type == "chunk_received" || e.type == "endgame_request" || e.type == "request_moved"))
    return;
  events_ << e.to_json().dump() << '\n';
  ++events_written_;
}

void Simulation::on_record(std::size_t host, const Event& e) {
  metrics_.on_event(e);
  write_event(e);
  if (host == kTrackerHost && e.type == "file_published") {
    const auto file = e.fields.value("file", std::string{});
    if (published_.insert(file).second) {
      for (std::size_t p = 0; p < runs_.size(); ++p) {
        if (runs_[p].waiting && group_of(p).file == file) start_download(p);
      }
    }
  }
}

void Simulation::on_notice(std::size_t host, const Notify& notify) {
  if (host == kTrackerHost) return;
  const std::size_t peer = host - 1;
  auto& run = runs_[peer];
  const auto& g = group_of(peer);
  if (std::holds_alternative<TrackerConnected>(notify.notice) && !run.acted) {
    run.acted = true;
    if (g.role == PeerGroup::Role::Seeder) {
      hosts_[host]->Command([&](Node& n, Time now) {
        auto s = static_cast<Peer&>(n).publish(now, "sim:" + g.file, g.file);
        if (!s)
          note("command_failed", {{"peer", plans_[peer].id}, {"error", s.error().describe()}});
      });
    } else {
      start_download(peer);
    }
  } else if (std::holds_alternative<DownloadCompleted>(notify.notice)) {
    run.downloading = false;
    if (g.departure.kind == DepartureSpec::Kind::AfterCompletion) {
      ns3::Simulator::Schedule(at(g.departure.seed_time), [this, peer] { leave(peer); });
    }
    check_done();
  } else if (std::holds_alternative<DownloadFailed>(notify.notice)) {
    // Final: the peer's own retries (PeerConfig::download_retries) are spent or cannot help.
    run.downloading = false;
    metrics_.peer_failed(peer);
    check_done();
  }
}

void Simulation::arrive(std::size_t peer) {
  const auto& g = group_of(peer);
  const auto h = host_of(peer);
  note("peer_arrived", {{"peer", plans_[peer].id},
                        {"group", g.name},
                        {"role", g.role == PeerGroup::Role::Seeder ? "seeder" : "leecher"},
                        {"address", topo_.address(h)},
                        {"delay_ms", std::round(to_seconds(plans_[peer].delay) * 1e6) / 1e3},
                        {"up_bps", topo_.link(h).up_bps},
                        {"down_bps", topo_.link(h).down_bps}});
  metrics_.peer_online(peer, have(peer));
  hosts_[h]->Restart();
}

void Simulation::start_download(std::size_t peer) {
  auto& run = runs_[peer];
  const auto& g = group_of(peer);
  const auto h = host_of(peer);
  run.waiting = false;
  if (run.gone || run.downloading || !hosts_[h]->up()) return;
  if (const auto* c = stores_[h]->chunks(g.file); c != nullptr && c->complete()) return;
  if (!published_.contains(g.file)) {
    run.waiting = true;  // nobody can want a file before it exists
    return;
  }
  hosts_[h]->Command([&](Node& n, Time now) {
    auto s = static_cast<Peer&>(n).download(now, g.file, "downloads/" + g.file);
    if (s) {
      run.downloading = true;
    } else {
      note("command_failed", {{"peer", plans_[peer].id}, {"error", s.error().describe()}});
      if (g.retry_after > Duration::zero()) {
        ns3::Simulator::Schedule(at(g.retry_after), [this, peer] { start_download(peer); });
      }
    }
  });
}

void Simulation::leave(std::size_t peer) {
  auto& run = runs_[peer];
  const auto h = host_of(peer);
  if (run.gone || !hosts_[h]->up()) return;
  run.gone = true;
  note("peer_left", {{"peer", plans_[peer].id}});
  hosts_[h]->Leave();
  metrics_.peer_offline(peer, have(peer), sim_now(), /*crashed=*/false);
  check_done();
}

void Simulation::crash(std::size_t peer) {
  auto& run = runs_[peer];
  const auto h = host_of(peer);
  if (run.gone || !hosts_[h]->up()) return;
  run.gone = true;
  note("peer_crashed", {{"peer", plans_[peer].id}});
  hosts_[h]->Crash();
  metrics_.peer_offline(peer, have(peer), sim_now(), /*crashed=*/true);
  check_done();
}

void Simulation::apply(const LinkEvent& e) {
  note("link_changed", link_event_fields(e));
  apply_link_event(topo_, s_, plans_, e);
}

RunMetrics::Wire Simulation::wire() const {
  return measure_wire(topo_, s_, plans_, [this](std::size_t p) { return metrics_.online(p); });
}

void Simulation::write_group_rows() {
  std::vector<std::uint64_t> bytes(s_.groups.size(), 0);
  std::vector<double> capacity(s_.groups.size(), 0.0);
  std::vector<std::size_t> online(s_.groups.size(), 0);
  // Seconds of requests queued on each online uplink (at its rate now), and downloaders that
  // an owner unchoked and that ask it for nothing.
  std::vector<double> queued_sum(s_.groups.size(), 0.0), queued_max(s_.groups.size(), 0.0);
  std::vector<std::size_t> asking_none(s_.groups.size(), 0);
  // And as downloaders: sources that would take a request but have nothing new for them, and
  // chunks they would ask for whose owners all choke them or are full (Download::waiting).
  std::vector<std::uint64_t> idle_sources(s_.groups.size(), 0),
      busy_owner_chunks(s_.groups.size(), 0);
  for (std::size_t p = 0; p < plans_.size(); ++p) {
    const auto g = plans_[p].group;
    bytes[g] += topo_.uplink_bytes(host_of(p));
    if (metrics_.online(p)) {
      ++online[g];
      const auto up_bps = topo_.link(host_of(p)).up_bps;
      capacity[g] += static_cast<double>(up_bps);
      const Node* n = hosts_[host_of(p)]->node();
      if (n != nullptr) {
        const auto waiting = static_cast<const Peer*>(n)->waiting();
        idle_sources[g] += waiting.idle_sources;
        busy_owner_chunks[g] += waiting.chunks_on_busy_owners;
      }
      if (n != nullptr && up_bps > 0) {
        const auto load = static_cast<const Peer*>(n)->uploading().load;
        const double queued =
            static_cast<double>(load.queued_bytes) * 8.0 / static_cast<double>(up_bps);
        queued_sum[g] += queued;
        queued_max[g] = std::max(queued_max[g], queued);
        asking_none[g] += load.unchoked_asking_none;
      }
    }
  }
  const double dt = to_seconds(sim_now() - last_group_snapshot_);
  for (std::size_t g = 0; g < s_.groups.size(); ++g) {
    const double bps =
        dt > 0 ? static_cast<double>(bytes[g] - group_uplink_bytes_[g]) * 8.0 / dt : 0.0;
    groups_csv_ << to_seconds(sim_now()) << ',' << s_.groups[g].name << ',' << online[g] << ','
                << bps << ',' << capacity[g] << ','
                << (online[g] > 0 ? queued_sum[g] / static_cast<double>(online[g]) : 0.0) << ','
                << queued_max[g] << ',' << asking_none[g] << ',' << idle_sources[g] << ','
                << busy_owner_chunks[g] << '\n';
  }
  group_uplink_bytes_ = std::move(bytes);
  last_group_snapshot_ = sim_now();
}

void Simulation::tick() {
  csv_ << RunMetrics::csv_row(metrics_.snapshot(sim_now(), wire()));
  write_group_rows();
  if (progress_) {
    Progress p;
    p.sim_time_s = to_seconds(sim_now());
    p.stop_time_s = to_seconds(s_.stop_time);
    p.done = metrics_.completed();
    p.leechers = metrics_.leechers();
    if (metrics_.bytes_wanted() > 0) {
      p.verified_fraction = static_cast<double>(metrics_.chunk_bytes()) /
                            static_cast<double>(metrics_.bytes_wanted());
    }
    p.wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    progress_(p);
  }
  if (!stopping_) ns3::Simulator::Schedule(at(s_.snapshot_interval), [this] { tick(); });
}

void Simulation::check_done() {
  if (stopping_ || !s_.stop_when_all_done || !metrics_.all_done()) return;
  stopping_ = true;
  note("all_done", {{"completed", metrics_.completed()}, {"leechers", metrics_.leechers()}});
  ns3::Simulator::ScheduleNow([this] {
    csv_ << RunMetrics::csv_row(metrics_.snapshot(sim_now(), wire()));
    write_group_rows();
    ns3::Simulator::Stop();
  });
}

Result<RunResult> Simulation::run() {
  std::error_code ec;
  std::filesystem::create_directories(out_, ec);
  if (ec) return make_error(ErrorCode::IoError, "cannot create " + out_ + ": " + ec.message());
  auto open = [&](std::ofstream& f, const std::string& name) -> Status {
    f.open(out_ + "/" + name, std::ios::trunc);
    if (!f) return make_error(ErrorCode::IoError, "cannot write " + out_ + "/" + name);
    return {};
  };
  // A folder that held an earlier run: its summary must not pass for this run's until this
  // one writes its own (a resumed sweep takes a summary as "done").
  std::error_code ignored;
  std::filesystem::remove(out_ + "/summary.json", ignored);
  std::filesystem::remove(out_ + "/run.json", ignored);
  std::ofstream scenario_file;
  if (auto s = open(scenario_file, "scenario.json"); !s) return s.error();
  scenario_file << to_json(s_).dump(2) << '\n';
  if (auto s = open(events_, "events.jsonl"); !s) return s.error();
  if (auto s = open(csv_, "swarm.csv"); !s) return s.error();
  csv_ << RunMetrics::csv_header();
  if (auto s = open(groups_csv_, "groups.csv"); !s) return s.error();
  groups_csv_ << "time_s,group,online,wire_up_bps,up_capacity_bps,queued_s_mean,queued_s_max,"
                 "unchoked_asking_none,idle_sources,chunks_on_busy_owners\n"
              << std::setprecision(10);
  group_uplink_bytes_.assign(s_.groups.size(), 0);
  group_timeouts_.assign(s_.groups.size(), 0);

  if (s_.record_traffic) {
    auto trace = TrafficTrace::open(out_ + "/traffic.txt");
    if (!trace) return trace.error();
    trace_ = std::move(trace).value();
  }
  wall_start_ = std::chrono::steady_clock::now();
  configure_tcp();
  build();
  ns3::Simulator::Schedule(ns3::Seconds(0), [this] { tick(); });
  ns3::Simulator::Stop(at(s_.stop_time));
  ns3::Simulator::Run();
  const Time end = sim_now();
  const auto events = ns3::Simulator::GetEventCount();
  ns3::Simulator::Destroy();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  // Before the summary: a run folder with a summary is a finished run (a resumed sweep skips it).
  if (trace_) {
    if (auto s = trace_->finish(end); !s) return s.error();
  }

  RunResult r;
  r.summary = metrics_.summary(end);
  auto timeouts_by_group = nlohmann::json::object();
  for (std::size_t g = 0; g < s_.groups.size(); ++g) {
    timeouts_by_group[s_.groups[g].name] = group_timeouts_[g];
  }
  r.run = {
      {"wall_time_s", wall},
      {"simulated_time_s", to_seconds(end)},
      {"ns3_events", events},
      {"ns3_events_per_wall_s", wall > 0 ? static_cast<double>(events) / wall : 0.0},
      {"packets_sent", topo_.uplink_packets()},
      {"payload_bytes_sent", payload_sent_},
      {"simulated_bytes_per_wall_s", wall > 0 ? static_cast<double>(payload_sent_) / wall : 0.0},
      {"chunk_bytes_verified", metrics_.chunk_bytes()},
      {"events_written", events_written_},
      {"tcp_timeouts", tcp_timeouts_},
      {"tcp_fast_recoveries", tcp_fast_recoveries_},
      {"tcp_loss_probes", tcp_loss_probes_},
      {"tcp_hystart_exits",
       {{"ack_train", tcp_hystart_train_exits_}, {"delay", tcp_hystart_delay_exits_}}},
      {"tcp_timeouts_by_group", timeouts_by_group},
      {"queue_drops",
       {{"packets", topo_.queue_drops().packets},
        {"bytes", topo_.queue_drops().bytes},
        {"uplink_packets", topo_.uplink_drops().packets},
        {"downlink_packets", topo_.downlink_drops().packets}}},
      {"packet_size", resolve_packet_size(s_)}};
  std::ofstream summary_file, run_file;
  if (auto s = open(summary_file, "summary.json"); !s) return s.error();
  summary_file << r.summary.dump(2) << '\n';
  if (auto s = open(run_file, "run.json"); !s) return s.error();
  run_file << r.run.dump(2) << '\n';
  events_.flush();
  csv_.flush();
  groups_csv_.flush();
  if (!events_ || !csv_ || !groups_csv_ || !summary_file || !run_file) {
    return make_error(ErrorCode::IoError,
                      "writing the run folder " + out_ + " failed (disk full?)");
  }
  return r;
}

}  // namespace

Result<RunResult> run_scenario(const Scenario& s, const std::string& out_dir,
                               const std::function<void(const Progress&)>& progress) {
  Simulation sim(s, out_dir, progress);
  return sim.run();
}

}  // namespace swarmlab::sim

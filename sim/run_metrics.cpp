#include "sim/run_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace swarmlab::sim {

RunMetrics::RunMetrics(const Scenario& s, const std::vector<PeerPlan>& plans)
    : scenario_(s), bound_(kumar_ross(s)) {
  const auto& primary = s.files.front();
  primary_chunks_ = static_cast<std::uint32_t>(chunk_count_for(primary.size, primary.chunk_size));
  replication_.assign(primary_chunks_, 0);
  copied_ = ChunkSet(primary_chunks_);
  for (const auto& plan : plans) {
    const auto& g = s.groups[plan.group];
    PeerOutcome p;
    p.id = plan.id;
    p.group = g.name;
    p.seeder = g.role == PeerGroup::Role::Seeder;
    p.complete = p.seeder;
    p.arrival = to_seconds(plan.arrival);
    if (p.seeder) {
      ++origin_seeds_;
    } else {
      ++leechers_;
      const auto f = std::find_if(s.files.begin(), s.files.end(), [&](const SharedFile& x) {
        return x.name == (g.file.empty() ? primary.name : g.file);
      });
      bytes_wanted_ += f != s.files.end() ? f->size : 0;
    }
    by_id_[p.id] = peers_.size();
    peers_.push_back(std::move(p));
  }
}

void RunMetrics::settle(PeerOutcome& p) {
  if (p.settled || p.seeder) return;
  p.settled = true;
  ++settled_;
}

void RunMetrics::on_event(const Event& e) {
  // Events of the run's driver itself (node "sim", or "emu" in swarm-emu) name their peer in a
  // field.
  const bool named = (e.node == "sim" || e.node == "emu") && e.fields.is_object();
  const auto it = by_id_.find(named ? e.fields.value("peer", std::string{}) : e.node);
  PeerOutcome* self = it == by_id_.end() ? nullptr : &peers_[it->second];
  if (e.type == "chunk_received" && self != nullptr) {
    const auto bytes = e.fields.value("bytes", std::uint64_t{0});
    const auto from = e.fields.value("from", std::string{});
    self->bytes_received += bytes;
    chunk_bytes_ += bytes;
    if (const auto index = e.fields.value("index", std::uint64_t{UINT64_MAX});
        !self->seeder && e.fields.value("file", std::string{}) == scenario_.files.front().name &&
        index < copied_.size() && !copied_.contains(static_cast<std::uint32_t>(index))) {
      copied_.insert(static_cast<std::uint32_t>(index));
      if (copied_.complete()) first_copy_out_ = to_seconds(e.time);
    }
    bytes_since_snapshot_ += bytes;
    auto credit = [&](const std::string& id, std::uint64_t n) {
      if (const auto src = by_id_.find(id); src != by_id_.end()) {
        auto& sender = peers_[src->second];
        sender.bytes_served += n;
        (sender.seeder ? bytes_from_origin_ : bytes_from_peers_) += n;
      }
    };
    // A chunk assembled from blocks of several senders names each one's share.
    if (const auto sources = e.fields.find("sources");
        sources != e.fields.end() && sources->is_object()) {
      for (const auto& [id, n] : sources->items()) {
        if (n.is_number_unsigned()) credit(id, n.get<std::uint64_t>());
      }
    } else {
      credit(from, bytes);
    }
  } else if (e.type == "download_completed" && self != nullptr && !self->complete) {
    self->complete = true;
    self->state = "completed";
    self->completed_at = to_seconds(e.time);
    self->download_time = to_seconds(e.time) - self->arrival;
    ++completed_;
    settle(*self);
  } else if (e.type == "download_failed" && self != nullptr) {
    ++self->failures;
    ++failures_;
  } else if (e.type == "download_retrying" && self != nullptr) {
    // The attempt that failed was counted above; it is a retry, not a failure of the peer.
    --self->failures;
    --failures_;
    ++retries_;
  } else if (e.type == "verification_failed") {
    ++verification_failures_;
  } else if (e.type == "peer_arrived" && self != nullptr) {
    if (first_arrival_ < 0 && !self->seeder) first_arrival_ = to_seconds(e.time);
    // When it really came: the simulation's arrivals are on plan to the nanosecond, real
    // programs' (swarm-emu) a few milliseconds after.
    self->arrival = to_seconds(e.time);
    self->state = self->complete ? (self->seeder ? "seeding" : "completed") : "downloading";
  }
}

void RunMetrics::peer_online(std::size_t peer, const ChunkSet& have) {
  auto& p = peers_.at(peer);
  p.online = true;
  if (have.size() == primary_chunks_) {
    for (auto i : have.indexes()) ++replication_[i];
  }
}

void RunMetrics::peer_offline(std::size_t peer, const ChunkSet& have, Time, bool crashed) {
  auto& p = peers_.at(peer);
  if (!p.online) return;
  p.online = false;
  if (have.size() == primary_chunks_) {
    for (auto i : have.indexes()) --replication_[i];
  }
  if (!p.complete)
    p.state = crashed ? "crashed" : "left";
  else if (crashed)
    p.state += "+crashed";
  ++departed_;
  settle(p);
}

void RunMetrics::peer_failed(std::size_t peer) {
  auto& p = peers_.at(peer);
  if (p.complete) return;
  p.state = "failed";
  settle(p);
}

void RunMetrics::chunk_added(std::size_t peer, std::uint32_t index) {
  if (peers_.at(peer).online && index < replication_.size()) ++replication_[index];
}

RunMetrics::Snapshot RunMetrics::snapshot(Time now, const Wire& wire) {
  Snapshot s;
  s.t = to_seconds(now);
  for (const auto& p : peers_) {
    if (!p.online) continue;
    ++s.online;
    ++(p.complete ? s.seeds : s.leechers);
  }
  s.completed = completed_;
  s.departed = departed_;
  if (first_arrival_ >= 0) {
    sum_seeds_ += s.seeds - std::min(s.seeds, origin_seeds_);
    sum_leechers_ += s.leechers;
    ++averaged_snapshots_;
  }
  if (!replication_.empty()) {
    const auto [lo, hi] = std::minmax_element(replication_.begin(), replication_.end());
    s.replication_min = *lo;
    s.replication_max = *hi;
    double sum = 0;
    for (auto c : replication_) sum += c;
    s.replication_mean = sum / static_cast<double>(replication_.size());
  }
  const double dt = to_seconds(now - last_snapshot_);
  s.upload_bps = dt > 0 ? static_cast<double>(bytes_since_snapshot_) * 8.0 / dt : 0.0;
  s.wire_up_bps =
      dt > 0 ? static_cast<double>(wire.uplink_bytes - last_uplink_bytes_) * 8.0 / dt : 0.0;
  s.up_capacity_bps = wire.up_capacity_bps;
  // The interval had the peers online that the last snapshot saw (arrivals and departures
  // between two snapshots shift a fraction of one interval).
  up_capacity_bits_ += last_up_capacity_bps_ * dt;
  last_up_capacity_bps_ = wire.up_capacity_bps;
  bytes_since_snapshot_ = 0;
  last_uplink_bytes_ = wire.uplink_bytes;
  if (!origin_window_closed_) {
    if (first_arrival_ < 0) {
      origin_bytes_at_arrival_ = wire.origin_uplink_bytes;
    } else {
      // From the first arrival on: nobody could ask the origin anything before it.
      const double from = std::max(to_seconds(last_snapshot_), first_arrival_);
      origin_capacity_bits_ += last_origin_capacity_bps_ * std::max(0.0, s.t - from);
      origin_window_bytes_ = wire.origin_uplink_bytes - origin_bytes_at_arrival_;
    }
    origin_window_closed_ = first_copy_out_.has_value();
  }
  last_origin_capacity_bps_ = wire.origin_up_capacity_bps;
  last_snapshot_ = now;
  return s;
}

std::string RunMetrics::csv_header() {
  return "time_s,online,seeds,leechers,completed,departed,replication_min,replication_mean,"
         "replication_max,upload_bps,wire_up_bps,up_capacity_bps\n";
}

std::string RunMetrics::csv_row(const Snapshot& s) {
  std::ostringstream o;
  o << std::setprecision(10) << s.t << ',' << s.online << ',' << s.seeds << ',' << s.leechers << ','
    << s.completed << ',' << s.departed << ',' << s.replication_min << ',' << std::setprecision(6)
    << s.replication_mean << ',' << s.replication_max << ',' << std::setprecision(10)
    << s.upload_bps << ',' << s.wire_up_bps << ',' << s.up_capacity_bps << '\n';
  return o.str();
}

namespace {

nlohmann::json stats(std::vector<double> v) {
  if (v.empty()) return {{"count", 0}};
  std::sort(v.begin(), v.end());
  auto quantile = [&](double q) {
    // Nearest rank: a value that occurred, not an interpolation.
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
  };
  double sum = 0;
  for (auto x : v) sum += x;
  return {{"count", v.size()},       {"mean", sum / static_cast<double>(v.size())},
          {"median", quantile(0.5)}, {"p95", quantile(0.95)},
          {"min", v.front()},        {"max", v.back()}};
}

}  // namespace

nlohmann::json RunMetrics::summary(Time end) const {
  nlohmann::json peers = nlohmann::json::array();
  std::vector<double> times;
  double last_completion = 0;
  std::uint32_t incomplete = 0, crashed = 0, left = 0;
  for (const auto& p : peers_) {
    nlohmann::json j = {{"id", p.id},
                        {"group", p.group},
                        {"role", p.seeder ? "seeder" : "leecher"},
                        {"arrival", p.arrival},
                        {"state", p.state},
                        {"failures", p.failures},
                        {"bytes_received", p.bytes_received},
                        {"bytes_served", p.bytes_served}};
    j["completed_at"] = p.completed_at ? nlohmann::json(*p.completed_at) : nlohmann::json(nullptr);
    j["download_time"] =
        p.download_time ? nlohmann::json(*p.download_time) : nlohmann::json(nullptr);
    if (p.download_time) times.push_back(*p.download_time);
    if (p.completed_at) last_completion = std::max(last_completion, *p.completed_at);
    if (!p.seeder && !p.complete) {
      ++(p.state == "crashed" ? crashed : p.state == "left" ? left : incomplete);
    }
    peers.push_back(std::move(j));
  }
  const double served = static_cast<double>(bytes_from_origin_ + bytes_from_peers_);
  nlohmann::json kr = {{"file_bits", bound_.file_bits},
                       {"seed_up_bps", bound_.seed_up_bps},
                       {"min_down_bps", bound_.min_down_bps},
                       {"sum_leecher_up_bps", bound_.sum_up_bps},
                       {"leechers", bound_.leechers},
                       {"t_min_s", bound_.t_min_s},
                       {"assumptions_hold", bound_.assumptions_hold}};
  if (!bound_.assumptions_hold) kr["assumptions_broken_by"] = bound_.why_not;
  if (completed_ == leechers_ && leechers_ > 0 && bound_.t_min_s > 0) {
    const double measured = last_completion - std::max(first_arrival_, 0.0);
    kr["last_completion_s"] = measured;
    kr["ratio"] = measured / bound_.t_min_s;
  } else {
    kr["last_completion_s"] = nullptr;
    kr["ratio"] = nullptr;  // not every leecher finished: no completion time to compare
  }
  nlohmann::json fluid = nullptr;
  if (const auto m = fluid_model(scenario_)) {
    // Measured over the whole run, start-up and drain included; crashes (theta) are left
    // out of the model.
    const auto measured = stats(times);
    const double mean = measured.value("mean", 0.0);
    const double n = averaged_snapshots_ > 0 ? averaged_snapshots_ : 1;
    fluid = {{"model",
              {{"lambda_per_s", m->lambda},
               {"mu_files_per_s", m->mu},
               {"c_files_per_s", m->c},
               {"mean_download_s", m->mean_download_s},
               {"origin_files_per_s", m->origin},
               {"finite_mean_download_s", m->finite_mean_download_s
                                              ? nlohmann::json(*m->finite_mean_download_s)
                                              : nlohmann::json(nullptr)},
               {"mean_leechers", m->mean_leechers},
               {"mean_seeds", m->mean_seeds}}},
             {"measured",
              {{"mean_download_s", mean},
               {"mean_leechers", sum_leechers_ / n},
               {"mean_seeds", sum_seeds_ / n}}}};
  }
  // Where a ratio to the bound goes: links left idle (utilisation) or carrying more than the
  // verified chunks (headers, acknowledgements, control messages and duplicate blocks).
  const auto wire_bits = static_cast<double>(last_uplink_bytes_) * 8.0;
  nlohmann::json uplinks = {
      {"wire_bytes", last_uplink_bytes_},
      {"utilisation", up_capacity_bits_ > 0 ? wire_bits / up_capacity_bits_ : 0.0},
      {"wire_per_verified_byte", chunk_bytes_ > 0 ? static_cast<double>(last_uplink_bytes_) /
                                                        static_cast<double>(chunk_bytes_)
                                                  : 0.0}};
  // The origin's uplink is all the swarm has until every chunk has reached a leecher once.
  // The soonest it can be out: the file once through the origin seeds' uplinks.
  const double origin_alone_s =
      bound_.seed_up_bps > 0 ? bound_.file_bits / bound_.seed_up_bps : 0.0;
  nlohmann::json first_copy = {
      {"out_s", first_copy_out_ ? nlohmann::json(*first_copy_out_) : nlohmann::json(nullptr)},
      {"origin_alone_s", origin_alone_s},
      {"ratio",
       first_copy_out_ && origin_alone_s > 0
           ? nlohmann::json((*first_copy_out_ - std::max(0.0, first_arrival_)) / origin_alone_s)
           : nlohmann::json(nullptr)},
      {"origin_utilisation",
       origin_window_closed_ && origin_capacity_bits_ > 0
           ? nlohmann::json(static_cast<double>(origin_window_bytes_) * 8.0 / origin_capacity_bits_)
           : nlohmann::json(nullptr)}};
  return {{"scenario", scenario_.name},
          {"seed", scenario_.seed},
          {"end_time_s", to_seconds(end)},
          {"peers_total", peers_.size()},
          {"leechers", leechers_},
          {"completed", completed_},
          {"incomplete", incomplete},
          {"crashed_unfinished", crashed},
          {"left_unfinished", left},
          {"departed", departed_},
          {"download_failures", failures_},
          {"download_retries", retries_},
          {"verification_failures", verification_failures_},
          {"download_time_s", stats(times)},
          {"bytes_served",
           {{"origin_seeds", bytes_from_origin_},
            {"peers", bytes_from_peers_},
            {"origin_share", served > 0 ? static_cast<double>(bytes_from_origin_) / served : 0.0}}},
          {"kumar_ross", kr},
          {"qiu_srikant", fluid},
          {"uplinks", uplinks},
          {"first_copy", first_copy},
          {"peers", peers}};
}

}  // namespace swarmlab::sim

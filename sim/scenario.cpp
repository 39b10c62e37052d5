#include "sim/scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "swarmlab/messages.hpp"
#include "swarmlab/swarm_name.hpp"
#include "swarmlab/units.hpp"

namespace swarmlab::sim {
namespace {

using nlohmann::json;

// Parsing throws this internally; parse_scenario turns it into an Error.
struct Invalid {
  std::string message;
};

[[noreturn]] void invalid(const std::string& path, const std::string& what) {
  throw Invalid{path + ": " + what};
}

std::string quote(const json& v) {
  return v.dump();
}

// One JSON object being read: every key must be consumed, or it is reported as unknown.
class Fields {
 public:
  Fields(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
    if (!obj_.is_object()) invalid(path_, "expected an object, got " + quote(obj_));
  }

  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool has(const std::string& key) const { return obj_.contains(key); }
  const json* get(const std::string& key) {
    seen_.insert(key);
    const auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  void string(const std::string& key, std::string& out) {
    if (const auto* v = get(key)) {
      if (!v->is_string()) invalid(at(key), "expected a string, got " + quote(*v));
      out = v->get<std::string>();
    }
  }
  void boolean(const std::string& key, bool& out) {
    if (const auto* v = get(key)) {
      if (!v->is_boolean()) invalid(at(key), "expected true or false, got " + quote(*v));
      out = v->get<bool>();
    }
  }
  void number(const std::string& key, double& out, double lo, double hi) {
    if (const auto* v = get(key)) out = number_value(*v, at(key), lo, hi);
  }
  template <typename Int>
  void integer(const std::string& key, Int& out, std::uint64_t lo, std::uint64_t hi) {
    if (const auto* v = get(key)) {
      if (!v->is_number_integer() || (v->is_number_integer() && v->get<std::int64_t>() < 0)) {
        invalid(at(key), "expected a whole number >= 0, got " + quote(*v));
      }
      const auto n = v->get<std::uint64_t>();
      if (n < lo || n > hi) {
        invalid(at(key), "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                             ", got " + quote(*v));
      }
      out = static_cast<Int>(n);
    }
  }
  void duration(const std::string& key, Duration& out) {
    if (const auto* v = get(key)) out = duration_value(*v, at(key));
  }
  void size(const std::string& key, std::uint64_t& out) {
    if (const auto* v = get(key)) out = size_value(*v, at(key));
  }
  void rate(const std::string& key, std::uint64_t& out) {
    if (const auto* v = get(key)) out = rate_value(*v, at(key));
  }

  /// Reports a key outside `known` at once (before "missing field" errors that a typo in
  /// the key's name would otherwise cause).
  void only(std::initializer_list<const char*> known) const {
    for (const auto& item : obj_.items()) {
      const std::string& key = item.key();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string names;
        for (const auto* k : known) names += (names.empty() ? "" : ", ") + std::string(k);
        invalid(at(key), "unknown field (known here: " + names + ")");
      }
    }
  }

  /// Reports the first key nobody asked for.
  void done() const {
    for (const auto& [key, value] : obj_.items()) {
      if (!seen_.contains(key)) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        invalid(at(key), "unknown field (known here: " + known + ")");
      }
    }
  }

  static double number_value(const json& v, const std::string& path, double lo, double hi) {
    if (!v.is_number()) invalid(path, "expected a number, got " + quote(v));
    const double d = v.get<double>();
    if (!(d >= lo && d <= hi)) {
      std::ostringstream s;
      s << "must be between " << lo << " and " << hi << ", got " << quote(v);
      invalid(path, s.str());
    }
    return d;
  }
  static Duration duration_value(const json& v, const std::string& path) {
    if (!v.is_string()) invalid(path, "expected a duration like \"20ms\", got " + quote(v));
    auto d = parse_duration(v.get<std::string>());
    if (!d) invalid(path, d.error().message);
    if (d->count() < 0) invalid(path, "must not be negative, got " + quote(v));
    return *d;
  }
  static std::uint64_t size_value(const json& v, const std::string& path) {
    if (!v.is_string()) invalid(path, "expected a size like \"64MiB\", got " + quote(v));
    auto s = parse_size(v.get<std::string>());
    if (!s) invalid(path, s.error().message);
    return *s;
  }
  static std::uint64_t rate_value(const json& v, const std::string& path) {
    if (!v.is_string()) invalid(path, "expected a rate like \"8Mbps\", got " + quote(v));
    auto r = parse_rate(v.get<std::string>());
    if (!r) invalid(path, r.error().message);
    if (*r < 1000) invalid(path, "must be at least 1Kbps, got " + quote(v));
    return *r;
  }

 private:
  const json& obj_;
  std::string path_;
  std::set<std::string> seen_;
};

template <typename Enum>
Enum choice(const json* v, const std::string& path, const std::map<std::string, Enum>& options,
            Enum fallback) {
  if (v == nullptr) return fallback;
  std::string names;
  for (const auto& [name, e] : options) names += (names.empty() ? "" : ", ") + name;
  if (!v->is_string()) invalid(path, "expected one of " + names + ", got " + quote(*v));
  const auto it = options.find(v->get<std::string>());
  if (it == options.end()) invalid(path, "expected one of " + names + ", got " + quote(*v));
  return it->second;
}

DelaySpec parse_delay(const json& v, const std::string& path) {
  DelaySpec d;
  if (v.is_string()) {
    d.value = Fields::duration_value(v, path);
    return d;
  }
  Fields f(v, path);
  d.dist = choice<DelaySpec::Dist>(f.get("dist"), f.at("dist"),
                                   {{"fixed", DelaySpec::Dist::Fixed},
                                    {"uniform", DelaySpec::Dist::Uniform},
                                    {"normal", DelaySpec::Dist::Normal},
                                    {"lognormal", DelaySpec::Dist::LogNormal},
                                    {"list", DelaySpec::Dist::List}},
                                   DelaySpec::Dist::Fixed);
  auto need = [&](const char* key) {
    if (!f.has(key)) invalid(f.at(key), "required by this distribution");
  };
  switch (d.dist) {
    case DelaySpec::Dist::Fixed:
      need("value");
      f.duration("value", d.value);
      break;
    case DelaySpec::Dist::Uniform:
      need("min");
      need("max");
      f.duration("min", d.min);
      f.duration("max", d.max);
      if (d.max < d.min) invalid(f.at("max"), "must not be below min");
      break;
    case DelaySpec::Dist::Normal:
      need("mean");
      need("stddev");
      f.duration("mean", d.mean);
      f.duration("stddev", d.stddev);
      d.min = 0ms;
      d.max = d.mean * 10;
      f.duration("min", d.min);
      if (f.has("max")) f.duration("max", d.max);
      break;
    case DelaySpec::Dist::LogNormal:
      need("median");
      f.duration("median", d.median);
      f.number("sigma", d.sigma, 0.0, 5.0);
      break;
    case DelaySpec::Dist::List: {
      need("values");
      const auto* list = f.get("values");
      if (!list->is_array() || list->empty()) {
        invalid(f.at("values"), "expected a non-empty list of durations");
      }
      for (std::size_t i = 0; i < list->size(); ++i) {
        d.values.push_back(
            Fields::duration_value((*list)[i], f.at("values") + "[" + std::to_string(i) + "]"));
      }
      break;
    }
  }
  f.done();
  return d;
}

ArrivalSpec parse_arrival(const json& v, const std::string& path) {
  Fields f(v, path);
  ArrivalSpec a;
  a.kind = choice<ArrivalSpec::Kind>(f.get("kind"), f.at("kind"),
                                     {{"at", ArrivalSpec::Kind::At},
                                      {"poisson", ArrivalSpec::Kind::Poisson},
                                      {"list", ArrivalSpec::Kind::List}},
                                     ArrivalSpec::Kind::At);
  f.duration("at", a.at);
  if (a.kind == ArrivalSpec::Kind::Poisson) {
    if (!f.has("rate_per_s")) invalid(f.at("rate_per_s"), "required for Poisson arrivals");
    f.number("rate_per_s", a.rate_per_s, 1e-6, 1e6);
  }
  if (a.kind == ArrivalSpec::Kind::List) {
    const auto* list = f.get("times");
    if (list == nullptr || !list->is_array()) {
      invalid(f.at("times"), "expected a list of times for kind \"list\"");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      a.times.push_back(
          Fields::duration_value((*list)[i], f.at("times") + "[" + std::to_string(i) + "]"));
    }
  }
  f.done();
  return a;
}

DepartureSpec parse_departure(const json& v, const std::string& path) {
  Fields f(v, path);
  DepartureSpec d;
  d.kind = choice<DepartureSpec::Kind>(f.get("kind"), f.at("kind"),
                                       {{"stay", DepartureSpec::Kind::Stay},
                                        {"after_completion", DepartureSpec::Kind::AfterCompletion},
                                        {"exponential", DepartureSpec::Kind::Exponential},
                                        {"weibull", DepartureSpec::Kind::Weibull}},
                                       DepartureSpec::Kind::Stay);
  auto need = [&](const char* key) {
    if (!f.has(key)) invalid(f.at(key), "required for this kind of departure");
  };
  switch (d.kind) {
    case DepartureSpec::Kind::Stay:
      break;
    case DepartureSpec::Kind::AfterCompletion:
      f.duration("seed_time", d.seed_time);
      break;
    case DepartureSpec::Kind::Exponential:
      need("mean");
      f.duration("mean", d.mean);
      if (d.mean <= Duration::zero()) invalid(f.at("mean"), "must be > 0");
      break;
    case DepartureSpec::Kind::Weibull:
      need("scale");
      f.duration("scale", d.scale);
      f.number("shape", d.shape, 0.05, 20.0);
      if (d.scale <= Duration::zero()) invalid(f.at("scale"), "must be > 0");
      break;
  }
  f.done();
  return d;
}

PeerGroup parse_group(const json& v, const std::string& path, std::size_t index) {
  Fields f(v, path);
  PeerGroup g;
  g.name = "group" + std::to_string(index);
  f.string("name", g.name);
  if (g.name.empty() || g.name.find_first_of(" /\\\"") != std::string::npos) {
    invalid(f.at("name"),
            "must be non-empty without spaces, slashes or quotes, got \"" + g.name + "\"");
  }
  f.integer("count", g.count, 0, 100000);
  g.role = choice<PeerGroup::Role>(
      f.get("role"), f.at("role"),
      {{"seeder", PeerGroup::Role::Seeder}, {"leecher", PeerGroup::Role::Leecher}},
      PeerGroup::Role::Leecher);
  f.string("file", g.file);
  f.rate("up", g.up_bps);
  f.rate("down", g.down_bps);
  if (const auto* d = f.get("delay")) g.delay = parse_delay(*d, f.at("delay"));
  f.number("loss", g.loss, 0.0, 0.5);
  if (const auto* a = f.get("arrival")) g.arrival = parse_arrival(*a, f.at("arrival"));
  if (const auto* d = f.get("departure")) g.departure = parse_departure(*d, f.at("departure"));
  if (const auto* c = f.get("crash")) {
    Fields cf(*c, f.at("crash"));
    cf.number("fraction", g.crash.fraction, 0.0, 1.0);
    cf.duration("from", g.crash.from);
    g.crash.to = g.crash.from;
    cf.duration("to", g.crash.to);
    if (g.crash.to < g.crash.from) invalid(cf.at("to"), "must not be before from");
    cf.done();
  }
  f.boolean("corrupt", g.corrupt);
  f.duration("retry_after", g.retry_after);
  f.done();
  return g;
}

void parse_strategy(const json& v, const std::string& path, DownloadConfig& d, UploadConfig& u,
                    double& upload_limit, double& seed_upload_limit, Duration& have_delay) {
  Fields f(v, path);
  f.integer("max_upload_connections", u.max_connections, 0, 100000);
  f.integer("upload_slots", u.slots, 0, 1024);
  f.integer("upload_hearings", u.hearings, 0, 1024);
  f.rate("upload_slot_rate", u.slot_bps);
  f.boolean("optimistic_slot", u.optimistic_slot);
  f.duration("rechoke_interval", u.rechoke_interval);
  f.duration("upload_out_time", u.out_time);
  f.integer("turn_chunks", u.turn_chunks, 0, 1000);
  f.integer("newcomer_slots", u.newcomer_slots, 0, 1024);
  f.boolean("spread_first_copies", u.spread_first_copies);
  f.integer("first_copy_stall_blocks", u.first_copy_stall_blocks, 0, 1000);
  f.boolean("behind_first", u.behind_first);
  f.boolean("newcomers_first", u.newcomers_first);
  f.boolean("fastest_first", u.fastest_first);
  f.number("upload_limit", upload_limit, 0.0, 1.0);
  f.number("seed_upload_limit", seed_upload_limit, 0.0, 1.0);
  f.duration("have_delay", have_delay);
  if (f.get("block_size") != nullptr) {
    std::uint64_t block = d.block_size;
    f.size("block_size", block);
    if (block < 1024 || block > 16 * 1024 * 1024) {
      invalid(f.at("block_size"), "must be between 1KiB and 16MiB");
    }
    d.block_size = static_cast<std::uint32_t>(block);
  }
  if (const auto* c = f.get("chunk")) {
    if (!c->is_string()) invalid(f.at("chunk"), "expected a string, got " + quote(*c));
    auto s = parse_chunk_strategy(c->get<std::string>());
    if (!s) invalid(f.at("chunk"), s.error().message);
    d.chunk_strategy = *s;
  }
  if (const auto* p = f.get("peer")) {
    if (!p->is_string()) invalid(f.at("peer"), "expected a string, got " + quote(*p));
    auto s = parse_peer_strategy(p->get<std::string>());
    if (!s) invalid(f.at("peer"), s.error().message);
    d.peer_strategy = *s;
  }
  f.integer("inflight_per_peer", d.max_inflight_per_peer, 1, 1024);
  f.integer("min_inflight_per_peer", d.min_inflight_per_peer, 1, 1024);
  f.integer("inflight_total", d.max_inflight_total, 1, 65536);
  f.integer("end_game_chunks", d.end_game_chunks, 0, 1000000);
  f.integer("max_sources", d.max_sources, 1, 1024);
  f.duration("newcomer_grace", d.newcomer_grace);
  f.integer("max_strikes", d.max_strikes, 1, 1000);
  f.duration("ping_interval", d.ping_interval);
  f.duration("first_refresh", d.first_refresh);
  f.duration("refresh_interval", d.refresh_interval);
  f.duration("stall_timeout", d.stall_timeout);
  f.duration("request_timeout", d.request_timeout);
  f.boolean("end_game", d.end_game);
  const std::pair<const char*, Duration> timings[] = {{"ping_interval", d.ping_interval},
                                                      {"first_refresh", d.first_refresh},
                                                      {"refresh_interval", d.refresh_interval},
                                                      {"stall_timeout", d.stall_timeout},
                                                      {"request_timeout", d.request_timeout}};
  for (const auto& [key, value] : timings) {
    if (value < 10ms) invalid(f.at(key), "must be at least 10ms");
  }
  f.done();
}

Scenario parse_root(const json& root) {
  Fields f(root, "");
  f.only({"name", "description", "seed", "stop", "snapshot_interval", "packet_size",
          "record_chunks", "record_traffic", "files", "tracker", "groups", "link_events",
          "strategy"});
  Scenario s;
  f.string("name", s.name);
  f.string("description", s.description);
  f.integer("seed", s.seed, 0, UINT64_MAX);
  if (const auto* stop = f.get("stop")) {
    Fields sf(*stop, "stop");
    sf.duration("time", s.stop_time);
    sf.boolean("when_all_done", s.stop_when_all_done);
    sf.done();
    if (s.stop_time <= Duration::zero()) invalid("stop.time", "must be > 0");
  }
  f.duration("snapshot_interval", s.snapshot_interval);
  if (s.snapshot_interval < 10ms) invalid("snapshot_interval", "must be at least 10ms");
  if (const auto* p = f.get("packet_size")) {
    if (!(p->is_string() && p->get<std::string>() == "auto")) {
      const auto bytes = Fields::size_value(*p, "packet_size");
      if (bytes < 576 || bytes > 64000) {
        invalid("packet_size", "must be \"auto\" or between 576B and 64000B, got " + quote(*p));
      }
      s.packet_size = static_cast<std::uint32_t>(bytes);
    }
  }
  f.boolean("record_chunks", s.record_chunks);
  f.boolean("record_traffic", s.record_traffic);

  const auto* files = f.get("files");
  if (files == nullptr || !files->is_array() || files->empty()) {
    invalid("files", "expected a non-empty list of shared files");
  }
  for (std::size_t i = 0; i < files->size(); ++i) {
    const std::string path = "files[" + std::to_string(i) + "]";
    Fields ff((*files)[i], path);
    SharedFile file;
    ff.string("name", file.name);
    if (auto ok = validate_swarm_name(file.name); !ok) invalid(ff.at("name"), ok.error().message);
    ff.size("size", file.size);
    if (file.size == 0 || file.size > (1ull << 40)) {
      invalid(ff.at("size"), "must be between 1B and 1TiB");
    }
    std::uint64_t chunk = file.chunk_size;
    ff.size("chunk_size", chunk);
    if (chunk < kMinChunkSize || chunk > kMaxChunkSize) {
      invalid(ff.at("chunk_size"), "must be between 4KiB and 16MiB, got " + format_size(chunk));
    }
    file.chunk_size = static_cast<std::uint32_t>(chunk);
    if ((file.size + chunk - 1) / chunk > 1'000'000) {
      invalid(ff.at("chunk_size"), "too small for the file: more than 1,000,000 chunks");
    }
    ff.done();
    for (const auto& other : s.files) {
      if (other.name == file.name) invalid(ff.at("name"), "two files named \"" + file.name + "\"");
    }
    s.files.push_back(file);
  }

  if (const auto* t = f.get("tracker")) {
    Fields tf(*t, "tracker");
    tf.rate("up", s.tracker.up_bps);
    tf.rate("down", s.tracker.down_bps);
    tf.duration("delay", s.tracker.delay);
    if (const auto* events = tf.get("events")) {
      if (!events->is_array()) invalid("tracker.events", "expected a list");
      for (std::size_t i = 0; i < events->size(); ++i) {
        Fields ef((*events)[i], "tracker.events[" + std::to_string(i) + "]");
        TrackerEvent e;
        if (!ef.has("at")) invalid(ef.at("at"), "required");
        ef.duration("at", e.at);
        if (!ef.has("action")) invalid(ef.at("action"), "required (crash or restart)");
        e.action = choice<TrackerEvent::Action>(
            ef.get("action"), ef.at("action"),
            {{"crash", TrackerEvent::Action::Crash}, {"restart", TrackerEvent::Action::Restart}},
            TrackerEvent::Action::Crash);
        ef.done();
        s.tracker.events.push_back(e);
      }
    }
    tf.done();
  }

  const auto* groups = f.get("groups");
  if (groups == nullptr || !groups->is_array() || groups->empty()) {
    invalid("groups", "expected a non-empty list of peer groups");
  }
  for (std::size_t i = 0; i < groups->size(); ++i) {
    auto g = parse_group((*groups)[i], "groups[" + std::to_string(i) + "]", i);
    if (g.file.empty()) g.file = s.files.front().name;
    const std::string path = "groups[" + std::to_string(i) + "]";
    if (std::none_of(s.files.begin(), s.files.end(),
                     [&](const SharedFile& sf) { return sf.name == g.file; })) {
      invalid(path + ".file", "no shared file is named \"" + g.file + "\"");
    }
    for (const auto& other : s.groups) {
      if (other.name == g.name) invalid(path + ".name", "two groups named \"" + g.name + "\"");
    }
    s.groups.push_back(std::move(g));
  }
  if (s.peer_count() == 0) invalid("groups", "the scenario has no peers (every count is 0)");
  for (const auto& file : s.files) {
    const bool seeded = std::any_of(s.groups.begin(), s.groups.end(), [&](const PeerGroup& g) {
      return g.file == file.name && g.role == PeerGroup::Role::Seeder && g.count > 0;
    });
    if (!seeded) invalid("groups", "no seeder group shares \"" + file.name + "\"");
  }

  if (const auto* events = f.get("link_events")) {
    if (!events->is_array()) invalid("link_events", "expected a list");
    for (std::size_t i = 0; i < events->size(); ++i) {
      const std::string path = "link_events[" + std::to_string(i) + "]";
      Fields ef((*events)[i], path);
      LinkEvent e;
      if (!ef.has("at")) invalid(ef.at("at"), "required");
      ef.duration("at", e.at);
      ef.string("group", e.group);
      if (std::none_of(s.groups.begin(), s.groups.end(),
                       [&](const PeerGroup& g) { return g.name == e.group; })) {
        invalid(ef.at("group"), "no group is named \"" + e.group + "\"");
      }
      if (ef.has("up")) ef.rate("up", e.up_bps.emplace());
      if (ef.has("down")) ef.rate("down", e.down_bps.emplace());
      if (ef.has("delay")) ef.duration("delay", e.delay.emplace());
      if (ef.has("partition")) ef.boolean("partition", e.partition.emplace());
      ef.done();
      if (!e.up_bps && !e.down_bps && !e.delay && !e.partition) {
        invalid(path, "changes nothing: give up, down, delay or partition");
      }
      s.link_events.push_back(e);
    }
  }
  if (const auto* st = f.get("strategy"))
    parse_strategy(*st, "strategy", s.download, s.upload, s.upload_limit, s.seed_upload_limit,
                   s.have_delay);
  f.done();
  return s;
}

// "groups[1].count" or "groups.1.count" -> JSON pointer "/groups/1/count".
Result<json::json_pointer> override_pointer(const std::string& path) {
  std::string pointer;
  std::string part;
  auto flush = [&]() -> bool {
    if (part.empty()) return false;
    pointer += "/" + part;
    part.clear();
    return true;
  };
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.' || c == '[' || c == ']') {
      if (c == '.' && part.empty() && i > 0 && path[i - 1] == ']') continue;
      if (!flush() && !(c == '[' && i > 0 && path[i - 1] == ']')) {
        return make_error(ErrorCode::InvalidArgument, "--set: bad field path \"" + path + "\"");
      }
    } else {
      part += c;
    }
  }
  if (!flush())
    return make_error(ErrorCode::InvalidArgument, "--set: bad field path \"" + path + "\"");
  return json::json_pointer(pointer);
}

}  // namespace

const SharedFile& Scenario::file_named(const std::string& file) const {
  for (const auto& f : files) {
    if (f.name == file) return f;
  }
  return files.front();
}

std::uint32_t Scenario::peer_count() const {
  std::uint32_t n = 0;
  for (const auto& g : groups) n += g.count;
  return n;
}

Result<Scenario> parse_scenario(const std::string& text,
                                const std::vector<std::string>& overrides) {
  json root;
  try {
    root = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::InvalidArgument, "not valid JSON: " + json_error_text(e));
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(
          ErrorCode::InvalidArgument,
          "--set expects field=value (e.g. strategy.chunk=random), got \"" + o + "\"");
    }
    auto pointer = override_pointer(o.substr(0, eq));
    if (!pointer) return pointer.error();
    const std::string text_value = o.substr(eq + 1);
    json value = json::parse(text_value, nullptr, false);
    if (value.is_discarded()) value = text_value;  // bare words are strings: random, 64MiB
    try {
      root[*pointer] = value;
    } catch (const json::exception& e) {
      return make_error(ErrorCode::InvalidArgument, "--set " + o.substr(0, eq) +
                                                        ": no such place in the scenario (" +
                                                        json_error_text(e) + ")");
    }
  }
  try {
    return parse_root(root);
  } catch (const Invalid& e) {
    return make_error(ErrorCode::InvalidArgument, e.message);
  }
}

Result<Scenario> load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return make_error(ErrorCode::InvalidArgument,
                      "cannot read scenario file " + path + ": it is a directory");
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::NotFound,
                      "cannot read scenario file " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  auto s = parse_scenario(text.str(), overrides);
  if (!s) return make_error(s.error().code, path + ": " + s.error().message);
  return s;
}

namespace {

// The resolved scenario is printed as a person writes it ("32MiB", "20Mbps", "10ms"), in
// the largest unit that holds the value exactly, so it still reads back as the same value.
std::string in_largest_unit(std::uint64_t n,
                            std::initializer_list<std::pair<std::uint64_t, const char*>> units) {
  for (const auto& [size, name] : units) {
    if (n >= size && n % size == 0) return std::to_string(n / size) + name;
  }
  return {};
}
std::string secs(Duration d) {
  const auto ns = d.count();
  if (ns > 0) {
    auto text = in_largest_unit(static_cast<std::uint64_t>(ns), {{3'600'000'000'000, "h"},
                                                                 {60'000'000'000, "min"},
                                                                 {1'000'000'000, "s"},
                                                                 {1'000'000, "ms"},
                                                                 {1'000, "us"}});
    if (!text.empty()) return text;
  }
  std::ostringstream s;
  s << to_seconds(d) << "s";
  return s.str();
}
std::string bps(std::uint64_t b) {
  auto text = in_largest_unit(b, {{1'000'000'000, "Gbps"}, {1'000'000, "Mbps"}, {1'000, "Kbps"}});
  return text.empty() ? std::to_string(b) + "bps" : text;
}
std::string bytes(std::uint64_t b) {
  auto text = in_largest_unit(b, {{1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}});
  return text.empty() ? std::to_string(b) + "B" : text;
}

json delay_json(const DelaySpec& d) {
  switch (d.dist) {
    case DelaySpec::Dist::Fixed:
      return secs(d.value);
    case DelaySpec::Dist::Uniform:
      return {{"dist", "uniform"}, {"min", secs(d.min)}, {"max", secs(d.max)}};
    case DelaySpec::Dist::Normal:
      return {{"dist", "normal"},
              {"mean", secs(d.mean)},
              {"stddev", secs(d.stddev)},
              {"min", secs(d.min)},
              {"max", secs(d.max)}};
    case DelaySpec::Dist::LogNormal:
      return {{"dist", "lognormal"}, {"median", secs(d.median)}, {"sigma", d.sigma}};
    case DelaySpec::Dist::List: {
      json values = json::array();
      for (auto v : d.values) values.push_back(secs(v));
      return {{"dist", "list"}, {"values", values}};
    }
  }
  return nullptr;
}

}  // namespace

json to_json(const Scenario& s) {
  json files = json::array();
  for (const auto& f : s.files) {
    files.push_back(
        {{"name", f.name}, {"size", bytes(f.size)}, {"chunk_size", bytes(f.chunk_size)}});
  }
  json groups = json::array();
  for (const auto& g : s.groups) {
    json arrival;
    switch (g.arrival.kind) {
      case ArrivalSpec::Kind::At:
        arrival = {{"kind", "at"}, {"at", secs(g.arrival.at)}};
        break;
      case ArrivalSpec::Kind::Poisson:
        arrival = {
            {"kind", "poisson"}, {"at", secs(g.arrival.at)}, {"rate_per_s", g.arrival.rate_per_s}};
        break;
      case ArrivalSpec::Kind::List: {
        json times = json::array();
        for (auto t : g.arrival.times) times.push_back(secs(t));
        arrival = {{"kind", "list"}, {"at", secs(g.arrival.at)}, {"times", times}};
        break;
      }
    }
    json departure;
    switch (g.departure.kind) {
      case DepartureSpec::Kind::Stay:
        departure = {{"kind", "stay"}};
        break;
      case DepartureSpec::Kind::AfterCompletion:
        departure = {{"kind", "after_completion"}, {"seed_time", secs(g.departure.seed_time)}};
        break;
      case DepartureSpec::Kind::Exponential:
        departure = {{"kind", "exponential"}, {"mean", secs(g.departure.mean)}};
        break;
      case DepartureSpec::Kind::Weibull:
        departure = {
            {"kind", "weibull"}, {"shape", g.departure.shape}, {"scale", secs(g.departure.scale)}};
        break;
    }
    groups.push_back(
        {{"name", g.name},
         {"count", g.count},
         {"role", g.role == PeerGroup::Role::Seeder ? "seeder" : "leecher"},
         {"file", g.file},
         {"up", bps(g.up_bps)},
         {"down", bps(g.down_bps)},
         {"delay", delay_json(g.delay)},
         {"loss", g.loss},
         {"arrival", arrival},
         {"departure", departure},
         {"crash",
          {{"fraction", g.crash.fraction}, {"from", secs(g.crash.from)}, {"to", secs(g.crash.to)}}},
         {"corrupt", g.corrupt},
         {"retry_after", secs(g.retry_after)}});
  }
  json tracker_events = json::array();
  for (const auto& e : s.tracker.events) {
    tracker_events.push_back(
        {{"at", secs(e.at)},
         {"action", e.action == TrackerEvent::Action::Crash ? "crash" : "restart"}});
  }
  json link_events = json::array();
  for (const auto& e : s.link_events) {
    json j = {{"at", secs(e.at)}, {"group", e.group}};
    if (e.up_bps) j["up"] = bps(*e.up_bps);
    if (e.down_bps) j["down"] = bps(*e.down_bps);
    if (e.delay) j["delay"] = secs(*e.delay);
    if (e.partition) j["partition"] = *e.partition;
    link_events.push_back(j);
  }
  const auto& d = s.download;
  return {{"name", s.name},
          {"description", s.description},
          {"seed", s.seed},
          {"stop", {{"time", secs(s.stop_time)}, {"when_all_done", s.stop_when_all_done}}},
          {"snapshot_interval", secs(s.snapshot_interval)},
          {"packet_size", bytes(resolve_packet_size(s))},
          {"record_chunks", s.record_chunks},
          {"record_traffic", s.record_traffic},
          {"files", files},
          {"tracker",
           {{"up", bps(s.tracker.up_bps)},
            {"down", bps(s.tracker.down_bps)},
            {"delay", secs(s.tracker.delay)},
            {"events", tracker_events}}},
          {"groups", groups},
          {"link_events", link_events},
          {"strategy",
           {{"chunk", to_string(d.chunk_strategy)},
            {"peer", to_string(d.peer_strategy)},
            {"inflight_per_peer", d.max_inflight_per_peer},
            {"min_inflight_per_peer", d.min_inflight_per_peer},
            {"inflight_total", d.max_inflight_total},
            {"max_sources", d.max_sources},
            {"newcomer_grace", secs(d.newcomer_grace)},
            {"max_strikes", d.max_strikes},
            {"ping_interval", secs(d.ping_interval)},
            {"first_refresh", secs(d.first_refresh)},
            {"refresh_interval", secs(d.refresh_interval)},
            {"stall_timeout", secs(d.stall_timeout)},
            {"request_timeout", secs(d.request_timeout)},
            {"end_game", d.end_game},
            {"end_game_chunks", d.end_game_chunks},
            {"max_upload_connections", s.upload.max_connections},
            {"upload_slots", s.upload.slots},
            {"upload_hearings", s.upload.hearings},
            {"upload_slot_rate", bps(s.upload.slot_bps)},
            {"optimistic_slot", s.upload.optimistic_slot},
            {"rechoke_interval", secs(s.upload.rechoke_interval)},
            {"upload_out_time", secs(s.upload.out_time)},
            {"turn_chunks", s.upload.turn_chunks},
            {"newcomer_slots", s.upload.newcomer_slots},
            {"spread_first_copies", s.upload.spread_first_copies},
            {"first_copy_stall_blocks", s.upload.first_copy_stall_blocks},
            {"behind_first", s.upload.behind_first},
            {"newcomers_first", s.upload.newcomers_first},
            {"fastest_first", s.upload.fastest_first},
            {"upload_limit", s.upload_limit},
            {"seed_upload_limit", s.seed_upload_limit},
            {"have_delay", secs(s.have_delay)},
            {"block_size", bytes(d.block_size)}}}};
}

std::uint32_t resolve_packet_size(const Scenario& s) {
  if (s.packet_size != 0) return s.packet_size;
  std::uint64_t slowest = std::min(s.tracker.up_bps, s.tracker.down_bps);
  for (const auto& g : s.groups) {
    slowest = std::min({slowest, g.up_bps, g.down_bps});
    for (const auto& e : s.link_events) {
      if (e.group != g.name) continue;
      if (e.up_bps) slowest = std::min(slowest, *e.up_bps);
      if (e.down_bps) slowest = std::min(slowest, *e.down_bps);
    }
  }
  // 4 ms of serialisation on the slowest link, rounded down to whole 100 bytes.
  const double bytes = static_cast<double>(slowest) / 8.0 * 0.004;
  const auto mtu = static_cast<std::uint32_t>(std::clamp(bytes, 1500.0, 64000.0));
  return mtu - mtu % 100;
}

}  // namespace swarmlab::sim

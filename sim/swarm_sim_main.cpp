// swarm-sim: runs scenario files on ns-3 and writes run folders.
//
//   swarm-sim run SCENARIO [--seed N] [--set field=value ...] [--out DIR] [--quiet]
//   swarm-sim sweep SCENARIO --vary field=v1,v2 [--vary ...] [--seeds 1..5] [--jobs 2]
//                   [--set ...] [--out DIR] [--on slurm [--partition P] [--time T]]
//   swarm-sim sweep-status DIR [--wait]        (a sweep submitted to Slurm)
//   swarm-sim validate SCENARIO [--set ...]   (prints the resolved scenario)
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/run_report.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "swarmlab/units.hpp"

namespace fs = std::filesystem;
using namespace swarmlab;
using namespace swarmlab::sim;

namespace {

int cmd_run(const std::string& path, std::optional<std::uint64_t> seed,
            std::vector<std::string> sets, std::string out, bool quiet) {
  if (seed) sets.push_back("seed=" + std::to_string(*seed));
  auto scenario = load_scenario(path, sets);
  if (!scenario) {
    std::fprintf(stderr, "swarm-sim: %s\n", scenario.error().message.c_str());
    return 2;
  }
  if (out.empty()) out = "runs/" + scenario->name + "-seed" + std::to_string(scenario->seed);
  ProgressDisplay display(quiet, "sim");
  auto result = run_scenario(*scenario, out, [&](const Progress& p) { display(p); });
  display.finish();
  if (!result) {
    std::fprintf(stderr, "swarm-sim: %s\n", result.error().message.c_str());
    return 1;
  }
  if (!quiet) print_summary(result->summary, result->run, out);
  return 0;
}

// "1..5" or "1,2,7".
Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  try {
    if (const auto dots = text.find(".."); dots != std::string::npos) {
      const auto a = std::stoull(text.substr(0, dots));
      const auto b = std::stoull(text.substr(dots + 2));
      if (b < a || b - a > 10000) throw std::invalid_argument("range");
      for (auto s = a; s <= b; ++s) seeds.push_back(s);
    } else {
      std::stringstream in(text);
      for (std::string item; std::getline(in, item, ',');) seeds.push_back(std::stoull(item));
    }
  } catch (const std::exception&) {
    return make_error(
        ErrorCode::InvalidArgument,
        "--seeds expects a range like 1..5 or a list like 1,2,7, got \"" + text + "\"");
  }
  if (seeds.empty()) return make_error(ErrorCode::InvalidArgument, "--seeds is empty");
  return seeds;
}

std::string safe_name(std::string s) {
  for (auto& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '=') c = '_';
  }
  return s;
}

// Mean and sample standard deviation of what the runs of one variant measured.
struct Spread {
  std::vector<double> values;
  std::string text(const char* format) const {
    if (values.empty()) return "-";
    double mean = 0;
    for (const auto v : values) mean += v;
    mean /= static_cast<double>(values.size());
    char buf[64];
    if (values.size() == 1) {
      std::snprintf(buf, sizeof buf, format, mean);
      return buf;
    }
    double var = 0;
    for (const auto v : values) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / static_cast<double>(values.size() - 1));
    std::string out;
    std::snprintf(buf, sizeof buf, format, mean);
    out = buf;
    std::snprintf(buf, sizeof buf, format, sd);
    return out + " ± " + buf;
  }
};

// The table a sweep ends with: one row per variant, mean ± spread across its seeds.
void print_variant_table(const nlohmann::json& index) {
  struct Row {
    std::size_t runs = 0, ok = 0;
    std::uint64_t completed = 0, leechers = 0;
    Spread mean, p95, ratio, origin;
  };
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  for (const auto& e : index) {
    std::string variant;
    for (const auto& p : e["params"])
      variant += (variant.empty() ? "" : " ") + p.get<std::string>();
    if (variant.empty()) variant = "(scenario as written)";
    if (rows.count(variant) == 0) order.push_back(variant);
    auto& r = rows[variant];
    ++r.runs;
    if (e["exit_status"] != 0 || !e.contains("completed")) continue;
    ++r.ok;
    r.completed += e["completed"].get<std::uint64_t>();
    r.leechers += e["leechers"].get<std::uint64_t>();
    const auto& dt = e["download_time_s"];
    if (dt.is_object() && dt.contains("mean")) r.mean.values.push_back(dt["mean"]);
    if (dt.is_object() && dt.contains("p95")) r.p95.values.push_back(dt["p95"]);
    if (e["kumar_ross_ratio"].is_number()) r.ratio.values.push_back(e["kumar_ross_ratio"]);
    if (e["origin_share"].is_number())
      r.origin.values.push_back(100.0 * e["origin_share"].get<double>());
  }
  std::vector<std::vector<std::string>> table = {
      {"variant", "runs", "completed", "mean (s)", "p95 (s)", "T / T_min", "origin %"}};
  for (const auto& v : order) {
    const auto& r = rows[v];
    table.push_back({v, std::to_string(r.ok) + "/" + std::to_string(r.runs),
                     std::to_string(r.completed) + "/" + std::to_string(r.leechers),
                     r.mean.text("%.2f"), r.p95.text("%.2f"), r.ratio.text("%.3f"),
                     r.origin.text("%.1f")});
  }
  std::vector<std::size_t> width(table[0].size(), 0);
  // Columns measured in characters; "±" is one character of two bytes.
  auto length = [](const std::string& s) {
    std::size_t n = 0;
    for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& row : table) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], length(row[c]));
  }
  for (std::size_t i = 0; i < table.size(); ++i) {
    std::string line;
    for (std::size_t c = 0; c < table[i].size(); ++c) {
      const auto pad = std::string(width[c] - length(table[i][c]), ' ');
      line += (c == 0 ? table[i][c] + pad : "  " + pad + table[i][c]);
    }
    std::printf("%s\n", line.c_str());
    if (i == 0) {
      std::size_t total = 0;
      for (const auto w : width) total += w + 2;
      std::printf("%s\n", std::string(total - 2, '-').c_str());
    }
  }
  std::printf("(mean ± standard deviation across seeds)\n");
}

// One run of a sweep.
struct Job {
  std::vector<std::string> sets;  // the varied fields only
  std::uint64_t seed;
  std::string dir;
  bool done = false;  // finished by an earlier run of this sweep
};

// Whether `dir` already holds a finished run of exactly `wanted` (a resumed sweep skips it).
bool already_done(const std::string& dir, const Scenario& wanted) {
  std::ifstream summary(dir + "/summary.json"), written(dir + "/scenario.json");
  if (!summary || !written) return false;
  const auto s = nlohmann::json::parse(summary, nullptr, false);
  const auto w = nlohmann::json::parse(written, nullptr, false);
  return !s.is_discarded() && !w.is_discarded() && w == to_json(wanted);
}

// The index of a sweep (index.json, index.csv) from its run folders, and its table. Returns
// the number of runs that failed (status != 0 or no summary).
int write_index(const std::string& out, const std::vector<Job>& all,
                const std::vector<int>& status) {
  nlohmann::json index = nlohmann::json::array();
  std::ofstream csv(out + "/index.csv");
  csv << "dir,seed,params,completed,leechers,mean_s,p95_s,max_s,origin_share,kr_ratio,status\n";
  int failed = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    nlohmann::json entry = {{"dir", fs::path(all[i].dir).filename().string()},
                            {"seed", all[i].seed},
                            {"params", all[i].sets},
                            {"exit_status", status[i]}};
    std::ifstream in(all[i].dir + "/summary.json");
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    std::string params;
    for (const auto& p : all[i].sets) params += (params.empty() ? "" : " ") + p;
    if (status[i] == 0 && !s.is_discarded()) {
      const auto& dt = s["download_time_s"];
      entry["completed"] = s["completed"];
      entry["leechers"] = s["leechers"];
      entry["download_time_s"] = dt;
      entry["origin_share"] = s["bytes_served"]["origin_share"];
      entry["kumar_ross_ratio"] = s["kumar_ross"]["ratio"];
      // Milliseconds and four significant digits of a ratio: what a run can tell apart.
      auto fixed = [](const nlohmann::json& v, int digits) {
        if (!v.is_number()) return std::string();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
        return std::string(buf);
      };
      csv << entry["dir"].get<std::string>() << ',' << all[i].seed << ",\"" << params << "\","
          << s["completed"] << ',' << s["leechers"] << ',' << fixed(dt.value("mean", 0.0), 3) << ','
          << fixed(dt.value("p95", 0.0), 3) << ',' << fixed(dt.value("max", 0.0), 3) << ','
          << fixed(s["bytes_served"]["origin_share"], 4) << ','
          << fixed(s["kumar_ross"]["ratio"], 4) << ",ok\n";
    } else {
      ++failed;
      // Exited 0 without a summary is a failure too, for every reader of index.json.
      if (status[i] == 0) entry["exit_status"] = 1;
      csv << entry["dir"].get<std::string>() << ',' << all[i].seed << ",\"" << params
          << "\",,,,,,,,failed\n";
    }
    index.push_back(entry);
  }
  std::ofstream(out + "/index.json") << index.dump(2) << '\n';
  print_variant_table(index);
  std::printf("Sweep of %zu runs written to %s (index.json, index.csv)", all.size(), out.c_str());
  if (failed > 0) std::printf("; %d of them failed", failed);
  std::printf(".\n");
  return failed;
}

// ---- sweeps on a Slurm cluster ----------------------------------------------------------
// The runs go out as one job array: task t runs one `swarm-sim run`, writing its run folder
// under the sweep folder on a path every node shares. slurm/job.json remembers which run is
// which task of which job, so `sweep-status` can tell done, waiting and failed runs apart and
// write the same index as a local sweep. Nothing of Slurm reaches the simulation itself.

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a program, returning its exit status and what it wrote to stdout.
std::pair<int, std::string> run_program(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {-1, ""};
  const pid_t pid = fork();
  if (pid < 0) return {-1, ""};
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return {WIFEXITED(ws) ? WEXITSTATUS(ws) : 128, text};
}

// The array tasks Slurm still holds, "JOB_TASK" -> state; nullopt if squeue cannot say (a
// busy controller answers the next time).
std::optional<std::map<std::string, std::string>> queued_tasks() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto [code, listing] = run_program({"squeue", "-h", "-r", "-o", "%i %T"});
    if (code == 0) {
      std::map<std::string, std::string> queued;
      std::istringstream lines(listing);
      for (std::string id, state; lines >> id >> state;) queued[id] = state;
      return queued;
    }
    if (code == 127) break;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  return std::nullopt;
}

std::string task_id(const nlohmann::json& run) {
  return run.value("job", std::string()) + "_" + std::to_string(run.value("task", std::size_t{0}));
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

int submit_to_slurm(const std::string& path, const std::vector<std::string>& base_sets,
                    const std::vector<Job>& all, const std::string& out,
                    const std::string& partition, const std::string& time_limit) {
  std::error_code ec;
  fs::create_directories(out + "/slurm", ec);
  if (ec) {
    std::fprintf(stderr, "swarm-sim: cannot create %s/slurm: %s\n", out.c_str(),
                 ec.message().c_str());
    return 1;
  }
  // Absolute paths: the tasks run wherever Slurm starts them.
  const auto self = fs::read_symlink("/proc/self/exe").string();
  const auto scenario = fs::absolute(path).string();
  const auto job_file = out + "/slurm/job.json";
  nlohmann::json job = read_json_file(job_file);
  if (!job.is_object()) job = {{"runs", nlohmann::json::array()}};
  job["scenario"] = scenario;
  job["sets"] = base_sets;
  std::map<std::string, nlohmann::json> previous;  // by run folder: its earlier job and task
  for (const auto& r : job["runs"]) previous[r.value("dir", "")] = r;
  // A run an earlier submission still has queued or running is not sent twice: two tasks
  // would write one folder.
  std::optional<std::map<std::string, std::string>> queued;
  if (!previous.empty()) queued = queued_tasks();
  std::vector<std::size_t> todo;
  std::size_t still_queued = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].done) continue;
    const auto name = fs::path(all[i].dir).filename().string();
    if (queued && previous.count(name) != 0 && previous[name].contains("job") &&
        queued->count(task_id(previous[name])) != 0) {
      ++still_queued;
      continue;
    }
    todo.push_back(i);
  }
  if (still_queued > 0) {
    std::printf(
        "%zu runs are still queued or running from an earlier submission; not sent again.\n",
        still_queued);
  }
  nlohmann::json runs = nlohmann::json::array();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto name = fs::path(all[i].dir).filename().string();
    nlohmann::json r = previous.count(name) != 0 ? previous[name] : nlohmann::json::object();
    r["dir"] = name;
    r["seed"] = all[i].seed;
    r["params"] = all[i].sets;
    runs.push_back(r);
  }
  if (todo.empty()) {
    job["runs"] = runs;
    std::ofstream(job_file) << job.dump(2) << '\n';
    if (still_queued > 0) {
      std::printf("Nothing new to submit; follow it with: swarm-sim sweep-status %s --wait\n",
                  out.c_str());
      return 0;
    }
    std::printf("Nothing to submit: all %zu runs in %s are done.\n", all.size(), out.c_str());
    std::vector<int> status(all.size(), 0);
    return write_index(out, all, status) == 0 ? 0 : 1;
  }
  const auto script_path = out + "/slurm/tasks.sh";
  {
    std::ofstream script(script_path);
    script << "#!/bin/bash\n# One swarm-sim run per array task (swarm-sim sweep --on slurm).\n"
           << "case \"$SLURM_ARRAY_TASK_ID\" in\n";
    for (std::size_t t = 0; t < todo.size(); ++t) {
      const auto& j = all[todo[t]];
      script << "  " << t << ") " << shell_quote(self) << " run " << shell_quote(scenario)
             << " --quiet --out " << shell_quote(fs::absolute(j.dir).string()) << " --seed "
             << j.seed;
      for (const auto& s : base_sets) script << " --set " << shell_quote(s);
      for (const auto& s : j.sets) script << " --set " << shell_quote(s);
      // How it ended, beside its log: a run whose summary a shared folder has not shown yet
      // is not taken for a failure.
      script << "\n     s=$?; echo $s > " << shell_quote(fs::absolute(out + "/slurm").string())
             << "/exit-${SLURM_ARRAY_JOB_ID}_" << t << "; exit $s ;;\n";
    }
    script << "  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n";
  }
  const auto logs = fs::absolute(out + "/slurm").string();
  std::vector<std::string> args = {"sbatch",
                                   "--parsable",
                                   "--job-name=swarmlab-sweep",
                                   "--array=0-" + std::to_string(todo.size() - 1),
                                   "--output=" + logs + "/task-%A_%a.out",
                                   "--error=" + logs + "/task-%A_%a.err"};
  if (!partition.empty()) args.push_back("--partition=" + partition);
  if (!time_limit.empty()) args.push_back("--time=" + time_limit);
  args.push_back(fs::absolute(script_path).string());
  const auto [code, said] = run_program(args);
  if (code == 127) {
    std::fprintf(stderr, "swarm-sim: --on slurm needs sbatch (Slurm's client) on PATH\n");
    return 1;
  }
  const auto job_id = said.substr(0, said.find_first_of(";\n"));
  if (code != 0 || job_id.empty()) {
    std::fprintf(stderr, "swarm-sim: sbatch refused the sweep (exit %d); see its message above\n",
                 code);
    return 1;
  }
  for (std::size_t t = 0; t < todo.size(); ++t) {
    runs[todo[t]]["job"] = job_id;
    runs[todo[t]]["task"] = t;
  }
  job["runs"] = runs;
  std::ofstream(job_file) << job.dump(2) << '\n';
  std::printf("Submitted %zu runs as Slurm job array %s", todo.size(), job_id.c_str());
  if (todo.size() < all.size()) std::printf(" (%zu already done, kept)", all.size() - todo.size());
  std::printf(".\nFollow it with: swarm-sim sweep-status %s --wait\n", out.c_str());
  return 0;
}

// The last lines of a task's stderr, for a failure report.
std::string tail_of(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

int cmd_sweep_status(const std::string& out, bool wait) {
  const auto job = read_json_file(out + "/slurm/job.json");
  if (!job.is_object() || !job.contains("runs")) {
    std::fprintf(stderr, "swarm-sim: %s is not a sweep submitted to Slurm (no slurm/job.json)\n",
                 out.c_str());
    return 2;
  }
  std::vector<Job> all;
  for (const auto& r : job["runs"]) {
    all.push_back(Job{r.value("params", std::vector<std::string>{}), r.value("seed", 0ull),
                      out + "/" + r.value("dir", std::string()), false});
  }
  std::string last_line;
  std::vector<int> grace(all.size(), 0);  // polls a run that exited 0 waited for its summary
  while (true) {
    // What Slurm still holds: "JOB_TASK STATE" per array task not yet finished.
    const auto queued = queued_tasks();
    if (!queued) {
      std::fprintf(stderr, "swarm-sim: squeue failed three times: is Slurm reachable?\n");
      return 1;
    }
    std::size_t done = 0, running = 0, pending = 0;
    std::vector<std::size_t> failed;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto& r = job["runs"][i];
      all[i].done = false;
      // A task still queued is not done, whatever an earlier run left in its folder.
      const auto q = r.contains("job") ? queued->find(task_id(r)) : queued->end();
      if (q != queued->end()) {
        ++(q->second == "RUNNING" || q->second == "COMPLETING" ? running : pending);
        continue;
      }
      if (read_json_file(all[i].dir + "/summary.json").is_object()) {
        all[i].done = true;
        ++done;
        continue;
      }
      // Gone from the queue without a summary: failed, unless it exited 0 and the shared
      // folder has not shown its summary yet (a minute's grace).
      std::ifstream exit_file(out + "/slurm/exit-" + task_id(r));
      int code = -1;
      exit_file >> code;
      if (code == 0 && wait && grace[i]++ < 30) {
        ++running;
        continue;
      }
      failed.push_back(i);
    }
    char line[160];
    std::snprintf(line, sizeof line,
                  "sweep-status: %zu/%zu done, %zu running, %zu waiting, %zu failed", done,
                  all.size(), running, pending, failed.size());
    if (line != last_line) std::fprintf(stderr, "%s\n", line);
    last_line = line;
    if (wait && running + pending > 0) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    for (const auto i : failed) {
      const auto& r = job["runs"][i];
      std::printf("FAILED %s (Slurm job %s, task %zu)\n%s", all[i].dir.c_str(),
                  r.value("job", std::string("?")).c_str(), r.value("task", std::size_t{0}),
                  tail_of(out + "/slurm/task-" + r.value("job", std::string()) + "_" +
                              std::to_string(r.value("task", std::size_t{0})) + ".err",
                          5)
                      .c_str());
    }
    if (running + pending > 0) return failed.empty() ? 0 : 1;  // not over yet: no index
    std::vector<int> status(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) status[i] = all[i].done ? 0 : 1;
    const int bad = write_index(out, all, status);
    if (bad > 0) {
      std::printf(
          "The same sweep command with --on slurm submits the failed runs again, alone "
          "(runs already done are kept).\n");
    }
    return bad == 0 ? 0 : 1;
  }
}

int cmd_sweep(const std::string& path, const std::vector<std::string>& vary,
              const std::vector<std::string>& base_sets, const std::string& seeds_text,
              unsigned jobs, std::string out, const std::string& on, const std::string& partition,
              const std::string& time_limit) {
  auto base = load_scenario(path, base_sets);
  if (!base) {
    std::fprintf(stderr, "swarm-sim: %s\n", base.error().message.c_str());
    return 2;
  }
  auto seeds = parse_seeds(seeds_text);
  if (!seeds) {
    std::fprintf(stderr, "swarm-sim: %s\n", seeds.error().message.c_str());
    return 2;
  }
  // Every combination of the --vary values.
  std::vector<std::vector<std::string>> combos{{}};
  for (const auto& v : vary) {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq + 1 == v.size()) {
      std::fprintf(stderr, "swarm-sim: --vary expects field=v1,v2, got \"%s\"\n", v.c_str());
      return 2;
    }
    std::vector<std::vector<std::string>> next;
    std::stringstream values(v.substr(eq + 1));
    for (std::string value; std::getline(values, value, ',');) {
      for (auto c : combos) {
        c.push_back(v.substr(0, eq) + "=" + value);
        next.push_back(c);
      }
    }
    combos = std::move(next);
  }
  std::vector<Job> all;
  if (out.empty()) out = "runs/" + base->name + "-sweep";
  for (const auto& c : combos) {
    for (auto seed : *seeds) {
      std::string name;
      for (const auto& s : c) name += safe_name(s) + "_";
      name += "seed" + std::to_string(seed);
      // Validate before starting anything: a typo fails at once, not after an hour.
      auto sets = base_sets;
      sets.insert(sets.end(), c.begin(), c.end());
      sets.push_back("seed=" + std::to_string(seed));
      auto ok = load_scenario(path, sets);
      if (!ok) {
        std::fprintf(stderr, "swarm-sim: %s\n", ok.error().message.c_str());
        return 2;
      }
      const auto dir = out + "/" + name;
      all.push_back(Job{c, seed, dir, already_done(dir, *ok)});
    }
  }
  if (on == "slurm") return submit_to_slurm(path, base_sets, all, out, partition, time_limit);
  std::vector<int> status(all.size(), -1);
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].done) status[i] = 0;
    skipped += all[i].done ? 1 : 0;
  }
  std::fprintf(stderr, "sweep: %zu runs, %u at a time, into %s", all.size(), jobs, out.c_str());
  if (skipped > 0) std::fprintf(stderr, " (%zu already done there, kept)", skipped);
  std::fprintf(stderr, "\n");
  std::map<pid_t, std::size_t> running;
  std::size_t next = 0, finished = skipped;
  while (finished < all.size()) {
    while (running.size() < jobs && next < all.size()) {
      if (all[next].done) {
        ++next;
        continue;
      }
      const auto& j = all[next];
      std::vector<std::string> args = {"swarm-sim", "run", path,     "--quiet",
                                       "--out",     j.dir, "--seed", std::to_string(j.seed)};
      for (const auto& s : base_sets) {
        args.push_back("--set");
        args.push_back(s);
      }
      for (const auto& s : j.sets) {
        args.push_back("--set");
        args.push_back(s);
      }
      const pid_t pid = fork();
      if (pid == 0) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv("/proc/self/exe", argv.data());
        _exit(127);
      }
      if (pid < 0) {
        std::perror("swarm-sim: fork");
        return 1;
      }
      running[pid] = next++;
    }
    int ws = 0;
    const pid_t pid = wait(&ws);
    if (pid < 0) break;
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    status[it->second] = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
    ++finished;
    std::fprintf(stderr, "sweep: %zu/%zu done (%s%s)\n", finished, all.size(),
                 all[it->second].dir.c_str(), status[it->second] == 0 ? "" : ", FAILED");
    running.erase(it);
  }
  return write_index(out, all, status) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"swarm-sim: run swarmlab scenarios on ns-3 and write run folders"};
  app.require_subcommand(1);

  std::string scenario, out, seeds = "1", log;
  std::vector<std::string> sets, vary;
  std::optional<std::uint64_t> seed;
  bool quiet = false;
  unsigned jobs = 2;

  auto* run = app.add_subcommand("run", "run one scenario and write its run folder");
  run->add_option("scenario", scenario, "scenario file (JSON with comments)")->required();
  run->add_option("--seed", seed, "random seed (overrides the scenario's)");
  run->add_option("--set", sets, "override a field: path.to.field=value (repeatable)");
  run->add_option("--out", out, "run folder (default runs/<name>-seed<N>)");
  run->add_flag("--quiet", quiet, "no progress and no summary on the terminal");

  auto* sweep = app.add_subcommand("sweep", "run combinations of values and seeds in parallel");
  sweep->add_option("scenario", scenario, "scenario file")->required();
  sweep->add_option("--vary", vary, "field=v1,v2,... (repeatable; every combination runs)");
  sweep->add_option("--seeds", seeds, "seeds: 1..5 or 1,2,7")->capture_default_str();
  sweep->add_option("--jobs", jobs, "runs at once")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  sweep->add_option("--set", sets, "override a field in every run: path.to.field=value");
  std::string on = "local", partition, time_limit;
  sweep
      ->add_option("--on", on,
                   "where the runs go: local (a pool of --jobs processes) or slurm "
                   "(one job array; follow it with sweep-status)")
      ->check(CLI::IsMember({"local", "slurm"}))
      ->capture_default_str();
  sweep->add_option("--partition", partition, "with --on slurm: the partition to submit to");
  sweep->add_option("--time", time_limit, "with --on slurm: each run's time limit (e.g. 30:00)");
  auto* status_cmd = app.add_subcommand(
      "sweep-status", "progress of a sweep submitted to Slurm; its index once it is over");
  status_cmd->add_option("dir", out, "the sweep folder")->required();
  bool wait = false;
  status_cmd->add_flag("--wait", wait, "wait until every run has finished or failed");
  sweep->add_option("--out", out,
                    "folder for the runs and index (default runs/<name>-sweep); runs already "
                    "finished there with the same scenario are kept, not run again");

  auto* validate = app.add_subcommand("validate", "check a scenario and print it resolved");
  validate->add_option("scenario", scenario, "scenario file")->required();
  validate->add_option("--set", sets, "override a field: path.to.field=value (repeatable)");

  app.set_version_flag("--version", "swarm-sim " SWARMLAB_VERSION);
  // A first word that names no command is said so (CLI11 would only ask for a subcommand).
  if (argc > 1 && argv[1][0] != '-' &&
      app.get_subcommands([&](const CLI::App* c) { return c->get_name() == argv[1]; }).empty()) {
    std::fprintf(
        stderr,
        "swarm-sim: unknown command \"%s\" (commands: run, sweep, sweep-status, validate)\n",
        argv[1]);
    return 2;
  }
  // Usage errors exit 2, as every other refusal of this program does.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*run) return cmd_run(scenario, seed, sets, out, quiet);
  if (*sweep) return cmd_sweep(scenario, vary, sets, seeds, jobs, out, on, partition, time_limit);
  if (*status_cmd) return cmd_sweep_status(out, wait);
  if (*validate) {
    auto s = load_scenario(scenario, sets);
    if (!s) {
      std::fprintf(stderr, "swarm-sim: %s\n", s.error().message.c_str());
      return 2;
    }
    std::printf("%s\n", to_json(*s).dump(2).c_str());
    return 0;
  }
  return 0;
}

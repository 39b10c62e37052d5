// swarm-emu: runs a scenario as real swarm-tracker and swarm-peer processes on an emulated
// network (docs/emulation.md) and writes the same run folder as swarm-sim.
//
//   swarm-emu run SCENARIO [--seed N] [--set field=value ...] [--out DIR] [--keep-data]
//                 [--programs DIR] [--quiet]
//   swarm-emu cleanup      (removes what runs that died left behind)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "emu/emulation.hpp"
#include "emu/host_namespaces.hpp"
#include "sim/run_report.hpp"
#include "sim/scenario.hpp"

namespace fs = std::filesystem;
using namespace swarmlab;

namespace {

// swarm-tracker and swarm-peer: in `dir` if given, else beside this program (installed) or
// in the build tree's realnet/ next to emu/.
std::optional<std::string> find_program(const std::string& name, const std::string& dir) {
  std::vector<fs::path> candidates;
  if (!dir.empty()) {
    candidates.push_back(fs::path(dir) / name);
  } else {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec).parent_path();
    candidates.push_back(self / name);
    candidates.push_back(self.parent_path() / "realnet" / name);
  }
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return fs::absolute(c).string();
  }
  return std::nullopt;
}

int cmd_run(const std::string& path, std::optional<std::uint64_t> seed,
            std::vector<std::string> sets, std::string out, bool keep_data,
            const std::string& programs, bool quiet) {
  if (seed) sets.push_back("seed=" + std::to_string(*seed));
  auto scenario = sim::load_scenario(path, sets);
  if (!scenario) {
    std::fprintf(stderr, "swarm-emu: %s\n", scenario.error().message.c_str());
    return 2;
  }
  if (const auto why = emu::unsupported_by_emulation(*scenario); !why.empty()) {
    std::fprintf(stderr, "swarm-emu: %s\n", why.c_str());
    return 2;
  }
  if (const auto missing = emu::missing_privileges(); !missing.empty()) {
    std::fprintf(stderr, "swarm-emu: needs %s\n", missing.c_str());
    return 1;
  }
  for (const auto& field : emu::strategy_not_applied(*scenario)) {
    std::fprintf(stderr,
                 "swarm-emu: warning: %s has no swarm-peer flag; the real peers use its default\n",
                 field.c_str());
  }
  emu::EmuOptions o;
  for (auto [name, field] :
       {std::pair{"swarm-tracker", &o.tracker_program}, std::pair{"swarm-peer", &o.peer_program}}) {
    auto found = find_program(name, programs);
    if (!found) {
      std::fprintf(stderr, "swarm-emu: cannot find %s%s (--programs DIR)\n", name,
                   programs.empty() ? " beside swarm-emu" : (" in " + programs).c_str());
      return 2;
    }
    *field = *found;
  }
  for (const auto& name : emu::HostNamespaces::sweep_dead_runs()) {
    std::fprintf(stderr, "swarm-emu: removed %s, left by a run that ended without cleaning up\n",
                 name.c_str());
  }
  if (out.empty()) out = "runs/" + scenario->name + "-emu-seed" + std::to_string(scenario->seed);
  o.out = fs::absolute(out).string();
  o.keep_data = keep_data;

  sim::ProgressDisplay display(quiet, "emu");
  // An exception unwinds through the run, whose destructors stop the programs and delete the
  // namespaces, before it is reported.
  Result<sim::RunResult> result = make_error(ErrorCode::IoError, "not run");
  try {
    result = emu::run_emulated(*scenario, o, [&](const sim::Progress& p) { display(p); });
  } catch (const std::exception& e) {
    result = make_error(ErrorCode::IoError, std::string("internal error: ") + e.what());
  }
  display.finish();
  if (!result) {
    std::fprintf(stderr, "swarm-emu: %s\n", result.error().message.c_str());
    return 1;
  }
  if (!quiet) sim::print_summary(result->summary, result->run, out);
  if (result->run.value("interrupted", false)) {
    std::fprintf(stderr, "swarm-emu: interrupted; the run folder holds what happened until then\n");
    return 130;
  }
  const auto& files = result->run["files"];
  if (files["identical"] != files["checked"]) {
    std::fprintf(stderr, "swarm-emu: downloaded files differ from their source: %s\n",
                 files["different"].dump().c_str());
    return 1;
  }
  return 0;
}

int cmd_cleanup() {
  if (const auto missing = emu::missing_privileges(); !missing.empty()) {
    std::fprintf(stderr, "swarm-emu: needs %s\n", missing.c_str());
    return 1;
  }
  const auto swept = emu::HostNamespaces::sweep_dead_runs();
  for (const auto& name : swept) std::printf("removed %s\n", name.c_str());
  const auto left = emu::HostNamespaces::existing();
  std::printf("%zu namespaces removed; %zu belong to runs still going\n", swept.size(),
              left.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"swarm-emu: runs a scenario as real programs on an emulated network."};
  app.require_subcommand(1);
  std::string scenario, out, programs;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  bool quiet = false, keep_data = false;
  auto* run = app.add_subcommand("run", "run one scenario in real time and write its run folder");
  run->add_option("scenario", scenario, "scenario file (JSON with comments)")->required();
  run->add_option("--seed", seed, "random seed (overrides the scenario's)");
  run->add_option("--set", sets, "override a field: path.to.field=value (repeatable)");
  run->add_option("--out", out, "run folder (default runs/<name>-emu-seed<N>)");
  run->add_flag("--keep-data", keep_data,
                "keep the shared and downloaded files (data/ in the run folder)");
  run->add_option("--programs", programs,
                  "where swarm-tracker and swarm-peer are (default: beside swarm-emu)");
  run->add_flag("--quiet", quiet, "no progress and no summary on the terminal");
  auto* cleanup = app.add_subcommand(
      "cleanup", "remove the namespaces and processes of runs that died without cleaning up");
  app.set_version_flag("--version", "swarm-emu " SWARMLAB_VERSION);
  if (argc > 1 && argv[1][0] != '-' &&
      app.get_subcommands([&](const CLI::App* c) { return c->get_name() == argv[1]; }).empty()) {
    std::fprintf(stderr, "swarm-emu: unknown command \"%s\" (commands: run, cleanup)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*run) return cmd_run(scenario, seed, sets, out, keep_data, programs, quiet);
  if (*cleanup) return cmd_cleanup();
  return 0;
}

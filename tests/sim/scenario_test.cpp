// Scenario files: defaults, units, comments, overrides, and an error that names the field
// for every kind of mistake. Plus the per-peer plan and the Kumar–Ross bound.
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include "sim/swarm_plan.hpp"

namespace swarmlab::sim {
namespace {

const char* kMinimal = R"({
  // comments are allowed
  "files": [{ "name": "f.bin", "size": "8MiB" }],
  "groups": [
    { "name": "s", "role": "seeder" },
    { "name": "l", "count": 3 }  /* leechers */
  ]
})";

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  auto s = parse_scenario(text, sets);
  EXPECT_FALSE(s) << "expected an error";
  return s ? "" : s.error().message;
}

// A minimal scenario with `group` as its leecher group's body.
std::string with_leecher(const std::string& group) {
  return R"({"files": [{"name": "f.bin", "size": "8MiB"}],
             "groups": [{"name": "s", "role": "seeder"}, )" +
         group + "]}";
}

TEST(Scenario, DefaultsFillEveryField) {
  auto s = parse_scenario(kMinimal);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->files[0].chunk_size, 512u * 1024);
  EXPECT_EQ(s->files[0].size, 8u << 20);
  ASSERT_EQ(s->groups.size(), 2u);
  EXPECT_EQ(s->groups[0].count, 1u);
  EXPECT_EQ(s->groups[1].count, 3u);
  EXPECT_EQ(s->groups[1].role, PeerGroup::Role::Leecher);
  EXPECT_EQ(s->groups[1].file, "f.bin");
  EXPECT_EQ(s->groups[1].up_bps, 8'000'000u);
  EXPECT_EQ(s->download.chunk_strategy, ChunkStrategy::RarestFirst);
  EXPECT_EQ(s->peer_count(), 4u);
  // The resolved form names every field, including the packet size that "auto" chose.
  const auto j = to_json(*s);
  EXPECT_EQ(j["packet_size"], "4000B");  // 4 ms at the 8 Mbps default links
  EXPECT_EQ(j["strategy"]["chunk"], "rarest-first");
  EXPECT_EQ(j["groups"][1]["departure"]["kind"], "stay");
  // And it parses back to the same scenario.
  auto again = parse_scenario(j.dump());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(to_json(*again), j);
}

TEST(Scenario, UnitsAndDistributions) {
  auto s = parse_scenario(with_leecher(R"({"name": "l", "count": 2, "up": "1.5Mbps",
      "down": "2MB/s", "delay": {"dist": "uniform", "min": "5ms", "max": "200ms"},
      "arrival": {"kind": "poisson", "rate_per_s": 0.5},
      "departure": {"kind": "weibull", "shape": 2, "scale": "5min"},
      "crash": {"fraction": 0.5, "from": "10s", "to": "20s"}})"));
  ASSERT_TRUE(s) << s.error().message;
  const auto& g = s->groups[1];
  EXPECT_EQ(g.up_bps, 1'500'000u);
  EXPECT_EQ(g.down_bps, 16'000'000u);
  EXPECT_EQ(g.delay.dist, DelaySpec::Dist::Uniform);
  EXPECT_EQ(g.delay.max, 200ms);
  EXPECT_EQ(g.departure.scale, 300s);
  EXPECT_DOUBLE_EQ(g.crash.fraction, 0.5);
}

TEST(Scenario, OverridesApplyBeforeValidation) {
  auto s = parse_scenario(kMinimal, {"strategy.chunk=random", "groups[1].count=7",
                                     "groups.1.up=2Mbps", "seed=42", "stop.time=5min"});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->download.chunk_strategy, ChunkStrategy::Random);
  EXPECT_EQ(s->groups[1].count, 7u);
  EXPECT_EQ(s->groups[1].up_bps, 2'000'000u);
  EXPECT_EQ(s->seed, 42u);
  EXPECT_EQ(s->stop_time, 300s);
  // An override is validated like the file itself.
  EXPECT_NE(error_of(kMinimal, {"strategy.chunk=fastest-first"}).find("strategy.chunk"),
            std::string::npos);
  EXPECT_NE(error_of(kMinimal, {"nonsense"}).find("field=value"), std::string::npos);
}

struct BadCase {
  const char* what;
  std::string text;
  std::vector<std::string> sets;
  const char* names;  // the error must contain this (the field, and the value when bad)
};

TEST(Scenario, EveryKindOfMistakeNamesTheField) {
  const std::vector<BadCase> cases = {
      {"not JSON", "{ files: }", {}, "not valid JSON"},
      // Found by tests/fuzz/scenario_fuzzer: a number JSON cannot hold threw past the parser.
      {"number overflow",
       R"({"seed": 6666666666666666666666666666666666E66666666})",
       {},
       "not valid JSON"},
      {"unknown top-level field", R"({"filez": []})", {}, "filez: unknown field"},
      {"no files", R"({"groups": [{"role": "seeder"}]})", {}, "files: expected"},
      {"unknown group field",
       with_leecher(R"({"name": "l", "uplink": "8Mbps"})"),
       {},
       "groups[1].uplink: unknown field"},
      {"rate without unit", with_leecher(R"({"name": "l", "up": "8"})"), {}, "groups[1].up"},
      {"rate as a number",
       with_leecher(R"({"name": "l", "down": 8000000})"),
       {},
       "groups[1].down: expected a rate"},
      {"bad size",
       R"({"files": [{"name": "f", "size": "8 furlongs"}], "groups": []})",
       {},
       "files[0].size"},
      {"chunk too small",
       R"({"files": [{"name": "f", "size": "8MiB", "chunk_size": "1KiB"}], "groups": []})",
       {},
       "files[0].chunk_size"},
      {"path-like file name",
       R"({"files": [{"name": "../etc/passwd", "size": "1MiB"}]})",
       {},
       "files[0].name"},
      {"negative count", with_leecher(R"({"name": "l", "count": -3})"), {}, "groups[1].count"},
      {"fraction above 1",
       with_leecher(R"({"name": "l", "crash": {"fraction": 1.5}})"),
       {},
       "groups[1].crash.fraction: must be between 0 and 1, got 1.5"},
      {"unknown role",
       with_leecher(R"({"name": "l", "role": "lurker"})"),
       {},
       "groups[1].role: expected one of leecher, seeder, got \"lurker\""},
      {"missing distribution parameter",
       with_leecher(R"({"name": "l", "delay": {"dist": "uniform", "min": "5ms"}})"),
       {},
       "groups[1].delay.max: required"},
      {"max below min",
       with_leecher(R"({"name": "l", "delay": {"dist": "uniform", "min": "9ms", "max": "5ms"}})"),
       {},
       "groups[1].delay.max: must not be below min"},
      {"poisson without rate",
       with_leecher(R"({"name": "l", "arrival": {"kind": "poisson"}})"),
       {},
       "groups[1].arrival.rate_per_s: required"},
      {"unknown file",
       with_leecher(R"({"name": "l", "file": "other.bin"})"),
       {},
       "groups[1].file: no shared file is named \"other.bin\""},
      {"duplicate group", with_leecher(R"({"name": "s"})"), {}, "groups[1].name: two groups"},
      {"no seeder",
       R"({"files": [{"name": "f", "size": "1MiB"}], "groups": [{"name": "l"}]})",
       {},
       "no seeder group shares \"f\""},
      {"bad strategy", kMinimal, {"strategy.peer=closest"}, "strategy.peer"},
      {"unknown tracker action",
       R"({"files": [{"name": "f", "size": "1MiB"}], "groups": [{"role": "seeder"}],
           "tracker": {"events": [{"at": "5s", "action": "explode"}]}})",
       {},
       "tracker.events[0].action"},
      {"link event on unknown group",
       R"({"files": [{"name": "f", "size": "1MiB"}], "groups": [{"role": "seeder"}],
           "link_events": [{"at": "5s", "group": "ghosts", "delay": "5ms"}]})",
       {},
       "link_events[0].group: no group is named \"ghosts\""},
      {"link event that changes nothing",
       R"({"files": [{"name": "f", "size": "1MiB"}], "groups": [{"name": "g", "role": "seeder"}],
           "link_events": [{"at": "5s", "group": "g"}]})",
       {},
       "link_events[0]: changes nothing"},
      {"packet size out of range", kMinimal, {"packet_size=100KB"}, "packet_size"},
      {"negative duration", kMinimal, {"stop.time=-5s"}, "stop.time"},
      {"bad override path", kMinimal, {"groups[.count=3"}, "bad field path"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto message = error_of(c.text, c.sets);
    EXPECT_NE(message.find(c.names), std::string::npos) << "message was: " << message;
  }
}

TEST(Scenario, LoadingAMissingFileSaysWhich) {
  auto s = load_scenario("/nonexistent/flash.json");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("/nonexistent/flash.json"), std::string::npos);
}

TEST(SwarmPlan, SameSeedSamePlanOtherSeedOtherPlan) {
  const auto text = with_leecher(R"({"name": "l", "count": 50,
      "delay": {"dist": "lognormal", "median": "20ms", "sigma": 0.8},
      "arrival": {"kind": "poisson", "rate_per_s": 2},
      "crash": {"fraction": 0.2, "from": "5s", "to": "50s"}})");
  auto a = parse_scenario(text, {"seed=7"});
  auto b = parse_scenario(text, {"seed=8"});
  ASSERT_TRUE(a && b);
  const auto pa = plan_peers(*a), pa2 = plan_peers(*a), pb = plan_peers(*b);
  ASSERT_EQ(pa.size(), 51u);
  std::size_t crashes = 0;
  bool differs = false;
  Duration last_arrival{};
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].delay, pa2[i].delay);
    EXPECT_EQ(pa[i].arrival, pa2[i].arrival);
    differs |= pa[i].delay != pb[i].delay;
    if (pa[i].crash_at) {
      ++crashes;
      EXPECT_GE(*pa[i].crash_at, 5s);
      EXPECT_GE(*pa[i].crash_at, pa[i].arrival);
    }
    if (i > 0) {  // Poisson arrivals are increasing
      EXPECT_GT(pa[i].arrival, last_arrival);
      last_arrival = pa[i].arrival;
    }
  }
  EXPECT_EQ(crashes, 10u);  // 20% of 50
  EXPECT_TRUE(differs);
  // 50 arrivals at 2/s: the last one near 25 s, not at 0 and not at 250.
  EXPECT_GT(to_seconds(pa.back().arrival), 10.0);
  EXPECT_LT(to_seconds(pa.back().arrival), 50.0);
}

TEST(KumarRoss, TheLargestOfTheThreeTerms) {
  // 8 MiB, seed 10 Mbps, 3 leechers at 2 Mbps up / 100 Mbps down:
  // F/u_s = 6.71 s, F/d_min = 0.67 s, N F/(u_s + sum u_i) = 3 * 67.1 Mbit / 16 Mbps = 12.58 s.
  auto s = parse_scenario(with_leecher(R"({"name": "l", "count": 3, "up": "2Mbps",
      "down": "100Mbps"})"),
                          {"groups[0].up=10Mbps"});
  ASSERT_TRUE(s) << s.error().message;
  const auto k = kumar_ross(*s);
  EXPECT_NEAR(k.t_min_s, 3 * 8.0 * 8 * 1048576 / 16e6, 1e-9);
  EXPECT_TRUE(k.assumptions_hold);
  // A slow downloader makes F/d_min the bound.
  auto slow = parse_scenario(with_leecher(R"({"name": "l", "count": 3, "down": "1Mbps"})"));
  ASSERT_TRUE(slow);
  EXPECT_NEAR(kumar_ross(*slow).t_min_s, 8.0 * 8 * 1048576 / 1e6, 1e-9);
  // Churn breaks the bound's assumptions, and the summary says so.
  auto churn = parse_scenario(with_leecher(R"({"name": "l", "arrival": {"kind": "poisson",
      "rate_per_s": 1}})"));
  ASSERT_TRUE(churn);
  EXPECT_FALSE(kumar_ross(*churn).assumptions_hold);
}

TEST(FluidModel, OpenSwarmSteadyState) {
  // 16 MiB, leechers 4 Mbps up / 20 Mbps down arriving at 0.5/s, seeding 20 s after:
  // 1/mu = 33.55 s, 1/c = 6.71 s, 1/gamma = 20 s -> T = max(6.71, 33.55 - 20) = 13.55 s.
  auto s = parse_scenario(R"({"files": [{"name": "f", "size": "16MiB"}],
      "groups": [{"name": "s", "role": "seeder"},
                 {"name": "l", "count": 80, "up": "4Mbps", "down": "20Mbps",
                  "arrival": {"kind": "poisson", "rate_per_s": 0.5},
                  "departure": {"kind": "after_completion", "seed_time": "20s"}}]})");
  ASSERT_TRUE(s) << s.error().message;
  const auto m = fluid_model(*s);
  ASSERT_TRUE(m.has_value());
  const double inv_mu = 16.0 * 8 * 1048576 / 4e6;
  EXPECT_NEAR(m->mean_download_s, inv_mu - 20.0, 1e-9);
  EXPECT_NEAR(m->mean_leechers, 0.5 * (inv_mu - 20.0), 1e-9);
  EXPECT_NEAR(m->mean_seeds, 10.0, 1e-9);
  // The origin seed (8 Mbps, the default) and 160 s of arrivals: 11.73 s, between the
  // download-limited floor 1/c (6.7 s) and the steady state without origins (13.55 s).
  EXPECT_NEAR(m->origin, 8e6 / (16.0 * 8 * 1048576), 1e-12);
  ASSERT_TRUE(m->finite_mean_download_s);
  EXPECT_NEAR(*m->finite_mean_download_s, 11.73, 0.02);
  // Origins that carry the whole demand: every leecher downloads at its own rate, 1/c.
  auto rich = parse_scenario(R"({"files": [{"name": "f", "size": "16MiB"}],
      "groups": [{"name": "s", "role": "seeder", "count": 4, "up": "1Gbps"},
                 {"name": "l", "count": 80, "up": "4Mbps", "down": "20Mbps",
                  "arrival": {"kind": "poisson", "rate_per_s": 0.5},
                  "departure": {"kind": "after_completion", "seed_time": "20s"}}]})");
  ASSERT_TRUE(rich) << rich.error().message;
  EXPECT_NEAR(fluid_model(*rich)->finite_mean_download_s.value(), 16.0 * 8 * 1048576 / 20e6, 0.01);
  // A seed that leaves is not an origin; arrivals spread over 10^5 s of 1 MiB downloads do
  // not settle within the step budget, and say so instead of giving a number.
  auto thin = parse_scenario(R"({"files": [{"name": "f", "size": "1MiB"}],
      "groups": [{"name": "s", "role": "seeder",
                  "departure": {"kind": "exponential", "mean": "100s"}},
                 {"name": "l", "count": 1000, "up": "4Mbps", "down": "100Mbps",
                  "arrival": {"kind": "poisson", "rate_per_s": 0.01},
                  "departure": {"kind": "after_completion", "seed_time": "20s"}}]})");
  ASSERT_TRUE(thin) << thin.error().message;
  EXPECT_EQ(fluid_model(*thin)->origin, 0.0);
  EXPECT_FALSE(fluid_model(*thin)->finite_mean_download_s.has_value());
  // A flash crowd is not an open swarm: no model.
  EXPECT_FALSE(fluid_model(*parse_scenario(kMinimal)).has_value());
}

}  // namespace
}  // namespace swarmlab::sim

#include "sim/swarm_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "swarmlab/rng.hpp"

namespace swarmlab::sim {
namespace {

// Distributions written out here: std:: distributions differ between standard libraries,
// and a run must be the same everywhere for a given seed.
double normal(Rng& rng) {
  const double u1 = std::max(rng.unit(), 1e-300);
  const double u2 = rng.unit();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}
double exponential(Rng& rng, double mean) {
  return -mean * std::log(1.0 - rng.unit());
}
double weibull(Rng& rng, double shape, double scale) {
  return scale * std::pow(-std::log(1.0 - rng.unit()), 1.0 / shape);
}
Duration secs(double s) {
  return from_seconds(s);
}

Duration draw_delay(const DelaySpec& d, std::size_t k, Rng& rng) {
  switch (d.dist) {
    case DelaySpec::Dist::Fixed:
      return d.value;
    case DelaySpec::Dist::Uniform:
      return d.min + secs(rng.unit() * to_seconds(d.max - d.min));
    case DelaySpec::Dist::Normal: {
      const double v = to_seconds(d.mean) + normal(rng) * to_seconds(d.stddev);
      return secs(std::clamp(v, to_seconds(d.min), to_seconds(d.max)));
    }
    case DelaySpec::Dist::LogNormal:
      return secs(std::min(to_seconds(d.median) * std::exp(d.sigma * normal(rng)), 10.0));
    case DelaySpec::Dist::List:
      return d.values[k % d.values.size()];
  }
  return d.value;
}

}  // namespace

std::vector<PeerPlan> plan_peers(const Scenario& s) {
  std::vector<PeerPlan> plans;
  Rng rng(s.seed ^ 0x5157'4152'4d4cULL);
  for (std::size_t gi = 0; gi < s.groups.size(); ++gi) {
    const auto& g = s.groups[gi];
    double poisson_clock = to_seconds(g.arrival.at);
    std::vector<std::size_t> members;
    for (std::uint32_t k = 0; k < g.count; ++k) {
      PeerPlan p;
      p.id = g.name + "-" + std::to_string(k);
      p.group = gi;
      p.delay = draw_delay(g.delay, k, rng);
      switch (g.arrival.kind) {
        case ArrivalSpec::Kind::At:
          p.arrival = g.arrival.at;
          break;
        case ArrivalSpec::Kind::Poisson:
          poisson_clock += exponential(rng, 1.0 / g.arrival.rate_per_s);
          p.arrival = secs(poisson_clock);
          break;
        case ArrivalSpec::Kind::List:
          p.arrival = g.arrival.at +
                      (k < g.arrival.times.size() ? g.arrival.times[k] : g.arrival.times.back());
          break;
      }
      switch (g.departure.kind) {
        case DepartureSpec::Kind::Exponential:
          p.leave_at = p.arrival + secs(exponential(rng, to_seconds(g.departure.mean)));
          break;
        case DepartureSpec::Kind::Weibull:
          p.leave_at =
              p.arrival + secs(weibull(rng, g.departure.shape, to_seconds(g.departure.scale)));
          break;
        default:
          break;
      }
      members.push_back(plans.size());
      plans.push_back(std::move(p));
    }
    // Crash victims: a random subset of the group's size times the fraction (rounded).
    auto victims = static_cast<std::size_t>(std::lround(g.crash.fraction * g.count));
    for (std::size_t i = 0; i < victims && !members.empty(); ++i) {
      const auto pick = rng.below(members.size());
      auto& p = plans[members[pick]];
      members.erase(members.begin() + static_cast<std::ptrdiff_t>(pick));
      const auto at = g.crash.from + secs(rng.unit() * to_seconds(g.crash.to - g.crash.from));
      p.crash_at = std::max(at, p.arrival);
    }
  }
  return plans;
}

KumarRoss kumar_ross(const Scenario& s) {
  KumarRoss k;
  const auto& file = s.files.front();
  k.file_bits = static_cast<double>(file.size) * 8.0;
  k.min_down_bps = 0;
  std::optional<Duration> arrival;
  for (const auto& g : s.groups) {
    if (g.file != file.name || g.count == 0) continue;
    if (g.role == PeerGroup::Role::Seeder) {
      k.seed_up_bps += static_cast<double>(g.up_bps) * g.count;
      continue;
    }
    k.leechers += g.count;
    k.sum_up_bps += static_cast<double>(g.up_bps) * g.count;
    const auto down = static_cast<double>(g.down_bps);
    k.min_down_bps = k.min_down_bps == 0 ? down : std::min(k.min_down_bps, down);
    auto fail = [&](const std::string& why) {
      if (k.assumptions_hold) k.why_not = why;
      k.assumptions_hold = false;
    };
    if (g.arrival.kind != ArrivalSpec::Kind::At) fail("leechers do not all arrive together");
    if (arrival && *arrival != g.arrival.at) fail("leechers do not all arrive together");
    arrival = g.arrival.at;
    if (g.departure.kind == DepartureSpec::Kind::Exponential ||
        g.departure.kind == DepartureSpec::Kind::Weibull || g.crash.fraction > 0) {
      fail("peers leave or crash during the run");
    }
    if (g.corrupt) fail("some peers corrupt chunks");
  }
  if (s.files.size() > 1) {
    k.assumptions_hold = false;
    k.why_not = "more than one file";
  }
  if (!s.link_events.empty() || !s.tracker.events.empty()) {
    if (k.assumptions_hold) k.why_not = "links or the tracker change during the run";
    k.assumptions_hold = false;
  }
  if (k.leechers == 0 || k.seed_up_bps == 0) return k;
  k.t_min_s = std::max({k.file_bits / k.seed_up_bps, k.file_bits / k.min_down_bps,
                        k.leechers * k.file_bits / (k.seed_up_bps + k.sum_up_bps)});
  return k;
}

}  // namespace swarmlab::sim

namespace swarmlab::sim {

namespace {

// dx/dt = lambda - S, dy/dt = S - gamma*y with S = min(c*x, mu*(x + y) + origin), by Euler
// steps of a hundredth of the fastest rate's time constant (a finer step moves poisson-churn's
// figure by 0.05 %), until the arrivals are over and fewer than a billionth of them remain.
std::optional<double> finite_mean_download(const FluidModel& m, std::uint32_t count) {
  constexpr double kStepOfTimeConstant = 1e-2;
  constexpr double kLeftOver = 1e-9;
  constexpr std::uint64_t kMostSteps = 20'000'000;  // a fifth of a second, at most
  const double window = count / m.lambda;
  const double dt = kStepOfTimeConstant /
                    std::max({m.c, m.mu, m.lambda / count, std::isfinite(m.gamma) ? m.gamma : 0.0});
  double x = 0, y = 0, t = 0, area = 0;
  for (std::uint64_t step = 0; step < kMostSteps; ++step) {
    const double arriving = t < window ? m.lambda : 0.0;
    const double served = std::min(m.c * x, m.mu * (x + y) + m.origin);
    x += (arriving - served) * dt;
    y = std::isfinite(m.gamma) ? y + (served - m.gamma * y) * dt : 0.0;
    area += x * dt;
    t += dt;
    if (t >= window && x < kLeftOver * count) return area / count;
  }
  return std::nullopt;
}

}  // namespace

std::optional<FluidModel> fluid_model(const Scenario& s) {
  const PeerGroup* open = nullptr;
  for (const auto& g : s.groups) {
    if (g.role == PeerGroup::Role::Seeder || g.count == 0) continue;
    if (open != nullptr) return std::nullopt;  // one leecher group only
    open = &g;
  }
  if (open == nullptr || open->arrival.kind != ArrivalSpec::Kind::Poisson ||
      open->departure.kind != DepartureSpec::Kind::AfterCompletion || s.files.size() != 1) {
    return std::nullopt;
  }
  const double file_bits = static_cast<double>(s.files.front().size) * 8.0;
  FluidModel m;
  m.lambda = open->arrival.rate_per_s;
  m.mu = static_cast<double>(open->up_bps) / file_bits;
  m.c = static_cast<double>(open->down_bps) / file_bits;
  const double seed_time = to_seconds(open->departure.seed_time);
  m.gamma = seed_time > 0 ? 1.0 / seed_time : std::numeric_limits<double>::infinity();
  // 1/beta = max(1/c, (1/eta)(1/mu - 1/gamma)) with eta = 1; T = 1/beta when theta = 0.
  const double inv_beta = std::max(1.0 / m.c, 1.0 / m.mu - (seed_time > 0 ? seed_time : 0.0));
  m.mean_download_s = inv_beta;
  m.mean_leechers = m.lambda * inv_beta;
  m.mean_seeds = m.lambda * seed_time;
  for (const auto& g : s.groups) {
    const bool stays = g.departure.kind == DepartureSpec::Kind::Stay && g.crash.fraction == 0 &&
                       g.arrival.kind == ArrivalSpec::Kind::At && g.arrival.at == Duration::zero();
    if (g.role == PeerGroup::Role::Seeder && stays)
      m.origin += g.count * static_cast<double>(g.up_bps);
  }
  m.origin /= file_bits;
  m.finite_mean_download_s = finite_mean_download(m, open->count);
  return m;
}

}  // namespace swarmlab::sim

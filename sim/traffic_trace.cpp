#include "sim/traffic_trace.hpp"

#include "sim/star_topology.hpp"

namespace swarmlab::sim {

namespace {
long long ns(Time t) {
  return static_cast<long long>(t.time_since_epoch().count());
}
}  // namespace

Result<std::unique_ptr<TrafficTrace>> TrafficTrace::open(const std::string& path) {
  std::unique_ptr<TrafficTrace> trace(new TrafficTrace(path));
  if (!trace->out_) return make_error(ErrorCode::IoError, "cannot write the traffic trace " + path);
  trace->out_ << "swarmlab-traffic 1\n";
  return trace;
}

void TrafficTrace::tcp(std::uint32_t segment, std::uint64_t fastest_bps, Duration slowest_delay,
                       Duration longest_life, std::uint64_t run) {
  out_ << "tcp " << segment << ' ' << fastest_bps << ' ' << slowest_delay.count() << ' '
       << longest_life.count() << ' ' << run << '\n';
}

void TrafficTrace::link(const AccessLink& l) {
  out_ << "link " << l.up_bps << ' ' << l.down_bps << ' ' << l.delay.count() << ' ' << l.loss
       << '\n';
}

void TrafficTrace::listen(Time t, std::size_t host, std::uint16_t port) {
  out_ << "L " << ns(t) << ' ' << host << ' ' << port << '\n';
}

void TrafficTrace::unlisten(Time t, std::size_t host) {
  out_ << "U " << ns(t) << ' ' << host << '\n';
}

void TrafficTrace::connect(Time t, std::size_t host, ConnId conn, std::uint16_t local_port,
                           std::uint32_t to_ip, std::uint16_t to_port) {
  out_ << "C " << ns(t) << ' ' << host << ' ' << conn << ' ' << local_port << ' ' << to_ip << ' '
       << to_port << '\n';
}

void TrafficTrace::accept(Time t, std::size_t host, ConnId conn, std::uint32_t from_ip,
                          std::uint16_t from_port) {
  out_ << "A " << ns(t) << ' ' << host << ' ' << conn << ' ' << from_ip << ' ' << from_port << '\n';
}

void TrafficTrace::write(Time t, std::size_t host, ConnId conn, std::uint64_t bytes) {
  out_ << "W " << ns(t) << ' ' << host << ' ' << conn << ' ' << bytes << '\n';
}

void TrafficTrace::close(Time t, std::size_t host, ConnId conn, bool drain) {
  out_ << (drain ? "X " : "R ") << ns(t) << ' ' << host << ' ' << conn << '\n';
}

Status TrafficTrace::finish(Time t) {
  out_ << "E " << ns(t) << '\n';
  out_.flush();
  if (!out_) {
    return make_error(ErrorCode::IoError,
                      "writing the traffic trace " + path_ + " failed (disk full?)");
  }
  return {};
}

}  // namespace swarmlab::sim

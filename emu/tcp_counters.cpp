#include "emu/tcp_counters.hpp"

#include <charconv>
#include <map>
#include <string>
#include <vector>

namespace swarmlab::emu {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

TcpCounters& TcpCounters::operator+=(const TcpCounters& o) {
  timeouts += o.timeouts;
  spurious_timeouts += o.spurious_timeouts;
  loss_probes += o.loss_probes;
  hystart_train_exits += o.hystart_train_exits;
  hystart_delay_exits += o.hystart_delay_exits;
  fast_recoveries += o.fast_recoveries;
  retransmitted_segments += o.retransmitted_segments;
  segments_sent += o.segments_sent;
  return *this;
}

nlohmann::json TcpCounters::to_json() const {
  return {{"timeouts", timeouts},
          {"spurious_timeouts", spurious_timeouts},
          {"loss_probes", loss_probes},
          {"hystart_train_exits", hystart_train_exits},
          {"hystart_delay_exits", hystart_delay_exits},
          {"fast_recoveries", fast_recoveries},
          {"retransmitted_segments", retransmitted_segments},
          {"segments_sent", segments_sent}};
}

std::optional<TcpCounters> parse_tcp_counters(std::string_view text) {
  std::map<std::string, std::uint64_t, std::less<>> values;  // "TcpExt.TCPTimeouts" -> n
  const auto lines = split_lines(text);
  const auto number = [](std::string_view w, std::uint64_t& v) {
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    return ec == std::errc{} && end == w.data() + w.size();
  };
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const auto names = split_words(lines[i]);
    const auto numbers = split_words(lines[i + 1]);
    // A pair: a line of names, then one of as many values with the same "Prefix:". A signed
    // field (snmp's MaxConn is -1) is a value too.
    std::uint64_t v = 0;
    const auto value = [&](std::string_view w) { return number(w, v) || w == "-1"; };
    if (names.size() < 2 || names.size() != numbers.size() || names[0] != numbers[0] ||
        names[0].back() != ':' || value(names[1]) || !value(numbers[1]))
      continue;
    const auto prefix = std::string(names[0].substr(0, names[0].size() - 1));
    for (std::size_t k = 1; k < names.size(); ++k) {
      // A few snmp fields are signed (MaxConn is -1); no counter read here is.
      if (number(numbers[k], v)) values[prefix + "." + std::string(names[k])] = v;
    }
    ++i;
  }
  if (!values.contains("TcpExt.TCPTimeouts") || !values.contains("Tcp.OutSegs"))
    return std::nullopt;
  // Older kernels lack some of the rest (TCPLossProbes came with 3.10): those count nothing.
  const auto get = [&](std::string_view key) {
    const auto it = values.find(key);
    return it == values.end() ? std::uint64_t{0} : it->second;
  };
  TcpCounters c;
  c.timeouts = get("TcpExt.TCPTimeouts");
  c.spurious_timeouts = get("TcpExt.TCPSpuriousRTOs");
  c.loss_probes = get("TcpExt.TCPLossProbes");
  c.hystart_train_exits = get("TcpExt.TCPHystartTrainDetect");
  c.hystart_delay_exits = get("TcpExt.TCPHystartDelayDetect");
  c.fast_recoveries = get("TcpExt.TCPSackRecovery") + get("TcpExt.TCPRenoRecovery");
  c.retransmitted_segments = get("Tcp.RetransSegs");
  c.segments_sent = get("Tcp.OutSegs");
  return c;
}

}  // namespace swarmlab::emu

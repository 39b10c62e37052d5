#include "swarmlab/endpoint.hpp"

#include <charconv>
#include <optional>
#include <vector>

namespace swarmlab {
namespace {

std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view s) {
  std::array<std::uint8_t, 4> out{};
  std::size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= s.size() || s[pos] != '.') return std::nullopt;
      ++pos;
    }
    unsigned v = 0;
    const char* b = s.data() + pos;
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec != std::errc() || p == b || p - b > 3 || v > 255) return std::nullopt;
    out[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(v);
    pos += static_cast<std::size_t>(p - b);
  }
  if (pos != s.size()) return std::nullopt;
  return out;
}

std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view s) {
  // Groups before and after "::"; an embedded IPv4 tail is allowed.
  std::vector<std::uint16_t> head, tail;
  bool seen_gap = false;
  std::size_t pos = 0;
  if (s.starts_with("::")) {
    seen_gap = true;
    pos = 2;
  }
  while (pos < s.size()) {
    auto& groups = seen_gap ? tail : head;
    const std::size_t colon = s.find(':', pos);
    const std::string_view tok =
        s.substr(pos, colon == std::string_view::npos ? s.npos : colon - pos);
    if (tok.find('.') != std::string_view::npos && colon == std::string_view::npos) {
      auto v4 = parse_v4(tok);
      if (!v4) return std::nullopt;
      groups.push_back(static_cast<std::uint16_t>((*v4)[0] << 8 | (*v4)[1]));
      groups.push_back(static_cast<std::uint16_t>((*v4)[2] << 8 | (*v4)[3]));
      pos = s.size();
      break;
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v, 16);
    if (tok.empty() || tok.size() > 4 || ec != std::errc() || p != tok.data() + tok.size()) {
      return std::nullopt;
    }
    groups.push_back(static_cast<std::uint16_t>(v));
    if (colon == std::string_view::npos) {
      pos = s.size();
    } else if (colon + 1 < s.size() && s[colon + 1] == ':') {
      if (seen_gap) return std::nullopt;
      seen_gap = true;
      pos = colon + 2;
    } else {
      pos = colon + 1;
      if (pos == s.size()) return std::nullopt;
    }
  }
  const std::size_t total = head.size() + tail.size();
  if ((seen_gap && total > 7) || (!seen_gap && total != 8)) return std::nullopt;
  std::array<std::uint16_t, 8> g{};
  for (std::size_t i = 0; i < head.size(); ++i) g[i] = head[i];
  for (std::size_t i = 0; i < tail.size(); ++i) g[8 - tail.size() + i] = tail[i];
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(g[i] & 0xff);
  }
  return out;
}

}  // namespace

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::InvalidArgument, "bad address \"" + std::string(text) + "\": " +
                                                      why + " (expected HOST:PORT or [IPv6]:PORT)");
  };
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing port");
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses need brackets");
    port = text.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(p)};
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  IpAddress a;
  if (auto v4 = parse_v4(text)) {
    a.v4 = true;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    for (std::size_t i = 0; i < 4; ++i) a.bytes[12 + i] = (*v4)[i];
    return a;
  }
  if (auto v6 = parse_v6(text)) {
    a.bytes = *v6;
    return a;
  }
  return make_error(ErrorCode::InvalidArgument,
                    "\"" + std::string(text) + "\" is not a numeric IPv4 or IPv6 address");
}

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < 16; ++i) {
    const bool mapped_marker = v4 && (i == 10 || i == 11);
    if (!mapped_marker && bytes[i] != 0) return false;
  }
  return true;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    return make_error(ErrorCode::InvalidArgument,
                      "bad address range \"" + std::string(text) + "\": " + addr.error().message);
  }
  Cidr c;
  c.base_ = *addr;
  c.text_ = std::string(text);
  const unsigned max_prefix = addr->v4 ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || prefix > max_prefix) {
      return make_error(ErrorCode::InvalidArgument, "bad address range \"" + std::string(text) +
                                                        "\": prefix must be 0-" +
                                                        std::to_string(max_prefix));
    }
  }
  c.prefix_ = addr->v4 ? prefix + 96 : prefix;
  return c;
}

bool Cidr::contains(const IpAddress& addr) const {
  unsigned bits = prefix_;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
    if ((addr.bytes[i] & mask) != (base_.bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace swarmlab

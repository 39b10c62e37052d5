#pragma once
// Network addresses as text, and CIDR ranges for the tracker's allow-list.
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "swarmlab/error.hpp"

namespace swarmlab {

/// A host (numeric IPv4/IPv6 address or a name) and a port.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  /// "10.0.0.1:6881" or "[::1]:6881".
  std::string to_string() const;
  /// Parses "host:port", "[v6]:port". Port 0 is allowed (meaning "any" for listening).
  static Result<Endpoint> parse(std::string_view text);
  auto operator<=>(const Endpoint&) const = default;
};

/// A numeric IP address, IPv4 stored as IPv4-mapped IPv6 so both families compare alike.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;
  static Result<IpAddress> parse(std::string_view text);
  /// True for 0.0.0.0 and ::, the "any" addresses a peer may advertise.
  bool is_unspecified() const;
};

/// An address range like "10.0.0.0/8" or "fd00::/8". A bare address is a /32 or /128.
class Cidr {
 public:
  static Result<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& addr) const;
  const std::string& text() const { return text_; }

 private:
  IpAddress base_;
  unsigned prefix_ = 0;  // in the 128-bit space
  std::string text_;
};

}  // namespace swarmlab

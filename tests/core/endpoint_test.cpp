#include "swarmlab/endpoint.hpp"

#include <gtest/gtest.h>

namespace swarmlab {
namespace {

TEST(Endpoint, ParsesBothFamilies) {
  auto a = Endpoint::parse("127.0.0.1:6881");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6881);
  auto b = Endpoint::parse("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:0");
  EXPECT_EQ(Endpoint::parse("tracker.lan:7000")->host, "tracker.lan");
  for (const char* bad : {"127.0.0.1", "::1:80", "[::1]80", ":80", "h:99999", "h:-1", "h:"}) {
    EXPECT_FALSE(Endpoint::parse(bad).ok()) << bad;
  }
}

TEST(Cidr, MatchesIpv4AndIpv6) {
  auto lan = Cidr::parse("192.168.1.0/24");
  ASSERT_TRUE(lan.ok());
  EXPECT_TRUE(lan->contains(*IpAddress::parse("192.168.1.77")));
  EXPECT_FALSE(lan->contains(*IpAddress::parse("192.168.2.1")));
  EXPECT_FALSE(lan->contains(*IpAddress::parse("::1")));
  auto all4 = Cidr::parse("0.0.0.0/0");
  EXPECT_TRUE(all4->contains(*IpAddress::parse("8.8.8.8")));
  EXPECT_FALSE(all4->contains(*IpAddress::parse("fd00::1")));
  auto v6 = Cidr::parse("fd00::/8");
  EXPECT_TRUE(v6->contains(*IpAddress::parse("fd12:3456::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("fe80::1")));
  auto host = Cidr::parse("::1");
  EXPECT_TRUE(host->contains(*IpAddress::parse("0:0:0:0:0:0:0:1")));
  EXPECT_TRUE(Cidr::parse("::ffff:10.0.0.0/104")->contains(*IpAddress::parse("10.1.2.3")));
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0/8", "300.1.1.1", "x", "1::2::3"}) {
    EXPECT_FALSE(Cidr::parse(bad).ok()) << bad;
  }
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddress::parse("10.0.0.1")->is_unspecified());
}

}  // namespace
}  // namespace swarmlab

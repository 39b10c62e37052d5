#include "swarmlab/units.hpp"

#include <gtest/gtest.h>

namespace swarmlab {
namespace {

TEST(Units, Sizes) {
  EXPECT_EQ(*parse_size("512KiB"), 512u * 1024);
  EXPECT_EQ(*parse_size("100MiB"), 100ull * 1024 * 1024);
  EXPECT_EQ(*parse_size("1GB"), 1000000000ull);
  EXPECT_EQ(*parse_size("1.5GiB"), 1610612736ull);
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size(" 7 B "), 7u);
}

TEST(Units, SizeErrorsQuoteTheText) {
  auto r = parse_size("12XB");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"12XB\""), std::string::npos) << r.error().message;
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_FALSE(parse_size("-5MiB").ok());
  EXPECT_FALSE(parse_size("MiB").ok());
  EXPECT_FALSE(parse_size("1.3B").ok());
  EXPECT_FALSE(parse_size("99999999999TiB").ok());
}

TEST(Units, Rates) {
  EXPECT_EQ(*parse_rate("8Mbps"), 8000000u);
  EXPECT_EQ(*parse_rate("1Gbps"), 1000000000u);
  EXPECT_EQ(*parse_rate("100KB/s"), 800000u);
  EXPECT_EQ(*parse_rate("1MiB/s"), 8u * 1024 * 1024);
  auto bare = parse_rate("100");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.error().message.find("missing unit"), std::string::npos);
  EXPECT_FALSE(parse_rate("0Mbps").ok());
  EXPECT_FALSE(parse_rate("fast").ok());
}

TEST(Units, Durations) {
  EXPECT_EQ(*parse_duration("20ms"), 20ms);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("2h"), std::chrono::hours(2));
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration("2min"), std::chrono::minutes(2));
  EXPECT_EQ(*parse_duration("250us"), 250us);
  auto r = parse_duration("10 parsecs");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"10 parsecs\""), std::string::npos);
  EXPECT_FALSE(parse_duration("5").ok());
}

TEST(Units, Formatting) {
  EXPECT_EQ(format_size(900), "900 B");
  EXPECT_EQ(format_size(64ull << 20), "64 MiB");
  EXPECT_EQ(format_size(1536ull << 20), "1.5 GiB");
  EXPECT_EQ(format_rate(8e6), "8 Mbps");
  EXPECT_EQ(format_duration(20ms), "20.0 ms");
}

}  // namespace
}  // namespace swarmlab

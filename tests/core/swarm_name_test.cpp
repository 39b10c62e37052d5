#include "swarmlab/swarm_name.hpp"

#include <gtest/gtest.h>

namespace swarmlab {
namespace {

TEST(SwarmName, AcceptsOrdinaryNames) {
  EXPECT_TRUE(validate_swarm_name("movie.mkv").ok());
  EXPECT_TRUE(validate_swarm_name("résumé 2026.pdf").ok());
  EXPECT_TRUE(validate_swarm_name(std::string(255, 'a')).ok());
  EXPECT_TRUE(validate_swarm_name("a.b.c").ok());
}

TEST(SwarmName, RejectsPathsAndJunk) {
  struct Case {
    std::string name;
    ErrorCode code;
  };
  const Case cases[] = {
      {"", ErrorCode::BadName},
      {std::string(256, 'a'), ErrorCode::BadName},
      {"../etc/passwd", ErrorCode::BadName},
      {"a/b", ErrorCode::BadName},
      {"a\\b", ErrorCode::BadName},
      {"..", ErrorCode::BadName},
      {"x..y", ErrorCode::BadName},
      {".", ErrorCode::BadName},
      {std::string("a\0b", 3), ErrorCode::BadName},
      {"tab\there", ErrorCode::BadName},
      {"\xC0\xAF", ErrorCode::BadUtf8},          // overlong '/'
      {"\xED\xA0\x80", ErrorCode::BadUtf8},      // surrogate
      {"\xF4\x90\x80\x80", ErrorCode::BadUtf8},  // > U+10FFFF
      {"abc\xE2\x82", ErrorCode::BadUtf8},       // truncated
  };
  for (const auto& c : cases) {
    auto s = validate_swarm_name(c.name, "file.name");
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.error().code, c.code) << c.name;
    EXPECT_TRUE(s.error().message.starts_with("file.name")) << s.error().message;
  }
}

}  // namespace
}  // namespace swarmlab

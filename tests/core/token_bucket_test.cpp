#include "swarmlab/token_bucket.hpp"

#include <gtest/gtest.h>

using namespace swarmlab;
using namespace std::chrono_literals;

TEST(TokenBucket, OneSendMayGoIntoDebtAndTheNextWaitsItOut) {
  TokenBucket b;
  const Time t0{};
  // 8 Mbit/s = 1 MB/s, 50 ms of allowance: 50,000 bytes at most.
  EXPECT_FALSE(b.wait_until(t0 + 1s, 8'000'000, 50ms));
  b.take(150'000);  // 50,000 allowed, 100,000 in debt: 100 ms to pay
  const auto at = b.wait_until(t0 + 1s, 8'000'000, 50ms);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at - (t0 + 1s), 100ms);
  EXPECT_TRUE(b.wait_until(t0 + 1s + 99ms, 8'000'000, 50ms));
  EXPECT_FALSE(b.wait_until(t0 + 1s + 100ms, 8'000'000, 50ms));
}

TEST(TokenBucket, NoLimitCarriesNoDebtIntoALaterLimit) {
  TokenBucket b;
  const Time t0{};
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(b.wait_until(t0, 0, 50ms));
    b.take(1'000'000);  // sent while unlimited
  }
  EXPECT_FALSE(b.wait_until(t0 + 1ms, 8'000'000, 50ms));
}

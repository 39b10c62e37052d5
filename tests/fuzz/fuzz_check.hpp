#pragma once
// What every fuzz target uses to state an invariant: a violation prints what broke and
// aborts, so libFuzzer keeps the input as a finding (crash-<sha1>) and stops.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                           \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, what); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#include "emu/host_namespaces.hpp"

#include <gtest/gtest.h>

namespace swarmlab::emu {
namespace {

// A namespace that is not there (none was made): a clear error naming it, not empty counters.
TEST(HostNamespaces, CountersOfAMissingNamespaceAreAnError) {
  HostNamespaces namespaces;  // makes nothing until add()
  const auto text = namespaces.proc_net_counters(7);
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("cannot enter /run/netns/" + namespaces.netns(7)),
            std::string::npos)
      << text.error().message;
}

}  // namespace
}  // namespace swarmlab::emu

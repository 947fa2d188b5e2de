// serve/auth: the bearer check accepts exactly the key, in any scheme case, and nothing else.
#include "forensight/serve/auth.h"

#include <gtest/gtest.h>

namespace forensight::serve {
namespace {

TEST(ServeAuthTest, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(ServeAuthTest, BearerNeedsTheSchemeAndTheExactKey) {
  EXPECT_TRUE(bearer_authorized("Bearer k3y", "k3y"));
  EXPECT_TRUE(bearer_authorized("bearer k3y", "k3y"));
  EXPECT_TRUE(bearer_authorized("BEARER   k3y ", "k3y"));
  EXPECT_FALSE(bearer_authorized("Bearer k3", "k3y"));
  EXPECT_FALSE(bearer_authorized("Bearer k3yy", "k3y"));
  EXPECT_FALSE(bearer_authorized("Basic k3y", "k3y"));
  EXPECT_FALSE(bearer_authorized("Bearerk3y", "k3y"));
  EXPECT_FALSE(bearer_authorized("k3y", "k3y"));
  EXPECT_FALSE(bearer_authorized("", "k3y"));
  EXPECT_FALSE(bearer_authorized("Bearer ", ""));  // no key configured authorizes nothing
}

TEST(ServeAuthTest, LoopbackHostsAreRecognised) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("192.168.1.10"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

}  // namespace
}  // namespace forensight::serve

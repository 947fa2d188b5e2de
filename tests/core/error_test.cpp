#include "forensight/core/error.h"

#include <gtest/gtest.h>

#include "forensight/core/log.h"

namespace forensight {

TEST(ErrorTest, CheckThrowsWithMessageAndLocation) {
  try {
    FS_CHECK(1 + 1 == 3, "expected {} but got {}", 3, 2);
    FAIL() << "FS_CHECK did not throw";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("expected 3 but got 2"), std::string::npos) << message;
    EXPECT_NE(message.find("error_test.cpp"), std::string::npos) << message;
  }
}

TEST(ErrorTest, UnknownLogLevelListsValidLevels) {
  try {
    init_logging("loud");
    FAIL() << "init_logging accepted 'loud'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trace, debug, info"), std::string::npos) << e.what();
  }
}

}  // namespace forensight

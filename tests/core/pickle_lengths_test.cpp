// The pickle length check: every length an opcode declares must fit in what follows, before
// LibTorch's unpickler allocates it.
#include "forensight/core/pickle_lengths.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../support/error_of.h"

namespace forensight {
namespace {

using forensight::testing::error_of;

std::string check(const std::string& pickle) {
  const std::vector<uint8_t> bytes(pickle.begin(), pickle.end());
  return error_of([&] { check_pickle_lengths(bytes, "record data.pkl"); });
}

TEST(PickleLengthsTest, WellFormedPicklesPass) {
  // PROTO 2, BINUNICODE "abc", SHORT_BINBYTES "xy", BININT1, BINFLOAT 0.0, TUPLE3, STOP. (A hex
  // digit right after a \x escape would join it, hence the separate literals.)
  const std::string protocol2 = std::string(
                                    "\x80\x02X\x03\x00\x00\x00"
                                    "abc"
                                    "C\x02xy"
                                    "K\x07"
                                    "G",
                                    17) +
                                std::string(8, '\0') + "\x87.";
  EXPECT_EQ(check(protocol2), "");
  // Protocol 4: a FRAME that holds the rest, SHORT_BINUNICODE, MEMOIZE, GLOBAL's two lines, STOP.
  const std::string body = std::string("\x8c\x01q\x94", 4) + "ctorch\nFloatStorage\n.";
  std::string frame = "\x80\x04\x95";
  frame += std::string(1, static_cast<char>(body.size())) + std::string(7, '\0') + body;
  EXPECT_EQ(check(frame), "");
  EXPECT_EQ(check(""), "");
}

TEST(PickleLengthsTest, LengthsPastTheEndAreRefusedNamingTheOpcodeAndOffset) {
  // BINUNICODE declaring 0xfffffff0 bytes: what made LibTorch zero-fill 4 GiB.
  const std::string huge = check(std::string("\x80\x02X\xf0\xff\xff\xff", 7) + "abc.");
  EXPECT_NE(huge.find("record data.pkl"), std::string::npos) << huge;
  EXPECT_NE(
      huge.find("opcode 0x58 at byte 2 declares 4294967280 argument bytes, but only 4 remain"),
      std::string::npos)
      << huge;
  // The 8-byte lengths, a frame longer than the pickle, a cut-off length, a line with no end.
  EXPECT_NE(check(std::string("\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", 10)).find("0x8d at byte 0"),
            std::string::npos);
  EXPECT_NE(check(std::string("\x80\x04\x95\x00\x10\x00\x00\x00\x00\x00\x00N.", 13)).find("frame"),
            std::string::npos);
  EXPECT_NE(check(std::string("X\x01\x00", 3)).find("declares 4 length bytes, but only 2 remain"),
            std::string::npos);
  EXPECT_NE(check("ctorch\nFloatStorage").find("no end of line"), std::string::npos);
  EXPECT_NE(check("U\x05"
                  "ab")
                .find("0x55"),
            std::string::npos);
}

TEST(PickleLengthsTest, MemoIndicesNoPickleOfThisSizeCouldReachAreRefused) {
  // EMPTY_DICT, LONG_BINPUT 1873 million: LibTorch would grow its memo table to 30 GiB.
  const std::string huge = check(std::string("}r\x70\x30\xa6\x6f.", 7));
  EXPECT_NE(huge.find("opcode 0x72 at byte 1 stores memo entry 1873162352"), std::string::npos)
      << huge;
  EXPECT_NE(check("}p99\n.").find("stores memo entry 99"), std::string::npos);
  // What writers make: entries numbered from 0 (BINPUT, LONG_BINPUT, PUT).
  EXPECT_EQ(check(std::string("}q\x00}r\x01\x00\x00\x00}p2\n.", 14)), "");
}

TEST(PickleLengthsTest, StopsAtStopAndAtAnOpcodeItDoesNotKnow) {
  // After STOP the bytes are not this pickle's; an unknown opcode is the unpickler's to refuse.
  EXPECT_EQ(check(std::string("N.X\xff\xff\xff\xff", 7)), "");
  EXPECT_EQ(check(std::string("\xffX\xff\xff\xff\xff", 6)), "");
}

}  // namespace
}  // namespace forensight

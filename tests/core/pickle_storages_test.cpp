// The storages a pickle names: the persistent ids torch.save and LibTorch's pickler write, read
// through the memo and both ways of naming a global, and a stack that runs dry refused.
#include "forensight/core/pickle_storages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../support/error_of.h"

namespace forensight {
namespace {

using forensight::testing::error_of;

std::vector<PickledStorage> storages_in(const std::string& pickle) {
  const std::vector<uint8_t> bytes(pickle.begin(), pickle.end());
  return pickled_storages(bytes, "record data.pkl");
}

std::string binunicode(const std::string& s) {  // BINUNICODE
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>((s.size() >> (8 * i)) & 0xff);
  return out + s;
}

TEST(PickleStoragesTest, LibTorchsPersistentIdsAreReadThroughTheMemo) {
  // As LibTorch's pickler writes two tensors: the first spells out 'storage', the global and
  // 'cpu' and memoizes them (BINPUT 0, 1, 2); the second fetches them back (BINGET).
  std::string p = "\x80\x02";
  p += "(" + binunicode("storage") + std::string("q\x00", 2) + "ctorch\nFloatStorage\n" +
       std::string("q\x01", 2) + binunicode("0") + binunicode("cpu") + std::string("q\x02", 2) +
       "K\x0a" + "tQ";
  p += "(" + std::string("h\x00", 2) + std::string("h\x01", 2) + binunicode("1") +
       std::string("h\x02", 2) + "M\x2c\x01" + "tQ";
  p += "\x86.";  // both tensors in a tuple, STOP
  const std::vector<PickledStorage> found = storages_in(p);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].key, "0");
  EXPECT_EQ(found[0].type, "FloatStorage");
  EXPECT_EQ(found[0].elements, 10);
  EXPECT_EQ(found[1].key, "1");
  EXPECT_EQ(found[1].type, "FloatStorage");
  EXPECT_EQ(found[1].elements, 300);
}

TEST(PickleStoragesTest, ProtocolFourGlobalsAndLongCountsAreRead) {
  // torch.save(..., pickle_protocol=4): STACK_GLOBAL from two short strings, MEMOIZE, a count
  // as LONG1 and the tuple built with MARK/TUPLE; negative counts come through as they are.
  std::string p = "\x80\x04(";
  p += std::string("\x8c\x07", 2) + "storage" + "\x94";
  p += std::string("\x8c\x05", 2) + "torch" + std::string("\x8c\x0b", 2) + "LongStorage" +
       "\x93\x94";
  p += std::string("\x8c\x01", 2) + "7" + std::string("\x8c\x03", 2) + "cpu";
  p += std::string("\x8a\x05\x00\x00\x00\x00\x01", 7);  // 2^32
  p += "tQ(" + std::string("h\x00", 2) + std::string("h\x01", 2) + std::string("\x8c\x01", 2) +
       "8" + std::string("h\x00", 2) + std::string("J\xff\xff\xff\xff", 5) + "tQ.";
  const std::vector<PickledStorage> found = storages_in(p);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].type, "LongStorage");
  EXPECT_EQ(found[0].key, "7");
  EXPECT_EQ(found[0].elements, int64_t{1} << 32);
  EXPECT_EQ(found[1].key, "8");
  EXPECT_EQ(found[1].elements, -1);
}

TEST(PickleStoragesTest, OtherPersistentIdsAndValuesAreLeftAlone) {
  // A persistent id that is not a storage tuple, and containers built around it.
  const std::string p = std::string("\x80\x02}(") + binunicode("a") + binunicode("x") + "Q" +
                        binunicode("b") + "]" + "N" + "a" + "u.";
  EXPECT_TRUE(storages_in(p).empty());
}

TEST(PickleStoragesTest, AnOpcodeThatPopsAnEmptyStackIsRefusedNamingItsOffset) {
  const std::string error = error_of([] { storages_in("\x80\x02N0R."); });
  EXPECT_NE(error.find("record data.pkl: the pickle's opcode 0x52 at byte 4 takes more values"),
            std::string::npos)
      << error;
  EXPECT_NE(error_of([] { storages_in("\x80\x02Nt."); }).find("opcode 0x74"), std::string::npos);
  // The lengths are checked by the same walk.
  EXPECT_NE(error_of([] { storages_in(std::string("X\xff\x00\x00\x00", 5)); }).find("but only"),
            std::string::npos);
}

}  // namespace
}  // namespace forensight

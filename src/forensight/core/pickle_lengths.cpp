#include "forensight/core/pickle_lengths.h"

#include <charconv>
#include <cstring>
#include <functional>
#include <string_view>
#include <system_error>

#include "forensight/core/error.h"

namespace forensight {
namespace {

// How an opcode's argument is laid out (Python's pickletools names the opcodes).
enum class Argument {
  kNone,
  kFixed1,
  kFixed2,
  kFixed4,
  kFixed8,
  kLength1,  // u8 length, then that many bytes
  kLength4,  // 32-bit little-endian length (read unsigned: a negative BINSTRING or LONG4 length is
             // then past any end)
  kLength8,  // u64 length
  kFrame,    // u64 length of the frame that follows (its opcodes are walked, not skipped)
  kLine,     // bytes up to a newline
  kTwoLines,
  kUnknown,
};

// The opcodes of each layout. (Each \x escape is a literal of its own: a hex digit after one,
// as in "\x92" "b", would otherwise be read as part of it.)
struct OpcodeGroup {
  Argument argument;
  std::string_view opcodes;
};
// clang-format off
constexpr OpcodeGroup kOpcodeGroups[] = {
    {Argument::kNone, "(.012N" "\x88" "\x89" ")]}" "\x8f" "tl" "\x91" "\x85" "\x86" "\x87"
                      "dae" "\x90" "su" "\x93" "\x94" "R" "\x81" "\x92" "bQo" "\x97" "\x98"},
    {Argument::kFixed1, "\x80" "Kqh" "\x82"},     // PROTO BININT1 BINPUT BINGET EXT1
    {Argument::kFixed2, "M" "\x83"},               // BININT2 EXT2
    {Argument::kFixed4, "Jrj" "\x84"},             // BININT LONG_BINPUT LONG_BINGET EXT4
    {Argument::kFixed8, "G"},                      // BINFLOAT
    {Argument::kLength1, "\x8c" "UC" "\x8a"},     // SHORT_BINUNICODE SHORT_BINSTRING SHORT_BINBYTES LONG1
    {Argument::kLength4, "XTB" "\x8b"},            // BINUNICODE BINSTRING BINBYTES LONG4
    {Argument::kLength8, "\x8d" "\x8e" "\x96"},   // BINUNICODE8 BINBYTES8 BYTEARRAY8
    {Argument::kFrame, "\x95"},                    // FRAME
    {Argument::kLine, "ILFSVPpg"},                 // INT LONG FLOAT STRING UNICODE PERSID PUT GET
    {Argument::kTwoLines, "ci"},                   // GLOBAL INST: module and name
};
// clang-format on

Argument argument_of(uint8_t op) {
  for (const OpcodeGroup& group : kOpcodeGroups)
    if (group.opcodes.find(static_cast<char>(op)) != std::string_view::npos) return group.argument;
  return Argument::kUnknown;
}

int fixed_width(Argument argument) {
  switch (argument) {
    case Argument::kFixed1:
      return 1;
    case Argument::kFixed2:
      return 2;
    case Argument::kFixed4:
      return 4;
    default:
      return 8;
  }
}

uint64_t little_endian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void walk_pickle(std::span<const uint8_t> pickle, const std::string& what,
                 const std::function<void(const PickleOpcode&)>& visit) {
  size_t at = 0;
  while (at < pickle.size()) {
    const size_t op_at = at;
    const uint8_t op = pickle[at++];
    const auto need = [&](uint64_t bytes, const char* of) {
      const size_t left = pickle.size() - at;
      FS_CHECK(bytes <= left,
               "{}: the pickle's opcode 0x{:02x} at byte {} declares {} {} bytes, but only {} "
               "remain (a damaged or crafted file)",
               what, op, op_at, bytes, of, left);
    };
    const auto skip_line = [&] {
      const void* newline = std::memchr(pickle.data() + at, '\n', pickle.size() - at);
      FS_CHECK(newline != nullptr,
               "{}: the pickle's opcode 0x{:02x} at byte {} has an argument with no end of line "
               "before the end of the data (a damaged or crafted file)",
               what, op, op_at);
      at = static_cast<size_t>(static_cast<const uint8_t*>(newline) - pickle.data()) + 1;
    };
    // LibTorch's unpickler grows its memo table to the index a PUT names (16 bytes an entry).
    // Writers number memo entries from 0, one per PUT, and a PUT takes at least two bytes, so an
    // index as large as the pickle itself is never one a writer made.
    const auto check_memo_index = [&](uint64_t index) {
      FS_CHECK(index < pickle.size(),
               "{}: the pickle's opcode 0x{:02x} at byte {} stores memo entry {}, more than a "
               "pickle of {} bytes can hold (a damaged or crafted file)",
               what, op, op_at, index, pickle.size());
    };
    size_t argument_at = at;  // where the argument handed to `visit` starts
    size_t argument_end = at;
    const auto length_prefixed = [&](int prefix_bytes) {
      need(prefix_bytes, "length");
      const uint64_t length = little_endian(pickle.data() + at, prefix_bytes);
      at += prefix_bytes;
      need(length, "argument");
      argument_at = at;
      at += length;
      argument_end = at;
    };
    const Argument argument = argument_of(op);
    switch (argument) {
      case Argument::kNone:
        break;
      case Argument::kFixed1:
      case Argument::kFixed2:
      case Argument::kFixed4:
      case Argument::kFixed8: {
        const int width = fixed_width(argument);
        need(width, "argument");
        if (op == 'r') check_memo_index(little_endian(pickle.data() + at, 4));  // LONG_BINPUT
        at += width;
        argument_end = at;
        break;
      }
      case Argument::kLength1:
        length_prefixed(1);
        break;
      case Argument::kLength4:
        length_prefixed(4);
        break;
      case Argument::kLength8:
        length_prefixed(8);
        break;
      case Argument::kFrame:  // the argument is the length: the frame's opcodes follow
        need(8, "length");
        at += 8;
        argument_end = at;
        need(little_endian(pickle.data() + at - 8, 8), "frame");
        break;
      case Argument::kLine: {
        skip_line();
        argument_end = at - 1;
        if (op == 'p') {  // PUT: the memo index as decimal text
          uint64_t index = 0;
          const auto* first = reinterpret_cast<const char*>(pickle.data() + argument_at);
          const auto* last = reinterpret_cast<const char*>(pickle.data() + argument_end);
          if (std::from_chars(first, last, index).ec == std::errc()) check_memo_index(index);
        }
        break;
      }
      case Argument::kTwoLines:
        skip_line();
        skip_line();
        argument_end = at - 1;
        break;
      case Argument::kUnknown:
        return;
    }
    if (visit) visit({op, op_at, pickle.subspan(argument_at, argument_end - argument_at)});
    if (op == '.') return;  // STOP: what follows is not this pickle's
  }
}

void check_pickle_lengths(std::span<const uint8_t> pickle, const std::string& what) {
  walk_pickle(pickle, what, {});
}

}  // namespace forensight

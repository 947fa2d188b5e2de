// A walk over a Python pickle's opcodes (protocols 0-5) that checks every length it declares fits
// in the bytes that follow, before a reader that trusts those lengths sees it. LibTorch's unpickler
// sizes a string to its declared length (up to 4 GiB) and zero-fills it before it finds the bytes
// missing: a 12 KiB crafted checkpoint made it take 3.4 GiB (found by fuzz/fuzz_checkpoint.cpp;
// the input is fuzz/regressions/checkpoint/unpickler-reserves-4gib.bin).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace forensight {

// Throws an Error naming `what`, the opcode and its offset when a length-prefixed argument (a
// string, bytes, a long, a frame) or a newline-terminated one runs past the end of `pickle`, or a
// PUT names a memo index no pickle of this size could reach (LibTorch grows its memo table to it:
// 30 GiB for fuzz/regressions/checkpoint/memo-index-2-billion.bin). Stops at STOP, or at an opcode
// it does not know (the reader judges that one), without reading past the end.
void check_pickle_lengths(std::span<const uint8_t> pickle, const std::string& what);

// One opcode as the walk meets it. `argument` is its argument's bytes: after a length prefix
// (a string's text, a LONG1's digits), the fixed bytes (BININT's four), a line without its
// newline, GLOBAL's two lines with the newline between them; empty for an opcode without one.
struct PickleOpcode {
  uint8_t code = 0;
  size_t offset = 0;
  std::span<const uint8_t> argument;
};

// The same walk and checks, handing each opcode to `visit` (may be empty) before the next one is
// read: a reader of the pickle's structure (core/pickle_storages.h) sees only checked bytes.
void walk_pickle(std::span<const uint8_t> pickle, const std::string& what,
                 const std::function<void(const PickleOpcode&)>& visit);

}  // namespace forensight

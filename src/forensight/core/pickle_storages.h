// The storages a PyTorch pickle names. torch.save and LibTorch's own pickler write each tensor's
// storage as a persistent id, the tuple ('storage', torch.<Type>Storage, key, location, numel),
// whose bytes are the archive's record <dir>/key. LibTorch's unpickler makes a storage of numel
// elements over that record whatever its size: a record shorter than declared is read past its
// end (fuzz/regressions/checkpoint/storage-shorter-than-declared.bin, found under ASan).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace forensight {

struct PickledStorage {
  std::string key;       // the record's name in the pickle's data directory
  std::string type;      // the GLOBAL's name: "FloatStorage", "LongStorage", ...
  int64_t elements = 0;  // numel, as declared
  size_t offset = 0;     // of the BINPERSID opcode, for messages
};

// Follows the pickle's stack as an unpickler would, far enough to see each BINPERSID's argument
// (strings, integers, globals, tuples and the memo; everything else is an opaque value), over the
// checked walk of core/pickle_lengths.h. Returns the storages in the order they are named, once
// per BINPERSID. Throws an Error naming `what` when an opcode pops more than the stack holds.
std::vector<PickledStorage> pickled_storages(std::span<const uint8_t> pickle,
                                             const std::string& what);

}  // namespace forensight

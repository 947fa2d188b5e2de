// A check of a zip file's central directory against the file itself, before miniz (inside
// LibTorch's PyTorchStreamReader) trusts what it declares. miniz bounds an entry's 32-bit sizes by
// the file, except 0xffffffff, which means "see the entry's zip64 field", and then takes that
// field's sizes, or 0xffffffff itself when there is none, as they are. PyTorchStreamReader's
// constructor then allocates the version record at its declared size: 4 GiB for a 1.8 KiB
// torch.save file (fuzz/regressions/torch_save/reader-init-reads-4gib-version.bin).
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace forensight {

// Throws an Error naming `what` and the entry when an entry of the central directory declares a
// size (stored or unpacked) or a data offset past the end of `file`. Every directory a zip reader
// could take is walked: each end-of-directory record in the file's last 64 KiB (where readers
// look for it), its 32-bit directory and the zip64 ones it points to, at the offset it names and
// at the one measured back from its own position (miniz 3 allows data before the archive). A
// directory that does not parse is left to the reader, which refuses it.
void check_zip_directory(std::span<const uint8_t> file, const std::string& what);

}  // namespace forensight

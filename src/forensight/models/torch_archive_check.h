// Checks a PyTorch zip archive (a torch.save file, a LibTorch checkpoint) against its own
// declarations before LibTorch's readers trust them. They size a buffer to what the archive says
// and fill it before they find the bytes missing: a record's size from the zip directory (4 GiB for
// a 2.5 KiB torch.save file, fuzz/regressions/torch_save/record-declares-4gib.bin) and a string's
// length from a pickle (4 GiB for a 12 KiB checkpoint, .../checkpoint/unpickler-reserves-4gib.bin).
#pragma once
#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <string>

namespace forensight::models {

// Throws an Error naming `what` and the record when a record declares more bytes than the whole
// archive (`archive_bytes`; PyTorch stores records uncompressed), or a .pkl or .debug_pkl record's
// pickle declares a length past its end (core/pickle_lengths.h). Reads the pickle records only: a
// few kilobytes.
void check_torch_archive(caffe2::serialize::PyTorchStreamReader& reader, uint64_t archive_bytes,
                         const std::string& what);

}  // namespace forensight::models

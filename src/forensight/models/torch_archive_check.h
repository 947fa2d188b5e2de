// Checks a PyTorch zip archive (a torch.save file, a LibTorch checkpoint) against its own
// declarations before LibTorch's readers trust them. They size a buffer to what the archive says
// and fill it before they find the bytes missing: a record's size from the zip directory (4 GiB for
// a 2.5 KiB torch.save file, fuzz/regressions/torch_save/record-declares-4gib.bin), a string's
// length from a pickle (4 GiB for a 12 KiB checkpoint, .../checkpoint/unpickler-reserves-4gib.bin),
// and a storage's element count, read past a shorter record
// (.../checkpoint/storage-shorter-than-declared.bin).
#pragma once
#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace forensight::models {

// Opens the archive held in `bytes` (which must outlive the reader) after checking its zip
// directory (core/zip_directory.h: LibTorch's constructor already reads a record), then checks it
// as check_torch_archive does. Throws an Error naming `what` for what the checks find, a c10::Error
// when LibTorch cannot read it as an archive at all.
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_torch_archive(
    std::span<const uint8_t> bytes, const std::string& what);

// Throws an Error naming `what` and the record when a record declares more bytes than the whole
// archive (`archive_bytes`; PyTorch stores its records uncompressed), a .pkl or .debug_pkl record's
// pickle declares a length past its end (core/pickle_lengths.h), or a .pkl record names a storage
// (core/pickle_storages.h) whose record <pickle's name>/<key> is missing or shorter than its
// elements. Reads the pickle records only: a few kilobytes.
void check_torch_archive(caffe2::serialize::PyTorchStreamReader& reader, uint64_t archive_bytes,
                         const std::string& what);

}  // namespace forensight::models

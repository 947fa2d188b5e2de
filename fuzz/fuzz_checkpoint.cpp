// A Forensight checkpoint as predict, serve and `train --resume` open it (train/checkpoint.h):
// CheckpointReader (checksum trailer, LibTorch archive, header fields), then the weights loaded
// into the model they were saved from (fuzz_checkpoint_model.h; make_seeds writes the seeds with
// it). Inputs without a checksum trailer get a correct one appended, or nearly every mutation
// would stop at the CRC and the archive behind it would go unfuzzed; inputs that end in one are
// written as they are, so the trailer check is fuzzed too.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "forensight/core/checksum_trailer.h"
#include "forensight/core/crc32.h"
#include "forensight/core/error.h"
#include "forensight/train/checkpoint.h"
#include "fuzz_checkpoint_model.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("checkpoint.pt");
  std::vector<uint8_t> bytes(data, data + size);
  constexpr char kMagic[] = "FSCRC32";
  const bool has_trailer =
      size >= forensight::kChecksumTrailerBytes &&
      std::memcmp(data + size - forensight::kChecksumTrailerBytes, kMagic, sizeof(kMagic) - 1) == 0;
  if (!has_trailer) {
    const auto trailer = forensight::make_checksum_trailer(
        size, forensight::crc32_update(forensight::kCrc32Initial, {data, size}));
    bytes.insert(bytes.end(), trailer.begin(), trailer.end());
  }
  try {
    forensight::train::CheckpointReader reader(file.write(bytes.data(), bytes.size()), torch::kCPU);
    (void)reader.header().config_json.size();
    forensight::fuzz::CheckpointModel model;
    reader.load_model(*model);
  } catch (const forensight::Error&) {
  }
  return 0;
}

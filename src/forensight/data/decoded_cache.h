// The decoded cache: a dataset decoded and resized once, stored as one file of fixed-size uint8
// records (3, S, S) CHW plus an index (label, source path) and a header (format version, image
// size, record count, checksum). Read through a memory mapping, so the loader copies records
// straight into batch tensors without decoding.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "forensight/data/dataset.h"
#include "forensight/data/transform.h"

namespace forensight::data {

struct CacheWriteStats {
  int64_t written = 0;  // records
  int64_t skipped = 0;  // bad files (logged)
};

// Decodes every sample of `dataset` with the deterministic (non-random) part of `transform`
// (resize or center crop to transform.image_size_px) using `threads` threads, and writes the cache
// atomically to out_path (temporary file, fsync, rename).
CacheWriteStats write_decoded_cache(const Dataset& dataset, const TransformOptions& transform,
                                    const std::string& out_path, int threads);

class DecodedCache {
 public:
  // Maps the file; throws Error naming the file and the reason when its header, size or
  // checksum do not match (verify_checksum = false skips the full data pass).
  explicit DecodedCache(const std::string& path, bool verify_checksum = true);
  ~DecodedCache();
  DecodedCache(const DecodedCache&) = delete;
  DecodedCache& operator=(const DecodedCache&) = delete;

  int64_t size() const;       // records
  int image_size_px() const;  // S
  int label(int64_t i) const;
  const std::string& path(int64_t i) const;  // the source file the record came from
  // (3, S, S) uint8, CHW
  std::span<const uint8_t> record(int64_t i) const;
  // The cached records as a labelled Dataset (paths and labels), so splits apply to it unchanged.
  Dataset as_dataset() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace forensight::data

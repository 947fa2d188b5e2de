// The decoded cache file. Layout (little-endian):
//   header (64 bytes) | records: count x (3, S, S) uint8 CHW | index: count x {int32 label,
//   uint32 path_bytes, path} — the header carries a CRC32 of itself and one of records + index.
// Writing decodes in parallel but appends in dataset order, so the same dataset gives the same
// file whatever the thread count; it goes to a temporary file that is fsynced and then renamed.
#include "forensight/data/decoded_cache.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "forensight/core/atomic_file.h"
#include "forensight/core/crc32.h"
#include "forensight/core/error.h"
#include "forensight/core/mapped_file.h"
#include "forensight/data/image_decoder.h"

namespace forensight::data {
namespace {

constexpr char kMagic[8] = {'F', 'S', 'D', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t image_size_px;
  uint64_t record_count;
  uint64_t records_offset;
  uint64_t index_offset;
  uint64_t index_bytes;
  uint32_t data_crc32;    // records + index
  uint32_t header_crc32;  // bytes [0, offsetof(header_crc32))
  uint64_t reserved;
};
static_assert(sizeof(Header) == kHeaderBytes, "the on-disk header is 64 bytes");

uint32_t header_crc(const Header& h) {
  return crc32_update(kCrc32Initial,
                      {reinterpret_cast<const uint8_t*>(&h), offsetof(Header, header_crc32)});
}

// The deterministic counterpart of a training transform: no augmentation, native crops centred.
TransformOptions deterministic(TransformOptions t) {
  t.hflip_prob = t.blur_prob = t.jpeg_prob = 0.0;
  if (t.size_mode == SizeMode::kRandomCrop) t.size_mode = SizeMode::kNativeCenter;
  return t;
}

struct DecodedRecord {
  std::vector<uint8_t> chw;  // (3, S, S) uint8, empty when the file was bad
  std::string error;
};

DecodedRecord decode_record(const Sample& sample, const TransformOptions& transform,
                            const DecodeOptions& decode) {
  DecodedRecord record;
  try {
    std::mt19937_64 unused_rng(0);
    Image image = apply_transform(decode_image_file(sample.path, decode), transform, unused_rng);
    const size_t plane = static_cast<size_t>(image.width) * image.height;
    record.chw.resize(plane * 3);
    for (size_t i = 0; i < plane; ++i)
      for (int c = 0; c < 3; ++c) record.chw[c * plane + i] = image.pixels[i * 3 + c];
  } catch (const DecodeError& e) {
    record.error = e.what();
  }
  return record;
}

}  // namespace

CacheWriteStats write_decoded_cache(const Dataset& dataset, const TransformOptions& transform,
                                    const std::string& out_path, int threads) {
  FS_CHECK(threads >= 1, "threads must be >= 1, got {}", threads);
  const TransformOptions t = deterministic(transform);
  const DecodeOptions decode{decode_min_side_px(t), t.max_pixels};
  const int side = t.image_size_px;
  const size_t record_bytes = static_cast<size_t>(3) * side * side;

  // Through core/atomic_file: a full disk or a kill leaves any previous cache at out_path as it
  // was, and the error names out_path.
  AtomicFile out(out_path);
  Header header{};
  out.write(&header, sizeof(header));  // placeholder until the counts are known
  uint32_t crc = kCrc32Initial;
  std::vector<uint8_t> index;
  CacheWriteStats stats;

  const size_t n = dataset.samples.size();
  const size_t chunk = static_cast<size_t>(threads) * 32;
  std::vector<DecodedRecord> slots;
  for (size_t begin = 0; begin < n; begin += chunk) {
    const size_t end = std::min(n, begin + chunk);
    slots.assign(end - begin, {});
    std::atomic<size_t> next{begin};
    auto work = [&] {
      for (size_t i = next++; i < end; i = next++)
        slots[i - begin] = decode_record(dataset.samples[i], t, decode);
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < threads; ++w) pool.emplace_back(work);
    work();
    for (auto& thread : pool) thread.join();

    for (size_t i = begin; i < end; ++i) {
      DecodedRecord& r = slots[i - begin];
      if (r.chw.empty()) {
        spdlog::warn("cache: skipping {}", r.error);
        ++stats.skipped;
        continue;
      }
      FS_CHECK(r.chw.size() == record_bytes, "record of '{}' has {} bytes, expected {}",
               dataset.samples[i].path, r.chw.size(), record_bytes);
      out.write(r.chw.data(), r.chw.size());
      crc = crc32_update(crc, r.chw);
      const Sample& s = dataset.samples[i];
      int32_t label = s.label;
      uint32_t path_bytes = static_cast<uint32_t>(s.path.size());
      const auto* l = reinterpret_cast<const uint8_t*>(&label);
      const auto* p = reinterpret_cast<const uint8_t*>(&path_bytes);
      index.insert(index.end(), l, l + 4);
      index.insert(index.end(), p, p + 4);
      index.insert(index.end(), s.path.begin(), s.path.end());
      ++stats.written;
    }
  }
  out.write(index.data(), index.size());
  crc = crc32_update(crc, index);

  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.version = kFormatVersion;
  header.image_size_px = static_cast<uint32_t>(side);
  header.record_count = static_cast<uint64_t>(stats.written);
  header.records_offset = kHeaderBytes;
  header.index_offset = kHeaderBytes + header.record_count * record_bytes;
  header.index_bytes = index.size();
  header.data_crc32 = crc;
  header.header_crc32 = header_crc(header);
  out.write_at(0, &header, sizeof(header));
  out.commit();
  spdlog::info("cache: wrote {} records of 3x{}x{} to {} ({} skipped)", stats.written, side, side,
               out_path, stats.skipped);
  return stats;
}

struct DecodedCache::Impl {
  explicit Impl(const std::string& path) : file(path) {}
  MappedFile file;
  int image_size_px = 0;
  size_t record_bytes = 0;
  const uint8_t* records = nullptr;
  std::vector<int> labels;
  std::vector<std::string> paths;
};

DecodedCache::DecodedCache(const std::string& path, bool verify_checksum)
    : impl_(std::make_unique<Impl>(path)) {
  const std::span<const uint8_t> bytes = impl_->file.bytes();
  auto refuse = [&](const std::string& reason) {
    fail("decoded cache '{}' is unusable: {}; rebuild it with 'forensight data cache'", path,
         reason);
  };
  if (bytes.size() < kHeaderBytes)
    refuse(fmt::format("{} bytes is shorter than the {}-byte header (truncated?)", bytes.size(),
                       kHeaderBytes));
  Header h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0)
    refuse("wrong magic bytes (not a Forensight decoded cache)");
  if (h.version != kFormatVersion)
    refuse(
        fmt::format("format version {}, this build reads version {}", h.version, kFormatVersion));
  if (h.header_crc32 != header_crc(h)) refuse("header checksum mismatch (corrupt header)");
  if (h.image_size_px == 0 || h.image_size_px > 16384)
    refuse(fmt::format("implausible image size {}", h.image_size_px));
  const size_t record_bytes = static_cast<size_t>(3) * h.image_size_px * h.image_size_px;
  // The counts are bounded by the file's size before they are multiplied, added or reserved: a
  // header from outside could make count x record size or offset + index size wrap around 2^64
  // and match, and reserve(record_count) then asked for exabytes (found by
  // fuzz/fuzz_decoded_cache.cpp; its input is in fuzz/regressions/decoded_cache/).
  if (h.records_offset != kHeaderBytes ||
      h.record_count > (bytes.size() - kHeaderBytes) / record_bytes ||
      h.index_offset != h.records_offset + h.record_count * record_bytes)
    refuse("record layout does not match the header's count and image size");
  if (h.index_bytes > bytes.size() || h.index_offset + h.index_bytes != bytes.size())
    refuse(fmt::format("file is {} bytes, the header describes {} (truncated or appended to)",
                       bytes.size(), h.index_offset + h.index_bytes));
  if (verify_checksum) {
    uint32_t crc = crc32_update(kCrc32Initial, bytes.subspan(kHeaderBytes));
    if (crc != h.data_crc32)
      refuse(fmt::format("data checksum mismatch (crc32 {:08x}, header says {:08x})", crc,
                         h.data_crc32));
  }
  impl_->image_size_px = static_cast<int>(h.image_size_px);
  impl_->record_bytes = record_bytes;
  impl_->records = bytes.data() + h.records_offset;
  impl_->labels.reserve(h.record_count);
  impl_->paths.reserve(h.record_count);
  size_t pos = h.index_offset;
  for (uint64_t i = 0; i < h.record_count; ++i) {
    if (pos + 8 > bytes.size()) refuse(fmt::format("index ends early at record {}", i));
    int32_t label;
    uint32_t path_bytes;
    std::memcpy(&label, bytes.data() + pos, 4);
    std::memcpy(&path_bytes, bytes.data() + pos + 4, 4);
    pos += 8;
    if (pos + path_bytes > bytes.size()) refuse(fmt::format("index ends early at record {}", i));
    impl_->labels.push_back(label);
    impl_->paths.emplace_back(reinterpret_cast<const char*>(bytes.data() + pos), path_bytes);
    pos += path_bytes;
  }
  if (pos != bytes.size()) refuse("index has trailing bytes");
}

DecodedCache::~DecodedCache() = default;

int64_t DecodedCache::size() const {
  return static_cast<int64_t>(impl_->labels.size());
}
int DecodedCache::image_size_px() const {
  return impl_->image_size_px;
}

int DecodedCache::label(int64_t i) const {
  FS_CHECK(i >= 0 && i < size(), "cache record {} out of range [0, {})", i, size());
  return impl_->labels[i];
}

const std::string& DecodedCache::path(int64_t i) const {
  FS_CHECK(i >= 0 && i < size(), "cache record {} out of range [0, {})", i, size());
  return impl_->paths[i];
}

std::span<const uint8_t> DecodedCache::record(int64_t i) const {
  FS_CHECK(i >= 0 && i < size(), "cache record {} out of range [0, {})", i, size());
  return {impl_->records + static_cast<size_t>(i) * impl_->record_bytes, impl_->record_bytes};
}

Dataset DecodedCache::as_dataset() const {
  Dataset d;
  d.root = impl_->file.path();
  d.samples.reserve(impl_->labels.size());
  for (size_t i = 0; i < impl_->labels.size(); ++i) {
    Sample s;
    s.path = impl_->paths[i];
    s.label = impl_->labels[i];
    if (s.label == kLabelUnknown) d.labelled = false;
    d.samples.push_back(std::move(s));
  }
  return d;
}

}  // namespace forensight::data

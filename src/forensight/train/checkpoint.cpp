#include "forensight/train/checkpoint.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "forensight/core/atomic_file.h"
#include "forensight/core/checksum_trailer.h"
#include "forensight/core/crc32.h"
#include "forensight/core/error.h"
#include "forensight/core/mapped_file.h"
#include "forensight/models/torch_archive_check.h"

namespace forensight::train {
namespace {

// Version 2 added the CRC-32 trailer (core/checksum_trailer.h); version 1 files have none and are
// still read, with a warning: refusing them would strand every model trained before, and LibTorch's
// zip reader still catches a cut-short one (its central directory is at the end).
constexpr int64_t kCheckpointVersion = 2;
constexpr int64_t kFirstChecksummedVersion = 2;
constexpr int64_t kOldestReadableVersion = 1;

torch::Tensor progress_tensor(const TrainProgress& p) {
  return torch::tensor({p.epoch, p.batch_in_epoch, p.step, static_cast<int64_t>(p.has_best),
                        p.epochs_without_improvement},
                       torch::kInt64);
}

// LibTorch gives a loaded tensor the view (offset, sizes, strides) the archive names without
// checking it against the storage, so a crafted header field could be read past its storage's end
// (found by fuzz/fuzz_checkpoint.cpp: fuzz/regressions/checkpoint/progress-view-past-storage.bin).
void check_within_storage(const torch::Tensor& t, const char* field, const std::string& path) {
  unsigned __int128 last = static_cast<unsigned __int128>(std::max<int64_t>(t.storage_offset(), 0));
  bool empty = false;
  bool valid = t.storage_offset() >= 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    valid = valid && t.size(d) >= 0 && t.stride(d) >= 0;
    if (t.size(d) == 0) empty = true;
    if (valid && t.size(d) > 0)
      last += static_cast<unsigned __int128>(t.size(d) - 1) * static_cast<uint64_t>(t.stride(d));
  }
  const unsigned __int128 needed = (last + 1) * static_cast<uint64_t>(t.element_size());
  FS_CHECK(valid && (empty || needed <= t.storage().nbytes()),
           "checkpoint '{}': {} is a view past the end of its storage ({} bytes; a damaged or "
           "crafted file)",
           path, field, t.storage().nbytes());
}

void check_readable(const std::string& path) {
  FS_CHECK(std::filesystem::is_regular_file(path),
           "checkpoint '{}' does not exist or is not a file", path);
}

Checkpoint read_fields(torch::serialize::InputArchive& archive, const std::string& path,
                       bool has_trailer) {
  c10::IValue version;
  FS_CHECK(archive.try_read("forensight_checkpoint_version", version),
           "'{}' is not a Forensight checkpoint (no version field)", path);
  FS_CHECK(version.toInt() >= kOldestReadableVersion && version.toInt() <= kCheckpointVersion,
           "checkpoint '{}' has format version {}, this build reads versions {} to {}", path,
           version.toInt(), kOldestReadableVersion, kCheckpointVersion);
  FS_CHECK(has_trailer || version.toInt() < kFirstChecksummedVersion,
           "checkpoint '{}' is corrupt: it was written with a checksum trailer that is not at its "
           "end (the file was cut short or appended to)",
           path);
  if (!has_trailer)
    spdlog::warn(
        "checkpoint '{}' predates checksums (format version {}): read without a check against "
        "bit flips; it gains one when training resumed from it writes its next checkpoint",
        path, version.toInt());
  Checkpoint c;
  c10::IValue config;
  archive.read("config_json", config);
  c.config_json = config.toStringRef();
  torch::Tensor progress;
  archive.read("progress", progress);
  check_within_storage(progress, "progress", path);
  progress = progress.to(torch::kCPU);  // the archive may have been mapped to a GPU
  // accessor<> checks the type and rank but not the length: five values are read below.
  FS_CHECK(progress.scalar_type() == torch::kInt64 && progress.dim() == 1 && progress.numel() == 5,
           "checkpoint '{}': progress should be 5 int64 values, got {} of {}", path,
           progress.numel(), c10::toString(progress.scalar_type()));
  auto p = progress.accessor<int64_t, 1>();
  c.progress.epoch = p[0];
  c.progress.batch_in_epoch = p[1];
  c.progress.step = p[2];
  c.progress.has_best = p[3] != 0;
  c.progress.epochs_without_improvement = p[4];
  torch::Tensor best;
  archive.read("best_metric", best);
  check_within_storage(best, "best_metric", path);
  c.progress.best_metric = best.item<double>();
  torch::Tensor ranges;
  if (archive.try_read("int8_ranges", ranges)) {
    check_within_storage(ranges, "int8_ranges", path);
    c.int8_ranges = ranges.to(torch::kCPU);
  }
  torch::Tensor scaler;  // (2) float64: scale, growth tracker; absent in older checkpoints
  if (archive.try_read("loss_scaler", scaler)) {
    check_within_storage(scaler, "loss_scaler", path);
    scaler = scaler.to(torch::kCPU);
    FS_CHECK(scaler.dim() == 1 && scaler.numel() == 2,
             "checkpoint '{}': loss_scaler should hold 2 values (scale, growth tracker), got {}",
             path, scaler.numel());
    c.loss_scaler.scale = scaler[0].item<double>();
    c.loss_scaler.growth_tracker = scaler[1].item<int64_t>();
  }
  torch::Tensor world;  // (1) int64; absent in checkpoints of single-process runs before DDP
  if (archive.try_read("world_size", world)) {
    check_within_storage(world, "world_size", path);
    c.world_size = world.to(torch::kCPU).item<int64_t>();
  }
  return c;
}

using NamedShape = std::pair<std::string, std::vector<int64_t>>;

// The shape of every parameter, then every buffer, by state-dict name.
std::vector<NamedShape> tensor_shapes(const torch::nn::Module& model) {
  std::vector<NamedShape> shapes;
  for (const auto& p : model.named_parameters())
    shapes.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : model.named_buffers()) shapes.emplace_back(b.key(), b.value().sizes().vec());
  return shapes;
}

// LibTorch's readers trust the sizes an archive declares (models/torch_archive_check.h): the
// archive is checked first, from the same checked bytes, before LibTorch allocates them.
void check_archive(std::span<const uint8_t> payload, const std::string& path) {
  models::open_torch_archive(payload, fmt::format("checkpoint '{}'", path));
}

struct OpenedArchive {
  torch::serialize::InputArchive archive;
  bool has_trailer = false;
};

// The file is mapped, its CRC-32 checked, and the archive parsed from the checked bytes (never
// from the path: what was checked is what is read). LibTorch copies every tensor out while it
// parses, so the mapping is released on return.
OpenedArchive open_archive(const std::string& path, const torch::Device& device) {
  check_readable(path);
  MappedFile file(path);
  FS_CHECK(file.size() > 0, "cannot read checkpoint '{}': the file is empty (0 bytes)", path);
  const ChecksummedPayload checked = check_checksum_trailer(file.bytes(), "checkpoint", path);
  OpenedArchive opened;
  opened.has_trailer = checked.has_trailer;
  try {
    check_archive(checked.payload, path);
    opened.archive.load_from(reinterpret_cast<const char*>(checked.payload.data()),
                             checked.payload.size(), device);
  } catch (const c10::Error& e) {
    fail("cannot read checkpoint '{}': not a LibTorch archive or truncated ({})", path,
         e.what_without_backtrace());
  }
  return opened;
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const Checkpoint& checkpoint,
                     const std::string& keep_previous_as) {
  torch::serialize::OutputArchive archive;
  archive.write("forensight_checkpoint_version", c10::IValue(kCheckpointVersion));
  archive.write("config_json", c10::IValue(checkpoint.config_json));
  archive.write("progress", progress_tensor(checkpoint.progress));
  archive.write("best_metric", torch::tensor(checkpoint.progress.best_metric, torch::kFloat64));
  archive.write("cpu_rng_state", at::detail::getDefaultCPUGenerator().get_state());
  if (checkpoint.int8_ranges.defined()) archive.write("int8_ranges", checkpoint.int8_ranges);
  const auto& scaler = checkpoint.loss_scaler;  // (2) float64: exact for trackers below 2^53
  archive.write(
      "loss_scaler",
      torch::tensor({scaler.scale, static_cast<double>(scaler.growth_tracker)}, torch::kFloat64));

  archive.write("world_size", torch::tensor({checkpoint.world_size}, torch::kInt64));

  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }

  // Streamed to the temporary file through AtomicFile (so a full disk is an error naming `path`)
  // with the CRC-32 taken on the way; the trailer follows the archive. A failed write is kept and
  // the rest of the archive discarded rather than thrown through LibTorch: its zip writer's
  // destructor finishes the archive with more writes, and a second throw there would terminate.
  AtomicFile file(path);
  uint32_t crc = kCrc32Initial;
  uint64_t payload_bytes = 0;
  std::exception_ptr write_error;
  archive.save_to([&](const void* data, size_t bytes) -> size_t {
    if (write_error) return bytes;
    try {
      file.write(data, bytes);
    } catch (const Error&) {
      write_error = std::current_exception();
      return bytes;
    }
    crc = crc32_update(crc, {static_cast<const uint8_t*>(data), bytes});
    payload_bytes += bytes;
    return bytes;
  });
  if (write_error) std::rethrow_exception(write_error);
  const auto trailer = make_checksum_trailer(payload_bytes, crc);
  file.write(trailer.data(), trailer.size());
  file.commit(keep_previous_as);
}

CheckpointReader::CheckpointReader(const std::string& path, const torch::Device& device)
    : path_(path) {
  // On a malformed archive LibTorch's reader and IValue accessors throw c10::Error, and the
  // TorchScript type parser it runs on a class name in the pickle a bare std::runtime_error (found
  // by fuzz/fuzz_checkpoint.cpp; the input is in fuzz/regressions/checkpoint/): each becomes an
  // Error naming the file, as the header promises.
  try {
    OpenedArchive opened = open_archive(path, device);
    archive_ = std::move(opened.archive);
    header_ = read_fields(archive_, path, opened.has_trailer);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail("cannot read checkpoint '{}': not a Forensight checkpoint, or corrupt ({})", path,
         e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail("cannot read checkpoint '{}': not a Forensight checkpoint, or corrupt ({})", path,
         e.what());
  }
}

void CheckpointReader::load_model(torch::nn::Module& model) {
  torch::serialize::InputArchive model_archive;
  FS_CHECK(archive_.try_read("model", model_archive), "checkpoint '{}' holds no model", path_);
  // LibTorch's Module::load takes each tensor as it is in the archive, whatever its shape, and
  // fails only on a missing name: the shapes are compared here, every offending name listed.
  const std::vector<NamedShape> expected = tensor_shapes(model);
  try {
    model.load(model_archive);
  } catch (const c10::Error& e) {
    fail("checkpoint '{}' does not match the model it was loaded into: {}", path_,
         e.what_without_backtrace());
  }
  const std::vector<NamedShape> loaded = tensor_shapes(model);  // same names, same order
  std::vector<std::string> mismatches;
  for (size_t i = 0; i < expected.size(); ++i)
    if (loaded[i].second != expected[i].second)
      mismatches.push_back(fmt::format("{} is {} in the checkpoint, {} in the model",
                                       expected[i].first, loaded[i].second, expected[i].second));
  FS_CHECK(mismatches.empty(), "checkpoint '{}' does not match the model it was loaded into: {}",
           path_, fmt::join(mismatches, "; "));
}

void CheckpointReader::load_optimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive optimizer_archive;
  FS_CHECK(archive_.try_read("optimizer", optimizer_archive),
           "checkpoint '{}' holds no optimiser state; it cannot resume training", path_);
  optimizer.load(optimizer_archive);
  torch::Tensor rng_state;
  archive_.read("cpu_rng_state", rng_state);
  auto generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(rng_state.to(torch::kCPU));
}

Checkpoint read_checkpoint_header(const std::string& path) {
  return CheckpointReader(path, torch::kCPU).header();
}

Checkpoint load_checkpoint(const std::string& path, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer, const torch::Device& device) {
  CheckpointReader reader(path, device);
  reader.load_model(model);
  if (optimizer) reader.load_optimizer(*optimizer);
  return reader.header();
}

}  // namespace forensight::train

#include "forensight/train/checkpoint.h"

#include <fmt/ranges.h>

#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "forensight/core/atomic_file.h"
#include "forensight/core/error.h"

namespace forensight::train {
namespace {

constexpr int64_t kCheckpointVersion = 1;

torch::Tensor progress_tensor(const TrainProgress& p) {
  return torch::tensor({p.epoch, p.batch_in_epoch, p.step, static_cast<int64_t>(p.has_best),
                        p.epochs_without_improvement},
                       torch::kInt64);
}

void check_readable(const std::string& path) {
  FS_CHECK(std::filesystem::is_regular_file(path),
           "checkpoint '{}' does not exist or is not a file", path);
}

Checkpoint read_fields(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue version;
  FS_CHECK(archive.try_read("forensight_checkpoint_version", version),
           "'{}' is not a Forensight checkpoint (no version field)", path);
  FS_CHECK(version.toInt() == kCheckpointVersion,
           "checkpoint '{}' has format version {}, this build reads version {}", path,
           version.toInt(), kCheckpointVersion);
  Checkpoint c;
  c10::IValue config;
  archive.read("config_json", config);
  c.config_json = config.toStringRef();
  torch::Tensor progress;
  archive.read("progress", progress);
  progress = progress.to(torch::kCPU);  // the archive may have been mapped to a GPU
  auto p = progress.accessor<int64_t, 1>();
  c.progress.epoch = p[0];
  c.progress.batch_in_epoch = p[1];
  c.progress.step = p[2];
  c.progress.has_best = p[3] != 0;
  c.progress.epochs_without_improvement = p[4];
  torch::Tensor best;
  archive.read("best_metric", best);
  c.progress.best_metric = best.item<double>();
  torch::Tensor ranges;
  if (archive.try_read("int8_ranges", ranges)) c.int8_ranges = ranges.to(torch::kCPU);
  torch::Tensor scaler;  // (2) float64: scale, growth tracker; absent in older checkpoints
  if (archive.try_read("loss_scaler", scaler)) {
    scaler = scaler.to(torch::kCPU);
    FS_CHECK(scaler.dim() == 1 && scaler.numel() == 2,
             "checkpoint '{}': loss_scaler should hold 2 values (scale, growth tracker), got {}",
             path, scaler.numel());
    c.loss_scaler.scale = scaler[0].item<double>();
    c.loss_scaler.growth_tracker = scaler[1].item<int64_t>();
  }
  torch::Tensor world;  // (1) int64; absent in checkpoints of single-process runs before DDP
  if (archive.try_read("world_size", world)) c.world_size = world.to(torch::kCPU).item<int64_t>();
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

torch::serialize::InputArchive open_archive(const std::string& path, const torch::Device& device) {
  check_readable(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    fail("cannot read checkpoint '{}': not a LibTorch archive or truncated ({})", path,
         e.what_without_backtrace());
  }
  return archive;
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const Checkpoint& checkpoint) {
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

  AtomicFile file(path);
  archive.save_to(file.temp_path().string());
  file.commit();
}

CheckpointReader::CheckpointReader(const std::string& path, const torch::Device& device)
    : path_(path), archive_(open_archive(path, device)), header_(read_fields(archive_, path)) {}

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

// Weight import: matches a safetensors file's names against the model's state dict, adapts the two
// things that legitimately differ between a pretrained checkpoint and a detector (the head's class
// count, the ViT position grid) and refuses everything else with the complete list of problems.
#include "forensight/models/weights.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "forensight/core/error.h"
#include "forensight/models/resnet.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/shape.h"
#include "forensight/models/vit.h"

namespace forensight::models {
namespace {

constexpr const char* kPosEmbeddingName = "encoder.pos_embedding";

bool starts_with_prefix(const std::string& name, const std::string& prefix) {
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         name[prefix.size()] == '.';
}

bool is_batch_counter(const std::string& name) {
  static const std::string kCounter = ".num_batches_tracked";
  return name.size() > kCounter.size() &&
         name.compare(name.size() - kCounter.size(), kCounter.size(), kCounter) == 0;
}

}  // namespace

std::map<std::string, torch::Tensor> state_dict(const ClassifierImpl& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    tensors[item.key()] = item.value();
  for (const auto& item : model.named_buffers(/*recurse=*/true)) tensors[item.key()] = item.value();
  return tensors;
}

std::string head_prefix(const ClassifierImpl& model) {
  if (dynamic_cast<const ResNetImpl*>(&model)) return "fc";
  if (dynamic_cast<const VisionTransformerImpl*>(&model)) return "heads.head";
  fail("no known classification head for model type {}", model.name());
}

LoadWeightsReport load_weights(ClassifierImpl& model, const std::filesystem::path& path,
                               const LoadWeightsOptions& options) {
  return load_weights(model, read_safetensors(path).tensors, path.string(), options);
}

LoadWeightsReport load_weights(ClassifierImpl& model, std::map<std::string, torch::Tensor> tensors,
                               const std::string& origin, const LoadWeightsOptions& options) {
  std::map<std::string, torch::Tensor> target = state_dict(model);
  LoadWeightsReport report;

  // The head: the class count differs when the head weight (classes, features) differs in its
  // rows only. Another feature width means another architecture, which stays an error.
  const std::string head = head_prefix(model);
  const torch::Tensor& model_head = target.at(head + ".weight");  // (classes, features)
  auto file_head = tensors.find(head + ".weight");
  const bool head_differs = file_head != tensors.end() && file_head->second.dim() == 2 &&
                            file_head->second.size(1) == model_head.size(1) &&
                            file_head->second.size(0) != model_head.size(0);
  if (head_differs && options.replace_head_if_class_count_differs) {
    spdlog::info("'{}' has a head of {} classes; keeping the model's fresh head of {}", origin,
                 file_head->second.size(0), model_head.size(0));
    for (auto it = tensors.begin(); it != tensors.end();) {
      if (starts_with_prefix(it->first, head)) {
        report.skipped.push_back(it->first);
        it = tensors.erase(it);
      } else {
        ++it;
      }
    }
    report.head_replaced = true;
  }

  // ViT position embeddings for another image size: resample the grid, keep the class token.
  auto pos_file = tensors.find(kPosEmbeddingName);
  auto pos_model = target.find(kPosEmbeddingName);
  if (pos_file != tensors.end() && pos_model != target.end() && pos_file->second.dim() == 3 &&
      pos_model->second.dim() == 3 && pos_file->second.size(2) == pos_model->second.size(2) &&
      pos_file->second.size(1) != pos_model->second.size(1)) {
    const auto grid = static_cast<int64_t>(
        std::llround(std::sqrt(static_cast<double>(pos_model->second.size(1) - 1))));
    const std::string old_shape = format_shape(pos_file->second.sizes());
    pos_file->second = interpolate_pos_embedding(pos_file->second, grid);
    spdlog::info("'{}': position embeddings {} interpolated to {} for a {}x{} patch grid", origin,
                 old_shape, format_shape(pos_file->second.sizes()), grid, grid);
    report.pos_embedding_interpolated = true;
  }

  // The model's own head stays when the file's was dropped.
  auto keeps_own_head = [&](const std::string& name) {
    return report.head_replaced && starts_with_prefix(name, head);
  };

  // Every problem at once.
  std::vector<std::string> problems;
  for (const auto& [name, tensor] : target)
    if (!tensors.count(name) && !keeps_own_head(name) && !is_batch_counter(name))
      problems.push_back(fmt::format("missing: {}", name));
  for (const auto& [name, tensor] : tensors)
    if (!target.count(name)) problems.push_back(fmt::format("unexpected: {}", name));
  for (const auto& [name, tensor] : target) {
    auto found = tensors.find(name);
    if (found == tensors.end()) continue;
    const torch::Tensor& source = found->second;
    if (source.sizes() != tensor.sizes()) {
      problems.push_back(fmt::format("wrong shape: {} is {} in the file, {} in the model", name,
                                     format_shape(source.sizes()), format_shape(tensor.sizes())));
    } else if (source.scalar_type() != tensor.scalar_type() &&
               (options.strict || !source.is_floating_point() || !tensor.is_floating_point())) {
      problems.push_back(fmt::format("wrong dtype: {} is {} in the file, {} in the model", name,
                                     c10::toString(source.scalar_type()),
                                     c10::toString(tensor.scalar_type())));
    }
  }
  if (!problems.empty()) {
    if (options.strict)
      fail(
          "cannot load '{}' into {} ({} problems; for a checkpoint of another architecture pick "
          "the matching --model):\n  {}",
          origin, model.name(), problems.size(), fmt::join(problems, "\n  "));
    for (const auto& problem : problems) spdlog::warn("'{}': skipping, {}", origin, problem);
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : target) {
    if (keeps_own_head(name)) continue;
    auto found = tensors.find(name);
    if (found == tensors.end() && is_batch_counter(name)) {
      tensor.zero_();  // a BatchNorm's num_batches_tracked: a counter, not a weight
      continue;
    }
    if (found == tensors.end() || found->second.sizes() != tensor.sizes() ||
        (found->second.scalar_type() != tensor.scalar_type() &&
         (!found->second.is_floating_point() || !tensor.is_floating_point()))) {
      report.skipped.push_back(name);
      continue;
    }
    tensor.copy_(found->second);  // converts precision and device; keeps the memory format
    report.loaded.push_back(name);
  }
  return report;
}

void save_weights(const ClassifierImpl& model, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, state_dict(model), metadata);
}

}  // namespace forensight::models

#include "run_files.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "forensight/models/registry.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/train_options.h"

namespace forensight::testing {

std::vector<std::pair<int64_t, double>> step_losses(const std::string& metrics_path) {
  std::vector<std::pair<int64_t, double>> losses;
  std::ifstream in(metrics_path);
  std::string line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    if (record["kind"] == "step") losses.emplace_back(record["step"], record["loss"]);
  }
  return losses;
}

namespace {

std::map<std::string, torch::Tensor> read_tensors(const std::string& checkpoint, bool buffers) {
  train::CheckpointReader reader(checkpoint, torch::kCPU);
  const train::TrainOptions options = train::train_options_from_json(
      nlohmann::json::parse(reader.header().config_json), checkpoint);
  auto model = models::create_model(train::model_options(options));
  reader.load_model(*model);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : model->named_parameters()) tensors[p.key()] = p.value().detach().clone();
  if (buffers)
    for (const auto& b : model->named_buffers()) tensors[b.key()] = b.value().detach().clone();
  return tensors;
}

}  // namespace

std::map<std::string, torch::Tensor> checkpoint_tensors(const std::string& checkpoint) {
  return read_tensors(checkpoint, /*buffers=*/true);
}

std::map<std::string, torch::Tensor> checkpoint_parameters(const std::string& checkpoint) {
  return read_tensors(checkpoint, /*buffers=*/false);
}

double max_difference(const std::map<std::string, torch::Tensor>& a,
                      const std::map<std::string, torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (const auto& [name, tensor] : a) {
    const auto other = b.find(name);
    if (other == b.end()) {
      ADD_FAILURE() << "tensor " << name << " is in one checkpoint only";
      continue;
    }
    worst = std::max(
        worst,
        (tensor.to(torch::kDouble) - other->second.to(torch::kDouble)).abs().max().item<double>());
  }
  return worst;
}

}  // namespace forensight::testing

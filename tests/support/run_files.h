// What a training run leaves on disk, read back for tests: the loss of every step in
// metrics.jsonl and the weights a checkpoint holds, so that two runs can be compared.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace forensight::testing {

// (step, loss) of every "step" record of a run's metrics.jsonl, in file order.
std::vector<std::pair<int64_t, double>> step_losses(const std::string& metrics_path);

// Every parameter and buffer of the checkpoint's model (built from the config it records), by name.
std::map<std::string, torch::Tensor> checkpoint_tensors(const std::string& checkpoint);

// The parameters only: what data-parallel ranks keep equal (BatchNorm's running statistics are
// per rank unless synchronised).
std::map<std::string, torch::Tensor> checkpoint_parameters(const std::string& checkpoint);

// The largest absolute difference between same-named tensors; a name only one side has fails the
// calling test.
double max_difference(const std::map<std::string, torch::Tensor>& a,
                      const std::map<std::string, torch::Tensor>& b);

}  // namespace forensight::testing

// The placements "one" and "naive", the factory that splits a model into stages for naive and
// pipeline, and the parser of the placement flags (placement.h).
#include "forensight/parallel/placement.h"

#include <spdlog/spdlog.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/parallel/pipeline.h"
#include "forensight/parallel/stages.h"

namespace forensight::parallel {
namespace {

const std::vector<std::string> kPlacementKinds = {"one", "naive", "pipeline"};

torch::Device model_device(const models::ClassifierImpl& model) {
  const auto parameters = model.parameters();
  return parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
}

// The model as it is, on its device: exactly model->forward, the loss, backward.
class OnePlacement : public Placement {
 public:
  explicit OnePlacement(std::shared_ptr<models::ClassifierImpl> model)
      : model_(std::move(model)), device_(model_device(*model_)) {}

  StepOutput forward_backward(const torch::Tensor& x, const torch::Tensor& y, const LossFn& loss_fn,
                              const Precision& precision) override {
    // x: (B, 3, H, W) float, y: (B) int64
    torch::Tensor logits;  // (B, 2)
    {
      AutocastGuard autocast(precision);
      logits = model_->forward(x);
    }
    logits = logits.to(torch::kFloat);  // a no-op for float logits
    torch::Tensor loss = loss_fn(logits, y.to(logits.device(), /*non_blocking=*/true));
    precision.scale_loss(loss).backward();
    return {logits.detach(), loss.detach()};
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    return model_->forward(x);
  }
  int backward_passes_per_step() const override { return 1; }
  torch::Device input_device() const override { return device_; }
  nlohmann::json describe() const override { return {{"kind", "one"}, {"device", device_.str()}}; }

 private:
  std::shared_ptr<models::ClassifierImpl> model_;
  torch::Device device_;
};

// The seed's model parallelism: the whole batch through stage 1, then stage 2, ... on the calling
// thread; one device works at a time.
class NaivePlacement : public Placement {
 public:
  NaivePlacement(std::shared_ptr<models::ClassifierImpl> model, std::vector<Stage> stages)
      : model_(std::move(model)), stages_(std::move(stages)) {}

  StepOutput forward_backward(const torch::Tensor& x, const torch::Tensor& y, const LossFn& loss_fn,
                              const Precision& precision) override {
    // x: (B, 3, H, W) float, y: (B) int64
    torch::Tensor h = x;
    {
      AutocastGuard autocast(precision);
      for (const auto& stage : stages_)
        h = stage.forward(h.to(stage.device, /*non_blocking=*/true));  // (B, ...)
    }
    torch::Tensor logits = h.to(torch::kFloat);  // (B, 2)
    torch::Tensor loss = loss_fn(logits, y.to(logits.device(), /*non_blocking=*/true));
    precision.scale_loss(loss).backward();  // autograd crosses the devices back
    return {logits.detach(), loss.detach()};
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    torch::Tensor h = x;
    for (const auto& stage : stages_) h = stage.forward(h.to(stage.device, /*non_blocking=*/true));
    return h;
  }
  int backward_passes_per_step() const override { return 1; }
  torch::Device input_device() const override { return stages_.front().device; }
  nlohmann::json describe() const override {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& stage : stages_) stages.push_back(describe_stage(stage));
    return {{"kind", "naive"}, {"stages", stages}};
  }

 private:
  std::shared_ptr<models::ClassifierImpl> model_;  // the stages' units borrow it
  std::vector<Stage> stages_;
};

// Every parameter of the model belongs to exactly one unit, or a stage would train on a copy
// left behind on the wrong device.
void check_units_cover_model(const std::vector<models::StageUnit>& units,
                             const models::ClassifierImpl& model) {
  std::set<const void*> owned;
  for (const auto& unit : units)
    for (const auto& parameter : models::stage_unit_parameters(unit)) {
      FS_CHECK(owned.insert(parameter.unsafeGetTensorImpl()).second,
               "stage unit '{}' shares a parameter with an earlier unit", unit.name);
    }
  for (const auto& item : model.named_parameters())
    FS_CHECK(owned.count(item.value().unsafeGetTensorImpl()) == 1,
             "parameter '{}' belongs to no stage unit of the model", item.key());
}

}  // namespace

std::unique_ptr<Placement> make_placement(const PlacementOptions& options,
                                          std::shared_ptr<models::ClassifierImpl> model,
                                          const torch::Tensor& example_input) {
  FS_CHECK(model != nullptr, "make_placement needs a model");
  if (options.kind == "one") return std::make_unique<OnePlacement>(std::move(model));
  FS_CHECK(options.kind == "naive" || options.kind == "pipeline",
           "unknown placement '{}': expected one of {}", options.kind,
           fmt::join(kPlacementKinds, ", "));
  FS_CHECK(options.stage_devices.size() >= 2,
           "{} placement needs at least 2 stage devices (--stages cpu,cpu), got {}", options.kind,
           options.stage_devices.size());
  FS_CHECK(example_input.defined() && example_input.dim() == 4,
           "make_placement measures stage costs on an example batch (B, 3, H, W)");
  if (options.kind == "pipeline") {
    FS_CHECK(options.micro_batches >= 1 && options.micro_batches <= example_input.size(0),
             "pipeline micro-batches must be in 1..{} (the batch size), got {}",
             example_input.size(0), options.micro_batches);
  }

  std::vector<models::StageUnit> units = model->stage_units();
  check_units_cover_model(units, *model);
  const std::vector<double> costs =
      measure_unit_costs(units, example_input.to(model_device(*model)));
  const std::vector<size_t> first_units = balance_stages(costs, options.stage_devices.size());
  std::vector<Stage> stages =
      make_stages(std::move(units), costs, first_units, options.stage_devices);
  if (options.kind == "naive") return std::make_unique<NaivePlacement>(model, std::move(stages));
  return std::make_unique<PipelinePlacement>(model, std::move(stages), options.micro_batches,
                                             options.stage_threads);
}

std::unique_ptr<Placement> make_placement(const PlacementOptions& options,
                                          std::shared_ptr<models::ClassifierImpl> model,
                                          const ExampleBatch& example, bool log) {
  if (options.kind == "one") return make_placement(options, std::move(model), torch::Tensor());
  torch::Tensor input =
      torch::randn({example.batch_size, 3, example.image_size_px, example.image_size_px},
                   torch::TensorOptions().device(example.device));  // (B, 3, H, W)
  if (example.channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
  std::unique_ptr<Placement> placement = make_placement(options, std::move(model), input);
  if (log) spdlog::info("placement: {}", placement->describe().dump());
  return placement;
}

PlacementOptions parse_placement_options(const std::string& kind, const std::string& stages,
                                         int micro_batches) {
  FS_CHECK(std::find(kPlacementKinds.begin(), kPlacementKinds.end(), kind) != kPlacementKinds.end(),
           "unknown placement '{}': expected one of {}", kind, fmt::join(kPlacementKinds, ", "));
  PlacementOptions options;
  options.kind = kind;
  FS_CHECK(micro_batches >= 1, "--micro-batches must be >= 1, got {}", micro_batches);
  options.micro_batches = micro_batches;
  if (kind == "one") {
    FS_CHECK(stages.empty(),
             "--stages '{}' is for --placement naive or pipeline; --placement one runs on "
             "--device",
             stages);
    return options;
  }
  size_t begin = 0;
  while (begin <= stages.size() && !stages.empty()) {
    const size_t end = std::min(stages.find(',', begin), stages.size());
    std::string name = stages.substr(begin, end - begin);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    FS_CHECK(!name.empty(), "--stages '{}' has an empty device name; expected e.g. cpu,cpu",
             stages);
    options.stage_devices.push_back(parse_device(name));
    begin = end + 1;
  }
  FS_CHECK(options.stage_devices.size() >= 2,
           "--placement {} needs at least 2 stage devices in --stages (e.g. cpu,cpu or "
           "cuda:0,cuda:1), got {}",
           kind, options.stage_devices.size());
  const bool first_cuda = options.stage_devices.front().is_cuda();
  for (const auto& device : options.stage_devices)
    FS_CHECK(device.is_cuda() == first_cuda,
             "--stages '{}' mixes CPU and CUDA devices; the precision policy autocasts one device "
             "type: use all-CPU or all-CUDA stages",
             stages);
  return options;
}

void check_stages_match_device(const PlacementOptions& options, const torch::Device& device) {
  if (options.stage_devices.empty()) return;
  const torch::Device& first = options.stage_devices.front();
  FS_CHECK(first.type() == device.type(),
           "--placement {} puts its stages on {} but --device is {}: mixed precision, pinned "
           "batches and the loss scaler follow --device; pass --device {}",
           options.kind, first.is_cuda() ? "CUDA devices" : "the CPU", device.str(),
           first.is_cuda() ? "cuda" : "cpu");
}

}  // namespace forensight::parallel

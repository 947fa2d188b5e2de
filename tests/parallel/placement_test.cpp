// Model placement: stage units compose to the model's forward, splits balance measured costs,
// naive and pipelined steps give the one-device gradients, stage threads get their own intra-op
// budgets, bad options are refused, and pipelined training learns what one-device training does.
#include "forensight/parallel/placement.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../support/cuda_gpus.h"
#include "../support/error_of.h"
#include "forensight/core/timer.h"
#include "forensight/models/resnet.h"
#include "forensight/models/vit.h"
#include "forensight/parallel/stages.h"

namespace forensight::parallel {
namespace {

using forensight::testing::error_of;
using Model = std::shared_ptr<models::ClassifierImpl>;

Model tiny_resnet(bool channels_last = true) {
  return models::resnet18(/*num_classes=*/2, channels_last).ptr();
}

// ViT-tiny at 32 px (a 2x2 grid of 16 px patches, 12 blocks). Its head starts at zero, which
// leaves every other gradient zero: give it random weights so the comparisons mean something.
Model tiny_vit() {
  auto vit = models::VisionTransformer(models::vit_tiny_options(/*image_size_px=*/32));
  torch::NoGradGuard no_grad;
  vit->named_parameters()["heads.head.weight"].normal_(0.0, 0.2);
  return vit.ptr();
}

// A second model with the first one's parameters and buffers.
void copy_state(const Model& from, const Model& to) {
  torch::NoGradGuard no_grad;
  auto parameters = from->named_parameters();
  for (auto& item : to->named_parameters()) item.value().copy_(parameters[item.key()]);
  auto buffers = from->named_buffers();
  for (auto& item : to->named_buffers()) item.value().copy_(buffers[item.key()]);
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits, labels);
}

Precision fp32() {
  return Precision(PrecisionOptions{});
}

PlacementOptions cpu_stages(const std::string& kind, int micro_batches = 4) {
  return parse_placement_options(kind, "cpu,cpu", micro_batches);
}

// Every gradient of `got` within tolerance of `want`'s: |g - w| <= rtol * max|w| + atol, per
// parameter; a failure names the parameter and the difference.
void expect_same_gradients(const Model& got, const Model& want, double rtol, double atol,
                           const std::string& what) {
  auto want_parameters = want->named_parameters();
  for (const auto& item : got->named_parameters()) {
    const torch::Tensor g = item.value().grad();
    const torch::Tensor w = want_parameters[item.key()].grad();
    ASSERT_TRUE(g.defined() && w.defined()) << what << ": no gradient for " << item.key();
    const double scale = w.abs().max().item<double>();
    const double diff =
        (g.cpu().to(torch::kDouble) - w.cpu().to(torch::kDouble)).abs().max().item<double>();
    EXPECT_LE(diff, rtol * scale + atol)
        << what << ": " << item.key() << " max |diff| " << diff << ", max |grad| " << scale;
  }
}

// The reference a GPipe step must equal: the same micro-batches, one after another on one
// device, each loss weighted by its share of the batch.
torch::Tensor accumulate_micro_batches(const Model& model, const torch::Tensor& x,
                                       const torch::Tensor& y, int micro_batches) {
  const auto xs = x.tensor_split(micro_batches);
  const auto ys = y.tensor_split(micro_batches);
  torch::Tensor total = torch::zeros({}, x.options());
  for (size_t m = 0; m < xs.size(); ++m) {
    const double share = double(xs[m].size(0)) / double(x.size(0));
    torch::Tensor loss = cross_entropy(model->forward(xs[m]), ys[m]) * share;
    loss.backward();
    total += loss.detach();
  }
  return total;
}

// --- Stage units ---------------------------------------------------------------------------

torch::Tensor run_units(const std::vector<models::StageUnit>& units, torch::Tensor x) {
  for (const auto& unit : units) x = unit.forward(x);
  return x;
}

TEST(StageUnitTest, ResNetUnitsComposeToItsForward) {
  torch::manual_seed(1);
  for (bool channels_last : {false, true}) {
    Model model = tiny_resnet(channels_last);  // train mode: BatchNorm on batch statistics
    const torch::Tensor x = torch::randn({4, 3, 32, 32});
    const auto units = model->stage_units();
    ASSERT_EQ(units.size(), 10u);  // stem, 8 BasicBlocks, head
    EXPECT_EQ(units.front().name, "stem");
    EXPECT_EQ(units[3].name, "layer2.0");
    EXPECT_EQ(units.back().name, "head");
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(run_units(units, x), model->forward(x))) << channels_last;
  }
}

TEST(StageUnitTest, VitUnitsComposeToItsForward) {
  torch::manual_seed(2);
  Model model = tiny_vit();
  const torch::Tensor x = torch::randn({3, 3, 32, 32});
  const auto units = model->stage_units();
  ASSERT_EQ(units.size(), 14u);  // embed, 12 encoder blocks, head
  EXPECT_EQ(units[1].name, "encoder.layers.encoder_layer_0");
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(run_units(units, x), model->forward(x)));
}

TEST(StageUnitTest, EveryParameterBelongsToExactlyOneUnit) {
  for (const Model& model : {tiny_resnet(), tiny_vit()}) {
    std::map<const void*, int> owners;
    for (const auto& unit : model->stage_units())
      for (const auto& parameter : models::stage_unit_parameters(unit))
        ++owners[parameter.unsafeGetTensorImpl()];
    EXPECT_EQ(owners.size(), model->parameters().size());
    for (const auto& parameter : model->parameters())
      EXPECT_EQ(owners[parameter.unsafeGetTensorImpl()], 1);
  }
}

// --- Balancing -----------------------------------------------------------------------------

TEST(StageBalanceTest, MinimisesTheSlowestStageNotTheUnitCount) {
  // Equal unit counts (2 + 2) would give 11 against 2; by cost the slow unit stands alone.
  EXPECT_EQ(balance_stages({1, 1, 1, 10}, 2), (std::vector<size_t>{0, 3}));
  EXPECT_EQ(balance_stages({6, 1, 1, 1, 1, 1}, 2), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(balance_stages({2, 2, 2, 2, 2, 2}, 3), (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(balance_stages({1, 2, 3}, 3), (std::vector<size_t>{0, 1, 2}));
  EXPECT_NE(error_of([] {
              balance_stages({1, 2, 3}, 4);
            }).find("too few for 4 stages"),
            std::string::npos);
}

// The split make_placement chose is the best one for the costs it measured and recorded.
TEST(StageBalanceTest, PlacementSplitsResNetByMeasuredCost) {
  torch::manual_seed(3);
  Model model = tiny_resnet();
  auto placement = make_placement(cpu_stages("naive"), model, torch::randn({4, 3, 32, 32}));
  const nlohmann::json described = placement->describe();
  ASSERT_EQ(described["stages"].size(), 2u);
  std::vector<double> costs;
  double slowest = 0.0;
  for (const auto& stage : described["stages"]) {
    for (double cost : stage["unit_costs_ms"].get<std::vector<double>>()) costs.push_back(cost);
    slowest = std::max(slowest, stage["cost_ms"].get<double>());
  }
  ASSERT_EQ(costs.size(), 10u);
  double best = std::numeric_limits<double>::infinity();
  for (size_t cut = 1; cut < costs.size(); ++cut) {
    double first = 0.0, second = 0.0;
    for (size_t i = 0; i < costs.size(); ++i) (i < cut ? first : second) += costs[i];
    best = std::min(best, std::max(first, second));
  }
  EXPECT_NEAR(slowest, best, 1e-9) << described.dump();
  for (double cost : costs) EXPECT_GT(cost, 0.0);
}

// --- Gradients against one device ----------------------------------------------------------

// Naive runs the whole batch through the stages: BatchNorm sees the same batch, so even a
// training-mode ResNet gives the one-device loss and gradients (same ops, same order).
TEST(PlacementTest, NaiveResNetMatchesOneDevice) {
  torch::manual_seed(4);
  Model reference = tiny_resnet(), staged = tiny_resnet();
  copy_state(reference, staged);
  const torch::Tensor x = torch::randn({8, 3, 32, 32});
  const torch::Tensor y = torch::randint(0, 2, {8});
  const Precision precision = fp32();
  auto one = make_placement(PlacementOptions{}, reference, x);
  auto naive = make_placement(cpu_stages("naive"), staged, x);
  const StepOutput want = one->forward_backward(x, y, cross_entropy, precision);
  const StepOutput got = naive->forward_backward(x, y, cross_entropy, precision);
  EXPECT_NEAR(got.loss.item<double>(), want.loss.item<double>(), 1e-6);
  EXPECT_LE((got.logits - want.logits).abs().max().item<double>(), 1e-5);
  expect_same_gradients(staged, reference, /*rtol=*/1e-5, /*atol=*/1e-7, "naive resnet");
}

// ViT has no batch statistics: M micro-batches accumulate to the full batch's mean-loss gradient
// (up to float summation order).
TEST(PipelineTest, VitMatchesOneDeviceFullBatch) {
  for (int micro_batches : {2, 4}) {
    torch::manual_seed(5);
    Model reference = tiny_vit(), staged = tiny_vit();
    copy_state(reference, staged);
    const torch::Tensor x = torch::randn({8, 3, 32, 32});
    const torch::Tensor y = torch::randint(0, 2, {8});
    const Precision precision = fp32();
    auto one = make_placement(PlacementOptions{}, reference, x);
    auto pipeline = make_placement(cpu_stages("pipeline", micro_batches), staged, x);
    EXPECT_EQ(pipeline->backward_passes_per_step(), micro_batches);
    const StepOutput want = one->forward_backward(x, y, cross_entropy, precision);
    const StepOutput got = pipeline->forward_backward(x, y, cross_entropy, precision);
    EXPECT_NEAR(got.loss.item<double>(), want.loss.item<double>(), 1e-5);
    EXPECT_LE((got.logits - want.logits).abs().max().item<double>(), 1e-4);
    expect_same_gradients(staged, reference, /*rtol=*/1e-4, /*atol=*/1e-7,
                          fmt::format("vit pipeline M={}", micro_batches));
    auto naive_model = tiny_vit();
    copy_state(reference, naive_model);
    auto naive = make_placement(cpu_stages("naive"), naive_model, x);
    naive->forward_backward(x, y, cross_entropy, precision);
    expect_same_gradients(naive_model, reference, /*rtol=*/1e-5, /*atol=*/1e-7, "vit naive");
  }
}

// Training-mode BatchNorm normalises each micro-batch with its own statistics, so the reference
// is one device running the same micro-batches with gradient accumulation; the running
// statistics then take the same M updates. 64 px, so that layer4's BatchNorm sees 2x2 positions
// of each image: over 2 images x 1 position its gradients amplify float rounding (the stages
// run 1 intra-op thread, the reference 2, so reductions differ) past the tolerance.
TEST(PipelineTest, ResNetMatchesOneDeviceMicroBatchAccumulation) {
  for (int micro_batches : {2, 4}) {
    torch::manual_seed(6);
    Model reference = tiny_resnet(), staged = tiny_resnet();
    copy_state(reference, staged);
    const torch::Tensor x = torch::randn({8, 3, 64, 64});
    const torch::Tensor y = torch::randint(0, 2, {8});
    auto pipeline = make_placement(cpu_stages("pipeline", micro_batches), staged, x);
    const torch::Tensor want_loss = accumulate_micro_batches(reference, x, y, micro_batches);
    const StepOutput got = pipeline->forward_backward(x, y, cross_entropy, fp32());
    EXPECT_NEAR(got.loss.item<double>(), want_loss.item<double>(), 1e-5);
    EXPECT_EQ(got.logits.sizes(), (std::vector<int64_t>{8, 2}));
    expect_same_gradients(staged, reference, /*rtol=*/1e-4, /*atol=*/1e-7,
                          fmt::format("resnet pipeline M={}", micro_batches));
    auto want_buffers = reference->named_buffers();
    for (const auto& item : staged->named_buffers())
      EXPECT_TRUE(torch::allclose(item.value(), want_buffers[item.key()], 1e-5, 1e-6))
          << item.key();
  }
}

// With BatchNorm on its running statistics (eval mode) a ResNet's micro-batches are independent,
// and the pipeline gives the full batch's gradients.
TEST(PipelineTest, EvalModeResNetMatchesOneDeviceFullBatch) {
  torch::manual_seed(7);
  Model reference = tiny_resnet(), staged = tiny_resnet();
  copy_state(reference, staged);
  reference->eval();
  staged->eval();
  const torch::Tensor x = torch::randn({8, 3, 32, 32});
  const torch::Tensor y = torch::randint(0, 2, {8});
  auto pipeline = make_placement(cpu_stages("pipeline", 4), staged, x);
  auto one = make_placement(PlacementOptions{}, reference, x);
  const StepOutput want = one->forward_backward(x, y, cross_entropy, fp32());
  const StepOutput got = pipeline->forward_backward(x, y, cross_entropy, fp32());
  EXPECT_NEAR(got.loss.item<double>(), want.loss.item<double>(), 1e-5);
  expect_same_gradients(staged, reference, /*rtol=*/1e-4, /*atol=*/1e-7, "eval-mode resnet");
  torch::NoGradGuard no_grad;
  EXPECT_LE((pipeline->forward(x) - one->forward(x)).abs().max().item<double>(), 1e-4);
}

// Two stages on one GPU, each on a CUDA stream of its own (stage_stream.h): the pipelined step
// gives the gradients, losses and running statistics of the same micro-batches run one after
// another, as on the CPU. A missing event or allocator note between the streams shows here as
// wrong gradients. Tolerance 10x the CPU's: cuDNN picks its algorithms per call and may reduce in
// another order (TF32 on, as PyTorch's default for convolutions).
TEST(PipelineCudaTest, TwoStagesOnOneGpuRunOnStreamsOfTheirOwnAndMatchOneDevice) {
  if (forensight::testing::cuda_gpu_count() < 1) GTEST_SKIP() << "needs a CUDA GPU";
  const torch::Device gpu("cuda:0");
  for (int micro_batches : {2, 4}) {
    torch::manual_seed(6);
    Model reference = tiny_resnet(), staged = tiny_resnet();
    copy_state(reference, staged);
    reference->to(gpu);
    staged->to(gpu);
    const torch::Tensor x = torch::randn({8, 3, 64, 64}).to(gpu);
    const torch::Tensor y = torch::randint(0, 2, {8}).to(gpu);
    auto pipeline = make_placement(
        parse_placement_options("pipeline", "cuda:0,cuda:0", micro_batches), staged, x);
    const nlohmann::json stages = pipeline->describe()["stages"];
    ASSERT_TRUE(stages[0].contains("cuda_stream") && stages[1].contains("cuda_stream")) << stages;
    EXPECT_NE(stages[0]["cuda_stream"], stages[1]["cuda_stream"]) << stages;
    const torch::Tensor want_loss = accumulate_micro_batches(reference, x, y, micro_batches);
    for (int step = 0; step < 2; ++step) {  // the second step reuses the allocator's blocks
      staged->zero_grad();
      const StepOutput got = pipeline->forward_backward(x, y, cross_entropy, fp32());
      EXPECT_NEAR(got.loss.item<double>(), want_loss.item<double>(), 1e-4);
      EXPECT_EQ(got.logits.device(), gpu);
      expect_same_gradients(
          staged, reference, /*rtol=*/1e-3, /*atol=*/1e-6,
          fmt::format("resnet on cuda streams M={} step {}", micro_batches, step + 1));
      if (step == 0) {
        auto want_buffers = reference->named_buffers();
        for (const auto& item : staged->named_buffers())
          EXPECT_TRUE(torch::allclose(item.value(), want_buffers[item.key()], 1e-4, 1e-5))
              << item.key();
      }
    }
  }
}

// --- Threads -------------------------------------------------------------------------------

TEST(PipelineTest, EachStageThreadHasItsOwnIntraOpThreads) {
  const int caller_threads = at::get_num_threads();
  Model model = tiny_resnet();
  PlacementOptions options = cpu_stages("pipeline", 2);
  options.stage_threads = {1, 3};
  auto pipeline = make_placement(options, model, torch::randn({4, 3, 32, 32}));
  const nlohmann::json stages = pipeline->describe()["stages"];
  EXPECT_EQ(stages[0]["intra_op_threads"], 1);
  EXPECT_EQ(stages[1]["intra_op_threads"], 3);
  EXPECT_EQ(at::get_num_threads(), caller_threads);
  // A thread started afterwards still gets the process-wide count, not a stage's.
  int fresh_thread = 0;
  std::thread([&] { fresh_thread = at::get_num_threads(); }).join();
  EXPECT_EQ(fresh_thread, caller_threads);
}

TEST(PipelineTest, AnErrorInAStageIsRethrownWithoutHanging) {
  Model model = tiny_vit();
  const torch::Tensor x = torch::randn({4, 3, 32, 32});
  auto pipeline = make_placement(cpu_stages("pipeline", 2), model, x);
  const LossFn failing = [](const torch::Tensor&, const torch::Tensor&) -> torch::Tensor {
    fail("loss exploded");
  };
  EXPECT_NE(error_of([&] {
              pipeline->forward_backward(x, torch::zeros({4}, torch::kLong), failing, fp32());
            }).find("loss exploded"),
            std::string::npos);
  // The placement still works afterwards.
  const StepOutput out =
      pipeline->forward_backward(x, torch::zeros({4}, torch::kLong), cross_entropy, fp32());
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
}

// --- Options -------------------------------------------------------------------------------

TEST(PlacementOptionsTest, ParsesKindsStagesAndMicroBatches) {
  const PlacementOptions one = parse_placement_options("one", "", 4);
  EXPECT_EQ(one.kind, "one");
  EXPECT_TRUE(one.stage_devices.empty());
  const PlacementOptions pipeline = parse_placement_options("pipeline", "cpu, cpu,cpu", 8);
  EXPECT_EQ(pipeline.stage_devices.size(), 3u);
  EXPECT_EQ(pipeline.micro_batches, 8);
}

TEST(PlacementOptionsTest, RefusesBadValuesNamingTheChoices) {
  const std::string kind = error_of([] { parse_placement_options("tensor", "", 4); });
  EXPECT_NE(kind.find("unknown placement 'tensor'"), std::string::npos) << kind;
  EXPECT_NE(kind.find("one, naive, pipeline"), std::string::npos) << kind;
  const std::string one_stage = error_of([] { parse_placement_options("naive", "cpu", 4); });
  EXPECT_NE(one_stage.find("at least 2 stage devices"), std::string::npos) << one_stage;
  const std::string no_stages = error_of([] { parse_placement_options("pipeline", "", 4); });
  EXPECT_NE(no_stages.find("at least 2 stage devices"), std::string::npos) << no_stages;
  const std::string device = error_of([] { parse_placement_options("naive", "cpu,gpu0", 4); });
  EXPECT_NE(device.find("bad device 'gpu0'"), std::string::npos) << device;
  const std::string empty = error_of([] { parse_placement_options("naive", "cpu,,cpu", 4); });
  EXPECT_NE(empty.find("empty device name"), std::string::npos) << empty;
  const std::string zero = error_of([] { parse_placement_options("pipeline", "cpu,cpu", 0); });
  EXPECT_NE(zero.find("--micro-batches must be >= 1"), std::string::npos) << zero;
  const std::string stray = error_of([] { parse_placement_options("one", "cpu,cpu", 4); });
  EXPECT_NE(stray.find("--placement one runs on --device"), std::string::npos) << stray;
}

// Built by hand: a CUDA device can be named without a GPU, where parse_placement_options would
// refuse an absent one first.
TEST(PlacementOptionsTest, RefusesStagesOfAnotherDeviceTypeThanTheRun) {
  const torch::Device cpu(torch::kCPU), gpu0(torch::kCUDA, 0), gpu1(torch::kCUDA, 1);
  PlacementOptions gpu_stages;
  gpu_stages.kind = "pipeline";
  gpu_stages.stage_devices = {gpu0, gpu1};
  const std::string message = error_of([&] { check_stages_match_device(gpu_stages, cpu); });
  EXPECT_NE(message.find("--placement pipeline puts its stages on CUDA devices but --device is "
                         "cpu"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("pass --device cuda"), std::string::npos) << message;
  EXPECT_NO_THROW(check_stages_match_device(gpu_stages, gpu0));
  EXPECT_NO_THROW(check_stages_match_device(gpu_stages, gpu1));  // the type decides, not the index

  PlacementOptions cpu_stages_options = cpu_stages("naive");
  EXPECT_NE(error_of([&] {
              check_stages_match_device(cpu_stages_options, gpu0);
            }).find("puts its stages on the CPU but --device is cuda:0"),
            std::string::npos);
  EXPECT_NO_THROW(check_stages_match_device(cpu_stages_options, cpu));
  EXPECT_NO_THROW(check_stages_match_device(PlacementOptions{}, gpu0));  // "one": no stages
}

TEST(PlacementOptionsTest, RefusesMoreMicroBatchesThanImages) {
  const torch::Tensor x = torch::randn({4, 3, 32, 32});
  const std::string at_build =
      error_of([&] { make_placement(cpu_stages("pipeline", 8), tiny_resnet(), x); });
  EXPECT_NE(at_build.find("must be in 1..4"), std::string::npos) << at_build;
  auto pipeline = make_placement(cpu_stages("pipeline", 4), tiny_resnet(), x);
  const std::string at_step = error_of([&] {
    pipeline->forward_backward(x.narrow(0, 0, 3), torch::zeros({3}, torch::kLong), cross_entropy,
                               fp32());
  });
  EXPECT_NE(at_step.find("use --micro-batches <= 3"), std::string::npos) << at_step;
}

TEST(PlacementOptionsTest, RefusesMoreStagesThanUnits) {
  PlacementOptions options = cpu_stages("naive");
  options.stage_devices.assign(11, torch::kCPU);
  const std::string error = error_of([&] {
    make_placement(options, tiny_resnet(), torch::randn({2, 3, 32, 32}));
  });
  EXPECT_NE(error.find("10 units"), std::string::npos) << error;
}

// --- Training ------------------------------------------------------------------------------

// A separable problem: class 1 images are brighter in their top half and darker in their bottom
// half, class 0 the other way round. Every image has the same mean, so the signal survives
// BatchNorm on micro-batches of one class (a brightness shift would not: normalising a batch
// of 4 same-class images removes it).
std::pair<torch::Tensor, torch::Tensor> separable_batch(int64_t n) {
  torch::Tensor y = torch::randint(0, 2, {n});                            // (n) int64
  torch::Tensor sign = (y.to(torch::kFloat) * 2 - 1).view({n, 1, 1, 1});  // -1 or +1
  torch::Tensor rows = torch::cat({torch::ones({16}), -torch::ones({16})}).view({1, 1, 32, 1});
  return {torch::randn({n, 3, 32, 32}) + 0.5 * sign * rows, y};  // (n, 3, 32, 32)
}

double train_and_evaluate(const PlacementOptions& options, const Model& model) {
  torch::manual_seed(11);
  const auto [example, unused] = separable_batch(16);
  auto placement = make_placement(options, model, example);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  const Precision precision = fp32();
  model->train();
  for (int step = 0; step < 12; ++step) {
    const auto [x, y] = separable_batch(16);
    optimizer.zero_grad();
    placement->forward_backward(x, y, cross_entropy, precision);
    optimizer.step();
  }
  model->eval();
  const auto [x, y] = separable_batch(64);
  const torch::Tensor predicted = placement->forward(x).argmax(1).cpu();
  return predicted.eq(y).to(torch::kDouble).mean().item<double>();
}

TEST(PipelineTest, PipelinedTrainingLearnsWhatOneDeviceLearns) {
  torch::manual_seed(10);
  Model one_model = tiny_resnet(), pipeline_model = tiny_resnet();
  copy_state(one_model, pipeline_model);
  const double one_accuracy = train_and_evaluate(PlacementOptions{}, one_model);
  const double pipeline_accuracy = train_and_evaluate(cpu_stages("pipeline", 4), pipeline_model);
  EXPECT_GE(one_accuracy, 0.9);
  EXPECT_GE(pipeline_accuracy, 0.9);
  EXPECT_NEAR(pipeline_accuracy, one_accuracy, 0.08);
}

// --- Timing (by hand: --gtest_also_run_disabled_tests --gtest_filter='*ImagesPerSecond*') ------

double images_per_second(Placement& placement, int64_t batch, int64_t size_px, int steps) {
  const torch::Tensor x = torch::randn({batch, 3, size_px, size_px});
  const torch::Tensor y = torch::randint(0, 2, {batch});
  const Precision precision = fp32();
  for (int i = 0; i < 2; ++i) placement.forward_backward(x, y, cross_entropy, precision);
  Timer timer;
  for (int i = 0; i < steps; ++i) placement.forward_backward(x, y, cross_entropy, precision);
  return double(batch * steps) / timer.seconds();
}

TEST(PipelineTest, DISABLED_ResNet18ImagesPerSecond) {
  const int64_t batch = 32, size_px = 112;
  const int steps = 6;
  at::set_num_threads(2);
  const torch::Tensor example = torch::randn({batch, 3, size_px, size_px});
  Model one_model = tiny_resnet();
  auto one = make_placement(PlacementOptions{}, one_model, example);
  const double one_rate = images_per_second(*one, batch, size_px, steps);
  Model naive_model = tiny_resnet();
  auto naive = make_placement(cpu_stages("naive"), naive_model, example);
  const double naive_rate = images_per_second(*naive, batch, size_px, steps);
  Model pipeline_model = tiny_resnet();
  PlacementOptions options = cpu_stages("pipeline", 4);
  options.stage_threads = {1, 1};
  auto pipeline = make_placement(options, pipeline_model, example);
  const double pipeline_rate = images_per_second(*pipeline, batch, size_px, steps);
  fmt::print(
      "resnet18 batch {} at {} px, training images/s: one device (2 threads) {:.1f}, "
      "naive cpu,cpu {:.1f}, pipeline cpu,cpu M=4 (1 thread per stage) {:.1f}\n",
      batch, size_px, one_rate, naive_rate, pipeline_rate);
  fmt::print("pipeline split: {}\n", pipeline->describe().dump());
}

}  // namespace
}  // namespace forensight::parallel

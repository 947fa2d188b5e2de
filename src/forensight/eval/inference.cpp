#include "forensight/eval/inference.h"

#include "forensight/core/timer.h"

#include <cmath>
#include <limits>

namespace forensight::eval {

torch::Tensor fake_probability(const torch::Tensor& logits) {
  return torch::softmax(logits.to(torch::kFloat32), /*dim=*/1).select(/*dim=*/1, /*index=*/1);
}

double mean_loss(const std::vector<double>& losses) {
  // In sample order, so that a sharded pass gathered on one rank sums exactly as one process does.
  double sum = 0.0;
  int64_t labelled = 0;
  for (double loss : losses) {
    if (std::isnan(loss)) continue;
    sum += loss;
    ++labelled;
  }
  return labelled > 0 ? sum / labelled : 0.0;
}

InferenceResult run_inference(models::ClassifierImpl& model, data::DataLoader& loader,
                              const InferenceOptions& options) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Timer timer;
  InferenceResult result;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    if (batch->images.size(0) == 0) continue;
    torch::Tensor x = options.raw_pixels
                          ? batch->images.to(options.device)  // (B, 3, H, W) uint8
                          : data::normalize_batch(batch->images, options.normalization,
                                                  options.input_filter, options.device,
                                                  options.channels_last);  // (B, 3, H, W) float
    torch::Tensor logits = options.forward ? options.forward(x) : model.forward(x);  // (B, 2)
    torch::Tensor probability = fake_probability(logits).cpu().to(torch::kFloat64);  // (B)
    torch::Tensor labels = batch->labels;                                            // (B) int64
    // Per-sample losses (gathered exactly across ranks of a sharded pass); unlabelled rows get NaN.
    torch::Tensor known = labels.ge(0);  // (B) bool
    torch::Tensor sample_loss =
        torch::nn::functional::cross_entropy(
            logits.to(torch::kFloat32), labels.clamp_min(0).to(logits.device()),
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
            .cpu()
            .to(torch::kFloat64)
            .masked_fill(known.logical_not(), std::numeric_limits<double>::quiet_NaN());  // (B)
    auto sl = sample_loss.accessor<double, 1>();
    auto p = probability.accessor<double, 1>();
    auto l = labels.accessor<int64_t, 1>();
    auto idx = batch->indices.accessor<int64_t, 1>();
    for (int64_t i = 0; i < probability.size(0); ++i) {
      result.scores.push_back(p[i]);
      result.labels.push_back(static_cast<int>(l[i]));
      result.indices.push_back(idx[i]);
      result.losses.push_back(sl[i]);
    }
  }
  result.skipped = loader.epoch_stats().skipped;
  result.mean_loss = mean_loss(result.losses);
  result.seconds = timer.seconds();
  if (was_training) model.train();
  return result;
}

}  // namespace forensight::eval

#include "forensight/eval/inference.h"

#include "forensight/core/timer.h"

namespace forensight::eval {

torch::Tensor fake_probability(const torch::Tensor& logits) {
  return torch::softmax(logits.to(torch::kFloat32), /*dim=*/1).select(/*dim=*/1, /*index=*/1);
}

InferenceResult run_inference(models::ClassifierImpl& model, data::DataLoader& loader,
                              const InferenceOptions& options) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Timer timer;
  InferenceResult result;
  double loss_sum = 0.0;
  int64_t labelled = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    if (batch->images.size(0) == 0) continue;
    torch::Tensor x = options.raw_pixels ? batch->images.to(options.device)  // (B, 3, H, W) uint8
                                         : data::normalize_batch(
                                               batch->images, options.normalization, options.device,
                                               options.channels_last);  // (B, 3, H, W) float
    torch::Tensor logits = model.forward(x);                            // (B, 2)
    torch::Tensor probability = fake_probability(logits).cpu().to(torch::kFloat64);  // (B)
    torch::Tensor labels = batch->labels;                                            // (B) int64
    torch::Tensor known = labels.ge(0);
    if (known.any().item<bool>()) {
      auto known_logits = logits.index({known.to(logits.device())});
      auto known_labels = labels.index({known}).to(logits.device());
      loss_sum += torch::nn::functional::cross_entropy(
                      known_logits, known_labels,
                      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                      .item<double>();
      labelled += known_labels.size(0);
    }
    auto p = probability.accessor<double, 1>();
    auto l = labels.accessor<int64_t, 1>();
    auto idx = batch->indices.accessor<int64_t, 1>();
    for (int64_t i = 0; i < probability.size(0); ++i) {
      result.scores.push_back(p[i]);
      result.labels.push_back(static_cast<int>(l[i]));
      result.indices.push_back(idx[i]);
    }
  }
  result.skipped = loader.epoch_stats().skipped;
  result.mean_loss = labelled > 0 ? loss_sum / labelled : 0.0;
  result.seconds = timer.seconds();
  if (was_training) model.train();
  return result;
}

}  // namespace forensight::eval

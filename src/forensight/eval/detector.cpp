#include "forensight/eval/detector.h"

#include "forensight/core/error.h"
#include "forensight/models/registry.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"

namespace forensight::eval {

Detector load_detector(const std::string& checkpoint_path, const torch::Device& device) {
  Detector detector;
  detector.checkpoint_path = checkpoint_path;
  detector.device = device;
  const train::Checkpoint header = train::read_checkpoint_header(checkpoint_path);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(header.config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint '{}' holds an unreadable config: {}", checkpoint_path, e.what());
  }
  detector.config = train::train_options_from_json(config, checkpoint_path + " (config)");
  detector.model = models::create_model(train::model_options(detector.config));
  train::load_checkpoint(checkpoint_path, *detector.model, nullptr, device);
  detector.model->to(device);
  detector.model->eval();
  detector.transform = train::eval_transform(detector.config);
  detector.normalization = data::parse_norm_preset(detector.config.normalization);
  return detector;
}

}  // namespace forensight::eval

#include "forensight/train/train_options.h"

#include "forensight/core/error.h"

namespace forensight::train {
namespace {
data::SizeMode parse_size_mode(const std::string& name) {
  if (name == "resize") return data::SizeMode::kResize;
  if (name == "center-crop") return data::SizeMode::kCenterCrop;
  if (name == "random-crop") return data::SizeMode::kRandomCrop;
  fail("unknown size mode '{}': valid modes are resize, center-crop, random-crop", name);
}
}  // namespace

data::TransformOptions train_transform(const TrainOptions& o) {
  data::TransformOptions t;
  t.image_size_px = o.image_size_px;
  t.size_mode = parse_size_mode(o.size_mode);
  t.resize_px = o.image_size_px * 8 / 7;  // the 256 -> 224 ratio
  t.hflip_prob = o.hflip_prob;
  t.blur_prob = o.blur_prob;
  t.jpeg_prob = o.jpeg_prob;
  return t;
}

data::TransformOptions eval_transform(const TrainOptions& o) {
  data::TransformOptions t = train_transform(o);
  if (t.size_mode == data::SizeMode::kRandomCrop) t.size_mode = data::SizeMode::kNativeCenter;
  t.hflip_prob = 0.0;
  t.blur_prob = 0.0;
  t.jpeg_prob = 0.0;
  return t;
}

models::ModelOptions model_options(const TrainOptions& o) {
  models::ModelOptions m;
  m.name = o.model;
  m.num_classes = 2;
  m.image_size_px = o.image_size_px;
  m.vit_layers = o.vit_layers;
  m.channels_last = o.channels_last;
  return m;
}

bool input_channels_last(const TrainOptions& options, bool on_cpu) {
  return options.channels_last && !on_cpu;
}

}  // namespace forensight::train

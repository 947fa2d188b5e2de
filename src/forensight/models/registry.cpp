// The model presets by name. One table maps each name to its factory, so model_names() and the
// error for an unknown name can never disagree with what create_model builds.
#include "forensight/models/registry.h"

#include <fmt/format.h>

#include <functional>

#include "forensight/core/error.h"
#include "forensight/models/resnet.h"
#include "forensight/models/vit.h"

namespace forensight::models {
namespace {

using Factory = std::function<std::shared_ptr<ClassifierImpl>(const ModelOptions&)>;

struct Preset {
  const char* name;
  Factory make;
};

std::shared_ptr<ClassifierImpl> make_vit(VitOptions options, const ModelOptions& model) {
  FS_CHECK(model.vit_layers >= 0, "ViT layers must be >= 0 (0 = the preset's), got {}",
           model.vit_layers);
  if (model.vit_layers > 0) options.num_layers = model.vit_layers;
  return VisionTransformer(options).ptr();
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {"resnet18",
       [](const ModelOptions& o) { return resnet18(o.num_classes, o.channels_last).ptr(); }},
      {"vit-tiny",
       [](const ModelOptions& o) {
         return make_vit(vit_tiny_options(o.image_size_px, o.num_classes), o);
       }},
      {"vit-small",
       [](const ModelOptions& o) {
         return make_vit(vit_small_options(o.image_size_px, o.num_classes), o);
       }},
      {"vit-base",
       [](const ModelOptions& o) {
         return make_vit(vit_base_options(o.image_size_px, o.num_classes), o);
       }},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& preset : presets()) names.emplace_back(preset.name);
  return names;
}

std::shared_ptr<ClassifierImpl> create_model(const ModelOptions& options) {
  for (const auto& preset : presets())
    if (options.name == preset.name) return preset.make(options);
  fail("unknown model '{}'; valid models: {}", options.name, fmt::join(model_names(), ", "));
}

}  // namespace forensight::models

// Training presets: the seed study's two recipes (resnet18, vit), small versions of both that
// train in minutes on a 2-core CPU, and a ResNet18 recipe (full and CPU-sized) chosen to generalise
// to generator families never seen (issue #17). A preset fills TrainOptions before the config file
// and flags.
#pragma once
#include <string>
#include <vector>

#include "forensight/train/train_options.h"

namespace forensight::train {

// Throws Error listing preset_names() when the name is unknown.
TrainOptions preset_options(const std::string& name);
std::vector<std::string> preset_names();

}  // namespace forensight::train

// What a study runs: the data, the models and what stays fixed, the baseline cell, and the axes to
// sweep (study/grid.h turns it into cells). Read from YAML or JSON (studies/*.yaml); every key is
// checked, and an unknown one is refused with the valid keys.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace forensight::study {

// One model of the study and the training settings every cell of it shares.
struct StudyModel {
  std::string key;            // the seed's name: resnet18 or vit (names cells and plots)
  std::string model;          // Forensight's preset: resnet18, vit-tiny, vit-small, vit-base
  std::string split;          // train/val/test counts (scaled down to the data) or fractions
  int image_size_px = 224;    // input side; the Python original resizes to it too
  int batch_size = 32;        // per rank
  std::string normalization;  // imagenet or half ("" = the seed's: imagenet for ResNet, half ViT)
};

// The settings a cell varies. Each axis of the grid is one of these fields.
struct CellSettings {
  int threads = 1;                // intra-op threads (per rank)
  int workers = 0;                // loader workers
  int ranks = 1;                  // data-parallel processes
  std::string amp = "off";        // off, bf16, fp16
  std::string placement = "one";  // one, naive, pipeline

  bool operator==(const CellSettings&) const = default;
};

inline const std::vector<std::string> kAxisNames = {"threads", "workers", "ranks", "amp",
                                                    "placement"};

struct StudyConfig {
  std::string name = "study";
  // Data: "builtin" (made with `forensight data synth`) or a folder / CSV manifest.
  std::string data = "builtin";
  int builtin_count = 400;    // builtin: images, half per class
  int builtin_size_px = 256;  // builtin: side of each image

  std::vector<StudyModel> models;
  // Fixed for every cell of every model.
  int epochs = 1;
  int64_t max_steps = 0;  // per epoch budget as train's --max-steps (0 = whole epochs)
  std::string optimizer = "adam";
  double lr = 1e-4;
  int64_t seed = 0;
  std::string device = "cpu";  // cpu or cuda
  int micro_batches = 4;       // pipeline placement

  CellSettings baseline;
  // The values to sweep per axis, in order; an axis not named is not swept.
  std::map<std::string, std::vector<nlohmann::json>> axes;
  // Which models each axis runs for (by key); an axis not named here runs for every model.
  std::map<std::string, std::vector<std::string>> axis_models;
  std::string mode = "one-at-a-time";  // or "product": every combination of the axes' values
  // Which cells also run the Python original: all, baseline (the baseline cells only), none, or
  // a list of axis names.
  std::vector<std::string> python = {"all"};
  double cell_timeout_s = 3600;
};

// `settings` with one axis set to `value` (a JSON number or text), checked; `where` names the value
// in messages.
CellSettings with_axis_value(const CellSettings& settings, const std::string& axis,
                             const nlohmann::json& value, const std::string& where);

// Throws Error naming the file, the key and the valid choices.
StudyConfig load_study_config(const std::filesystem::path& path);
StudyConfig parse_study_config(const nlohmann::json& object, const std::string& origin);
nlohmann::json to_json(const StudyConfig& config);

}  // namespace forensight::study

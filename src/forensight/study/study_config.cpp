#include "forensight/study/study_config.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "forensight/core/error.h"
#include "forensight/core/option_table.h"
#include "forensight/models/registry.h"

namespace forensight::study {
namespace {

// Reads one JSON object of a config, refusing keys it does not know and values of the wrong type,
// each time naming where in the file the value is.
class Section {
 public:
  Section(const nlohmann::json& object, std::string where, std::vector<std::string> keys)
      : object_(object), where_(std::move(where)) {
    FS_CHECK(object.is_object(), "{}: expected a mapping of keys to values, got {}", where_,
             object.dump());
    for (const auto& [key, value] : object.items()) {
      const std::string name = normalized(key);
      FS_CHECK(std::find(keys.begin(), keys.end(), name) != keys.end(),
               "{}: unknown key '{}'; valid keys are {}", where_, key, fmt::join(keys, ", "));
    }
  }

  const nlohmann::json* find(const std::string& key) const {
    for (const auto& [k, value] : object_.items())
      if (normalized(k) == key) return &value;
    return nullptr;
  }
  std::string path(const std::string& key) const { return where_ + "." + key; }

  template <typename T>
  void read(const std::string& key, T& out) const {
    const nlohmann::json* value = find(key);
    if (!value) return;
    if constexpr (std::is_same_v<T, std::string>) {
      FS_CHECK(value->is_string(), "{}: expected text, got {}", path(key), value->dump());
    } else if constexpr (std::is_integral_v<T>) {
      FS_CHECK(value->is_number_integer(), "{}: expected a whole number, got {}", path(key),
               value->dump());
    } else {
      FS_CHECK(value->is_number(), "{}: expected a number, got {}", path(key), value->dump());
    }
    out = value->get<T>();
  }
  void read_choice(const std::string& key, std::string& out,
                   const std::vector<std::string>& choices) const {
    read(key, out);
    FS_CHECK(std::find(choices.begin(), choices.end(), out) != choices.end(),
             "{}: '{}' is not valid; choose one of {}", path(key), out, fmt::join(choices, ", "));
  }

 private:
  static std::string normalized(std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return key;
  }
  const nlohmann::json& object_;
  std::string where_;
};

const std::vector<std::string> kAmpChoices = {"off", "bf16", "fp16"};
const std::vector<std::string> kPlacementChoices = {"one", "naive", "pipeline"};

void check_settings(const CellSettings& s, const std::string& where) {
  FS_CHECK(s.threads >= 1, "{}: threads must be >= 1, got {}", where, s.threads);
  FS_CHECK(s.workers >= 0, "{}: workers must be >= 0, got {}", where, s.workers);
  FS_CHECK(s.ranks >= 1, "{}: ranks must be >= 1, got {}", where, s.ranks);
  FS_CHECK(std::find(kAmpChoices.begin(), kAmpChoices.end(), s.amp) != kAmpChoices.end(),
           "{}: amp '{}' is not valid; choose one of {}", where, s.amp,
           fmt::join(kAmpChoices, ", "));
  FS_CHECK(std::find(kPlacementChoices.begin(), kPlacementChoices.end(), s.placement) !=
               kPlacementChoices.end(),
           "{}: placement '{}' is not valid; choose one of {}", where, s.placement,
           fmt::join(kPlacementChoices, ", "));
}

CellSettings parse_settings(const nlohmann::json& object, const std::string& where) {
  CellSettings s;
  Section section(object, where, kAxisNames);
  section.read("threads", s.threads);
  section.read("workers", s.workers);
  section.read("ranks", s.ranks);
  section.read("amp", s.amp);
  section.read("placement", s.placement);
  check_settings(s, where);
  return s;
}

StudyModel parse_model(const std::string& key, const nlohmann::json& object,
                       const std::string& where) {
  FS_CHECK(key == "resnet18" || key == "vit",
           "{}: unknown model '{}'; the study's models are resnet18 and vit (the seed's two)",
           where, key);
  StudyModel m;
  m.key = key;
  m.model = key == "vit" ? "vit-base" : "resnet18";
  m.split = key == "vit" ? "40000/5000/5000" : "50000/15000/15000";  // the seed's
  Section section(object, where, {"model", "split", "image-size", "batch-size", "normalization"});
  const auto names = models::model_names();
  std::vector<std::string> family;
  for (const auto& n : names)
    if (n.starts_with(key == "vit" ? "vit" : "resnet")) family.push_back(n);
  section.read_choice("model", m.model, family);
  section.read("split", m.split);
  section.read("image-size", m.image_size_px);
  section.read("batch-size", m.batch_size);
  section.read("normalization", m.normalization);
  if (m.normalization.empty()) m.normalization = key == "vit" ? "half" : "imagenet";
  FS_CHECK(m.normalization == "imagenet" || m.normalization == "half",
           "{}.normalization: '{}' is not valid; choose imagenet or half", where, m.normalization);
  FS_CHECK(m.image_size_px >= 16 && m.image_size_px <= 1024,
           "{}.image-size: {} is outside 16..1024", where, m.image_size_px);
  FS_CHECK(m.batch_size >= 1, "{}.batch-size must be >= 1, got {}", where, m.batch_size);
  return m;
}

nlohmann::json settings_json(const CellSettings& s) {
  return {{"threads", s.threads},
          {"workers", s.workers},
          {"ranks", s.ranks},
          {"amp", s.amp},
          {"placement", s.placement}};
}

}  // namespace

CellSettings with_axis_value(const CellSettings& settings, const std::string& axis,
                             const nlohmann::json& value, const std::string& where) {
  nlohmann::json object = settings_json(settings);
  FS_CHECK(object.contains(axis), "{}: unknown axis '{}'; valid axes are {}", where, axis,
           fmt::join(kAxisNames, ", "));
  object[axis] = value;
  return parse_settings(object, where);
}

StudyConfig parse_study_config(const nlohmann::json& object, const std::string& origin) {
  StudyConfig c;
  Section top(object, origin,
              {"name", "data", "models", "train", "device", "baseline", "axes", "axis-models",
               "mode", "python", "cell-timeout-s"});
  top.read("name", c.name);
  FS_CHECK(!c.name.empty() && c.name.find('/') == std::string::npos,
           "{}.name: '{}' must be a non-empty name without '/'", origin, c.name);
  if (const auto* data = top.find("data")) {
    if (data->is_string()) {
      c.data = data->get<std::string>();
    } else {
      Section section(*data, origin + ".data", {"source", "count", "size"});
      section.read("source", c.data);
      section.read("count", c.builtin_count);
      section.read("size", c.builtin_size_px);
    }
    FS_CHECK(c.builtin_count >= 8, "{}.data.count must be >= 8, got {}", origin, c.builtin_count);
    FS_CHECK(c.builtin_size_px >= 32 && c.builtin_size_px <= 2048,
             "{}.data.size: {} is outside 32..2048", origin, c.builtin_size_px);
  }

  const auto* models = top.find("models");
  FS_CHECK(models && models->is_object() && !models->empty(),
           "{}: 'models' must map resnet18 and/or vit to their settings", origin);
  for (const auto& [key, value] : models->items())
    c.models.push_back(parse_model(key, value.is_null() ? nlohmann::json::object() : value,
                                   origin + ".models." + key));

  if (const auto* train = top.find("train")) {
    Section section(*train, origin + ".train",
                    {"epochs", "max-steps", "optimizer", "lr", "seed", "micro-batches"});
    section.read("epochs", c.epochs);
    section.read("max-steps", c.max_steps);
    section.read_choice("optimizer", c.optimizer, {"sgd", "adam", "adamw"});
    section.read("lr", c.lr);
    section.read("seed", c.seed);
    section.read("micro-batches", c.micro_batches);
    FS_CHECK(c.epochs >= 1, "{}.train.epochs must be >= 1", origin);
    FS_CHECK(c.max_steps >= 0, "{}.train.max-steps must be >= 0", origin);
    FS_CHECK(c.lr > 0, "{}.train.lr must be > 0", origin);
    // train's --max-steps counts over the run, the Python original's per epoch: one epoch only.
    FS_CHECK(c.max_steps == 0 || c.epochs == 1,
             "{}.train: max-steps limits a one-epoch study; with epochs {} drop max-steps", origin,
             c.epochs);
  }
  top.read_choice("device", c.device, {"cpu", "cuda"});
  if (const auto* baseline = top.find("baseline"))
    c.baseline = parse_settings(*baseline, origin + ".baseline");

  if (const auto* axes = top.find("axes")) {
    Section section(*axes, origin + ".axes", kAxisNames);
    for (const auto& axis : kAxisNames) {
      const auto* values = section.find(axis);
      if (!values) continue;
      FS_CHECK(values->is_array() && !values->empty(), "{}: expected a list of values, got {}",
               section.path(axis), values->dump());
      std::set<std::string> seen;
      for (const auto& v : *values) {
        const std::string where = section.path(axis);
        with_axis_value(c.baseline, axis, v, where);  // checks the value
        FS_CHECK(seen.insert(v.dump()).second, "{}: {} is listed twice", where, v.dump());
        c.axes[axis].push_back(v);
      }
    }
  }
  if (const auto* axis_models = top.find("axis-models")) {
    Section section(*axis_models, origin + ".axis-models", kAxisNames);
    for (const auto& axis : kAxisNames) {
      const auto* keys = section.find(axis);
      if (!keys) continue;
      FS_CHECK(keys->is_array(), "{}: expected a list of model keys", section.path(axis));
      for (const auto& k : *keys) {
        const bool known = k.is_string() &&
                           std::any_of(c.models.begin(), c.models.end(), [&](const StudyModel& m) {
                             return m.key == k.get<std::string>();
                           });
        FS_CHECK(known, "{}: {} is not one of the study's models", section.path(axis), k.dump());
        c.axis_models[axis].push_back(k.get<std::string>());
      }
    }
  }
  top.read_choice("mode", c.mode, {"one-at-a-time", "product"});
  if (const auto* python = top.find("python")) {
    c.python.clear();
    if (python->is_string()) {
      c.python.push_back(python->get<std::string>());
    } else {
      FS_CHECK(python->is_array(), "{}.python: expected all, baseline, none or a list of axes",
               origin);
      for (const auto& p : *python) c.python.push_back(p.is_string() ? p.get<std::string>() : "");
    }
    for (const auto& p : c.python) {
      const bool valid = p == "all" || p == "baseline" || p == "none" ||
                         std::find(kAxisNames.begin(), kAxisNames.end(), p) != kAxisNames.end();
      FS_CHECK(valid, "{}.python: '{}' is not valid; use all, baseline, none or axis names ({})",
               origin, p, fmt::join(kAxisNames, ", "));
    }
  }
  top.read("cell-timeout-s", c.cell_timeout_s);
  FS_CHECK(c.cell_timeout_s > 0, "{}.cell-timeout-s must be > 0", origin);
  return c;
}

StudyConfig load_study_config(const std::filesystem::path& path) {
  return parse_study_config(read_config_file(path), "study config '" + path.string() + "'");
}

nlohmann::json to_json(const StudyConfig& c) {
  nlohmann::json models = nlohmann::json::object();
  for (const auto& m : c.models)
    models[m.key] = {{"model", m.model},
                     {"split", m.split},
                     {"image-size", m.image_size_px},
                     {"batch-size", m.batch_size},
                     {"normalization", m.normalization}};
  nlohmann::json axes = nlohmann::json::object();
  for (const auto& [axis, values] : c.axes) axes[axis] = values;
  return {{"name", c.name},
          {"data", {{"source", c.data}, {"count", c.builtin_count}, {"size", c.builtin_size_px}}},
          {"models", models},
          {"train",
           {{"epochs", c.epochs},
            {"max-steps", c.max_steps},
            {"optimizer", c.optimizer},
            {"lr", c.lr},
            {"seed", c.seed},
            {"micro-batches", c.micro_batches}}},
          {"device", c.device},
          {"baseline", settings_json(c.baseline)},
          {"axes", axes},
          {"axis-models", c.axis_models},
          {"mode", c.mode},
          {"python", c.python},
          {"cell-timeout-s", c.cell_timeout_s}};
}

}  // namespace forensight::study

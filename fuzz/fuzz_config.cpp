// Config files as `--config` reads them: read_config_file on the same bytes as YAML and as JSON,
// then OptionTable::apply_json into a table with one option of every field type (and a string
// option with choices), which is what turns the parsed document into typed values.
#include <cstdint>
#include <string>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/option_table.h"
#include "fuzz_input_file.h"

namespace {

struct Fields {
  int epochs = 10;
  int64_t seed = 0;
  double lr = 0.1;
  bool amp = false;
  std::string model = "resnet18";
  std::string data;
  std::vector<int> milestones;
  std::vector<double> mean;
};

forensight::OptionTable& table() {
  static Fields f;
  static forensight::OptionTable t(
      "fuzz", {{"epochs", &f.epochs, "epochs"},
               {"seed", &f.seed, "seed"},
               {"lr", &f.lr, "learning rate"},
               {"amp", &f.amp, "mixed precision"},
               {"model", &f.model, "preset", {"resnet18", "resnet50", "vit-b16"}},
               {"data", &f.data, "dataset"},
               {"lr-milestones", &f.milestones, "epochs"},
               {"normalize-mean", &f.mean, "per channel"}});
  return t;
}

void read_and_apply(const std::string& path) {
  try {
    nlohmann::json config = forensight::read_config_file(path);
    table().apply_json(config, "config file");
    (void)table().to_json().dump();
  } catch (const forensight::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile yaml("config.yaml");
  static forensight::fuzz::InputFile json("config.json");
  read_and_apply(yaml.write(data, size));
  read_and_apply(json.write(data, size));
  return 0;
}

#include "forensight/eval/split_choice.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "forensight/core/error.h"
#include "forensight/data/split.h"

namespace forensight::eval {
namespace {

std::string find_split_file(const SplitChoice& choice, const std::string& checkpoint_path) {
  if (!choice.split_file.empty()) return choice.split_file;
  const auto run_dir = std::filesystem::path(checkpoint_path).parent_path().parent_path();
  const auto candidate = run_dir / "split.json";
  return std::filesystem::exists(candidate) ? candidate.string() : std::string();
}

}  // namespace

std::vector<int64_t> choose_split(const SplitChoice& choice, const std::string& checkpoint_path,
                                  const data::Dataset& dataset) {
  FS_CHECK(choice.split == "auto" || choice.split == "test" || choice.split == "val" ||
               choice.split == "train" || choice.split == "all",
           "unknown split '{}': valid splits are auto, test, val, train, all", choice.split);
  if (choice.split == "all") return {};
  const std::string split_file = find_split_file(choice, checkpoint_path);
  if (split_file.empty()) {
    FS_CHECK(choice.split == "auto",
             "--split {} needs a split file: pass --split-file RUN_DIR/split.json, or --split all",
             choice.split);
    spdlog::info("no split file found next to the checkpoint: using all {} images", dataset.size());
    return {};
  }
  const data::Split split = data::load_split(split_file, dataset);
  const std::string which = choice.split == "auto" ? "test" : choice.split;
  spdlog::info("using the {} split of {} ({})", which, split_file, dataset.root);
  const auto& indices = which == "test"  ? split.test()
                        : which == "val" ? split.val()
                                         : split.train();
  FS_CHECK(!indices.empty(), "the {} split in '{}' is empty", which, split_file);
  return indices;
}

}  // namespace forensight::eval

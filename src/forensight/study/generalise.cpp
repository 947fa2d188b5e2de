// The runs share one process: they are measured for accuracy, not speed, so a fresh process per
// run (as the study's cells need for their timings) would buy nothing but start-up time.
#include "forensight/study/generalise.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "forensight/core/error.h"
#include "forensight/data/dataset.h"
#include "forensight/data/hold_out.h"
#include "forensight/train/run_dir.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/trainer.h"

namespace forensight::study {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  FS_CHECK(in.good(), "cannot read '{}'", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("'{}' is not valid JSON: {}", path.string(), e.what());
  }
}

// A finished run's report names the family it held out; a report without it is another run's.
bool finished(const std::filesystem::path& report, const std::string& family) {
  if (!std::filesystem::exists(report)) return false;
  const nlohmann::json j = read_json(report);
  return j.contains("held_out") && j["held_out"].value("source", "") == family;
}

}  // namespace

std::string hold_out_run_dir(const std::string& out_dir, const std::string& family) {
  std::string safe = family;
  for (char& c : safe)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return (std::filesystem::path(out_dir) / ("hold-out-" + safe)).string();
}

GeneraliseResult run_generalise(const GeneraliseOptions& options) {
  FS_CHECK(!options.train.data_path.empty(),
           "no data given: pass --data PATH (a CSV manifest "
           "with a `source` column naming each image's family)");
  FS_CHECK(!options.train.out_dir.empty(), "no study folder given: pass --out DIR");
  FS_CHECK(options.train.hold_out_source.empty(),
           "--hold-out-source '{}' is set by generalise for each run; leave it out (use "
           "--families to choose which families to hold out)",
           options.train.hold_out_source);

  const data::Dataset dataset = data::load_dataset(options.train.data_path);
  const std::vector<std::string> generators = data::generator_sources(dataset);
  const std::vector<std::string> sources = data::dataset_sources(dataset);
  FS_CHECK(generators.size() >= 2,
           "'{}' has {} generator families (sources whose images are all AI-generated; sources "
           "found: {}): leave-one-family-out needs at least two, so that a run still trains on one",
           options.train.data_path, generators.size(),
           sources.empty() ? std::string("none") : fmt::format("{}", fmt::join(sources, ", ")));
  std::vector<std::string> families = options.families.empty() ? generators : options.families;
  for (const std::string& f : families)
    FS_CHECK(std::find(generators.begin(), generators.end(), f) != generators.end(),
             "--families names '{}', which is not a generator family of '{}': the families are {}",
             f, options.train.data_path, fmt::join(generators, ", "));

  std::filesystem::create_directories(options.train.out_dir);
  GeneraliseResult result;
  std::vector<nlohmann::json> reports;
  for (size_t k = 0; k < families.size(); ++k) {
    const std::string& family = families[k];
    train::TrainOptions run = options.train;
    run.hold_out_source = family;
    run.out_dir = hold_out_run_dir(options.train.out_dir, family);
    result.run_dirs.push_back(run.out_dir);
    const train::RunDir dir(run.out_dir);
    if (finished(dir.report_json_path(), family)) {
      spdlog::info("generalise: {} held out ({}/{}): finished before, report kept", family, k + 1,
                   families.size());
    } else {
      const bool resume = std::filesystem::exists(dir.checkpoint_path("last"));
      spdlog::info("generalise: {} held out ({}/{}){}", family, k + 1, families.size(),
                   resume ? ", resuming" : "");
      train::train(run, train::train_options_to_json(run), resume);
    }
    reports.push_back(read_json(dir.report_json_path()));
  }
  result.matrix = matrix_from_reports(families, reports);
  write_matrix(result.matrix, options.train.out_dir);
  return result;
}

}  // namespace forensight::study

// The leave-one-family-out matrix (UnivFD, Ojha et al., CVPR 2023; issue #17): one row per
// training run that held one generator family out, one column per family tested, each cell that
// family's test fakes judged together with the run's real test images (accuracy, ROC-AUC, AP).
// The cell where row and column name the same family is the honest figure: a generator the model
// never saw. Built from the runs' report.json files, written as CSV, Markdown and JSON.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace forensight::study {

struct MatrixCell {
  std::string held_out;     // the family the run never saw (the row)
  std::string test_family;  // the family tested (the column)
  int64_t fake_images = 0;  // the family's test images
  int64_t real_images = 0;  // the run's real test images they are judged with
  double accuracy = 0;      // at threshold 0.5, over both; NaN when undefined
  double roc_auc = 0;
  double average_precision = 0;

  bool unseen() const { return held_out == test_family; }
};

struct GeneralisationMatrix {
  std::vector<std::string> families;  // rows and columns, in this order
  std::vector<MatrixCell> cells;      // row-major; a family a run's test split lacks has no cell
};

// One run per held-out family: `reports[i]` is the report.json of the run that held out
// `held_out[i]` (its metrics.sources rows: accuracy_vs_real, roc_auc_vs_real,
// average_precision_vs_real). Throws Error naming the run whose report lacks its held-out family.
GeneralisationMatrix matrix_from_reports(const std::vector<std::string>& held_out,
                                         const std::vector<nlohmann::json>& reports);

// Held-out (unseen) cells: mean and worst accuracy, and which family is worst; seen cells: mean
// accuracy (in distribution).
struct MatrixSummary {
  double unseen_accuracy_mean = 0;
  double unseen_accuracy_worst = 0;
  std::string worst_family;
  double seen_accuracy_mean = 0;  // NaN when there are no seen cells (a single family)
};
MatrixSummary summarize(const GeneralisationMatrix& matrix);

std::string to_csv(const GeneralisationMatrix& matrix);
std::string to_markdown(const GeneralisationMatrix& matrix);
nlohmann::json to_json(const GeneralisationMatrix& matrix);

// `folder`/matrix.csv, matrix.md and matrix.json, each written atomically.
void write_matrix(const GeneralisationMatrix& matrix, const std::filesystem::path& folder);

}  // namespace forensight::study

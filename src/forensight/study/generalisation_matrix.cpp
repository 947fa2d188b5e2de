// The matrix reads only what every run's final report already holds (its per-source rows), so it
// can be rebuilt from finished run folders without running anything again.
#include "forensight/study/generalisation_matrix.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "forensight/core/atomic_file.h"
#include "forensight/core/error.h"

namespace forensight::study {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number(const nlohmann::json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : kNaN;
}

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

std::string cell_text(double value) {
  return std::isfinite(value) ? fmt::format("{:.4f}", value) : std::string("n/a");
}

std::string csv_number(double value) {
  return std::isfinite(value) ? fmt::format("{:.6f}", value) : std::string();
}

// Names come from a CSV column: quote them when they hold what CSV or Markdown would misread.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string md_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

const MatrixCell* find_cell(const GeneralisationMatrix& m, const std::string& row,
                            const std::string& column) {
  for (const MatrixCell& c : m.cells)
    if (c.held_out == row && c.test_family == column) return &c;
  return nullptr;
}

}  // namespace

GeneralisationMatrix matrix_from_reports(const std::vector<std::string>& held_out,
                                         const std::vector<nlohmann::json>& reports) {
  FS_CHECK(held_out.size() == reports.size(), "{} held-out families but {} reports",
           held_out.size(), reports.size());
  GeneralisationMatrix m;
  m.families = held_out;
  for (size_t r = 0; r < held_out.size(); ++r) {
    std::map<std::string, const nlohmann::json*> rows;
    const nlohmann::json& sources = reports[r].at("metrics").at("sources");
    for (const nlohmann::json& row : sources) rows[row.at("source").get<std::string>()] = &row;
    FS_CHECK(rows.count(held_out[r]),
             "the report of the run that held out '{}' has no row for it: was it trained with "
             "--hold-out-source {}?",
             held_out[r], held_out[r]);
    for (const std::string& family : held_out) {
      const auto it = rows.find(family);
      if (it == rows.end()) continue;
      const nlohmann::json& row = *it->second;
      MatrixCell cell;
      cell.held_out = held_out[r];
      cell.test_family = family;
      cell.fake_images = row.value("count_fake", int64_t{0});
      cell.real_images = reports[r].at("metrics").value("count_real", int64_t{0});
      cell.accuracy = number(row, "accuracy_vs_real");
      cell.roc_auc = number(row, "roc_auc_vs_real");
      cell.average_precision = number(row, "average_precision_vs_real");
      m.cells.push_back(cell);
    }
  }
  return m;
}

MatrixSummary summarize(const GeneralisationMatrix& matrix) {
  MatrixSummary s;
  double unseen_sum = 0, seen_sum = 0;
  int unseen = 0, seen = 0;
  s.unseen_accuracy_worst = kNaN;
  for (const MatrixCell& c : matrix.cells) {
    if (!std::isfinite(c.accuracy)) continue;
    if (c.unseen()) {
      unseen_sum += c.accuracy;
      ++unseen;
      if (!(c.accuracy >= s.unseen_accuracy_worst)) {  // NaN (none yet) or lower
        s.unseen_accuracy_worst = c.accuracy;
        s.worst_family = c.test_family;
      }
    } else {
      seen_sum += c.accuracy;
      ++seen;
    }
  }
  s.unseen_accuracy_mean = unseen ? unseen_sum / unseen : kNaN;
  s.seen_accuracy_mean = seen ? seen_sum / seen : kNaN;
  return s;
}

std::string to_csv(const GeneralisationMatrix& matrix) {
  std::string csv =
      "held_out,test_family,unseen,fake_images,real_images,accuracy,roc_auc,average_precision\n";
  for (const MatrixCell& c : matrix.cells)
    csv += fmt::format("{},{},{},{},{},{},{},{}\n", csv_field(c.held_out), csv_field(c.test_family),
                       c.unseen() ? 1 : 0, c.fake_images, c.real_images, csv_number(c.accuracy),
                       csv_number(c.roc_auc), csv_number(c.average_precision));
  return csv;
}

std::string to_markdown(const GeneralisationMatrix& matrix) {
  const MatrixSummary s = summarize(matrix);
  std::string md = "# Leave-one-family-out\n\n";
  md += fmt::format(
      "Each row is one training run on every family but one; each column a family's test images "
      "with the run's real test images. **Bold**: the family that run never saw.\n\n"
      "- Unseen family: mean accuracy {}, worst {} ({})\n- Seen families (in distribution): mean "
      "accuracy {}\n",
      cell_text(s.unseen_accuracy_mean), cell_text(s.unseen_accuracy_worst),
      s.worst_family.empty() ? "n/a" : md_escaped(s.worst_family), cell_text(s.seen_accuracy_mean));
  const std::pair<const char*, double MatrixCell::*> metrics[] = {
      {"Accuracy", &MatrixCell::accuracy},
      {"ROC-AUC", &MatrixCell::roc_auc},
      {"Average precision", &MatrixCell::average_precision}};
  for (const auto& [title, field] : metrics) {
    md += fmt::format("\n## {}\n\n| Trained without (row) / tested on (column) |", title);
    for (const std::string& f : matrix.families) md += fmt::format(" {} |", md_escaped(f));
    md += "\n|---|";
    for (size_t k = 0; k < matrix.families.size(); ++k) md += "---:|";
    md += "\n";
    for (const std::string& row : matrix.families) {
      md += fmt::format("| {} |", md_escaped(row));
      for (const std::string& column : matrix.families) {
        const MatrixCell* c = find_cell(matrix, row, column);
        const std::string text = c ? cell_text(c->*field) : std::string("-");
        md += row == column && c ? fmt::format(" **{}** |", text) : fmt::format(" {} |", text);
      }
      md += "\n";
    }
  }
  return md;
}

nlohmann::json to_json(const GeneralisationMatrix& matrix) {
  const MatrixSummary s = summarize(matrix);
  nlohmann::json cells = nlohmann::json::array();
  for (const MatrixCell& c : matrix.cells)
    cells.push_back({{"held_out", c.held_out},
                     {"test_family", c.test_family},
                     {"unseen", c.unseen()},
                     {"fake_images", c.fake_images},
                     {"real_images", c.real_images},
                     {"accuracy", number_or_null(c.accuracy)},
                     {"roc_auc", number_or_null(c.roc_auc)},
                     {"average_precision", number_or_null(c.average_precision)}});
  return {{"families", matrix.families},
          {"cells", cells},
          {"summary",
           {{"unseen_accuracy_mean", number_or_null(s.unseen_accuracy_mean)},
            {"unseen_accuracy_worst", number_or_null(s.unseen_accuracy_worst)},
            {"worst_family", s.worst_family},
            {"seen_accuracy_mean", number_or_null(s.seen_accuracy_mean)}}}};
}

void write_matrix(const GeneralisationMatrix& matrix, const std::filesystem::path& folder) {
  write_file_atomic(folder / "matrix.csv", to_csv(matrix));
  write_file_atomic(folder / "matrix.md", to_markdown(matrix));
  write_file_atomic(folder / "matrix.json", to_json(matrix).dump(2) + "\n");
}

}  // namespace forensight::study

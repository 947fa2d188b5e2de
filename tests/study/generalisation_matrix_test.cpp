// study/generalisation_matrix: the matrix built from the runs' reports, its summary (unseen
// against seen families), and its CSV, Markdown and JSON files.
#include "forensight/study/generalisation_matrix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "../support/tiny_dataset.h"
#include "forensight/core/error.h"

namespace forensight::study {
namespace {

// A run's report.json as the trainer writes it: the per-source rows of its test split.
nlohmann::json report(double tconv_accuracy, double upsample_accuracy) {
  auto row = [](const std::string& source, double accuracy) {
    return nlohmann::json{{"source", source},
                          {"count_fake", 10},
                          {"accuracy_vs_real", accuracy},
                          {"roc_auc_vs_real", accuracy + 0.01},
                          {"average_precision_vs_real", nullptr}};
  };
  return {{"metrics",
           {{"count_real", 20},
            {"sources",
             {{{"source", "photos"}, {"count_fake", 0}, {"accuracy_vs_real", nullptr}},
              row("tconv", tconv_accuracy),
              row("upsample", upsample_accuracy)}}}}};
}

GeneralisationMatrix two_families() {
  // Held out tconv: 0.55 on it, 0.98 on upsample; held out upsample: 0.97 on tconv, 0.70 on it.
  return matrix_from_reports({"tconv", "upsample"}, {report(0.55, 0.98), report(0.97, 0.70)});
}

TEST(GeneralisationMatrixTest, CellsComeFromEachRunsPerSourceRows) {
  const GeneralisationMatrix m = two_families();
  ASSERT_EQ(m.cells.size(), 4u);
  EXPECT_EQ(m.cells[0].held_out, "tconv");
  EXPECT_EQ(m.cells[0].test_family, "tconv");
  EXPECT_TRUE(m.cells[0].unseen());
  EXPECT_DOUBLE_EQ(m.cells[0].accuracy, 0.55);
  EXPECT_DOUBLE_EQ(m.cells[0].roc_auc, 0.56);
  EXPECT_TRUE(std::isnan(m.cells[0].average_precision));  // null in the report
  EXPECT_EQ(m.cells[0].fake_images, 10);
  EXPECT_EQ(m.cells[0].real_images, 20);
  EXPECT_FALSE(m.cells[1].unseen());
  EXPECT_DOUBLE_EQ(m.cells[3].accuracy, 0.70);

  const MatrixSummary s = summarize(m);
  EXPECT_DOUBLE_EQ(s.unseen_accuracy_mean, (0.55 + 0.70) / 2);
  EXPECT_DOUBLE_EQ(s.unseen_accuracy_worst, 0.55);
  EXPECT_EQ(s.worst_family, "tconv");
  EXPECT_DOUBLE_EQ(s.seen_accuracy_mean, (0.98 + 0.97) / 2);
}

TEST(GeneralisationMatrixTest, ReportWithoutItsHeldOutFamilyIsRefused) {
  nlohmann::json other = report(0.5, 0.5);
  other["metrics"]["sources"].erase(1);  // no tconv row
  try {
    matrix_from_reports({"tconv"}, {other});
    FAIL() << "accepted a report without the held-out family";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--hold-out-source tconv"), std::string::npos) << e.what();
  }
}

TEST(GeneralisationMatrixTest, WritesCsvMarkdownAndJson) {
  const std::string dir = testing::make_test_dir();
  write_matrix(two_families(), dir);
  std::stringstream csv, md;
  csv << std::ifstream(dir + "/matrix.csv").rdbuf();
  md << std::ifstream(dir + "/matrix.md").rdbuf();
  EXPECT_EQ(csv.str(),
            "held_out,test_family,unseen,fake_images,real_images,accuracy,roc_auc,average_"
            "precision\n"
            "tconv,tconv,1,10,20,0.550000,0.560000,\n"
            "tconv,upsample,0,10,20,0.980000,0.990000,\n"
            "upsample,tconv,0,10,20,0.970000,0.980000,\n"
            "upsample,upsample,1,10,20,0.700000,0.710000,\n");
  EXPECT_NE(md.str().find("| Trained without (row) / tested on (column) | tconv | upsample |"),
            std::string::npos)
      << md.str();
  EXPECT_NE(md.str().find("| tconv | **0.5500** | 0.9800 |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("mean accuracy 0.6250, worst 0.5500 (tconv)"), std::string::npos)
      << md.str();
  std::ifstream json_file(dir + "/matrix.json");
  const nlohmann::json j = nlohmann::json::parse(json_file);
  EXPECT_EQ(j["cells"].size(), 4u);
  EXPECT_DOUBLE_EQ(j["summary"]["seen_accuracy_mean"].get<double>(), 0.975);
}

}  // namespace
}  // namespace forensight::study

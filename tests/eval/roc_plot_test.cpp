// eval/roc_plot: the PNG is valid (signature, IHDR of the requested size, decodable by libpng) and
// bad requests are refused. Set FORENSIGHT_KEEP_PLOT=path to keep a sample for looking at.
#include "forensight/eval/roc_plot.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "forensight/core/error.h"

namespace forensight::eval {
namespace {

// Scores whose separation grows with `signal`, for curves that look like detectors'.
Metrics synthetic_metrics(double signal, uint32_t seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> scores;
  std::vector<int> labels;
  for (int i = 0; i < 400; ++i) {
    int label = i % 2;
    double logit = (label == 1 ? signal : -signal) + noise(engine);
    scores.push_back(1.0 / (1.0 + std::exp(-logit)));
    labels.push_back(label);
  }
  return compute_metrics(scores, labels);
}

uint32_t big_endian_u32(const std::string& bytes, size_t offset) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 3]));
}

TEST(RocPlotTest, WritesValidPngOfRequestedSize) {
  std::vector<RocPlotCurve> curves = {roc_plot_curve("clean", synthetic_metrics(1.5, 1)),
                                      roc_plot_curve("jpeg q=50", synthetic_metrics(0.8, 2)),
                                      roc_plot_curve("blur sigma=2", synthetic_metrics(0.3, 3))};
  const char* keep = std::getenv("FORENSIGHT_KEEP_PLOT");
  auto path = keep ? std::filesystem::path(keep)
                   : std::filesystem::temp_directory_path() /
                         ("forensight_roc_" + std::to_string(::getpid()) + ".png");
  write_roc_plot_png(path, curves, {.width_px = 900, .height_px = 700, .title = "Detector ROC"});

  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian_u32(bytes, 16), 900u);
  EXPECT_EQ(big_endian_u32(bytes, 20), 700u);

  // libpng decodes the whole image, and the plot is not blank: several colours are drawn.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
      << image.message;
  image.format = PNG_FORMAT_RGB;
  std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) << image.message;
  size_t white = 0, coloured = 0;
  for (size_t i = 0; i + 2 < pixels.size(); i += 3) {
    unsigned char r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
    if (r == 255 && g == 255 && b == 255) ++white;
    if (std::abs(r - g) > 60 || std::abs(g - b) > 60) ++coloured;  // the curves, not grey axes
  }
  EXPECT_GT(white, pixels.size() / 3 / 2);  // mostly background
  EXPECT_GT(coloured, 1000u);
  if (!keep) std::filesystem::remove(path);
}

TEST(RocPlotTest, UndefinedCurveIsDrawnWithoutAuc) {
  std::vector<double> scores = {0.2, 0.9};
  std::vector<int> labels = {1, 1};
  std::vector<RocPlotCurve> curves = {roc_plot_curve("one class", compute_metrics(scores, labels))};
  std::string png = render_roc_plot_png(curves, {.width_px = 300, .height_px = 300});
  EXPECT_EQ(big_endian_u32(png, 16), 300u);
}

TEST(RocPlotTest, RefusesNoCurvesAndBadSizes) {
  EXPECT_THROW(render_roc_plot_png({}), Error);
  std::vector<RocPlotCurve> curves = {roc_plot_curve("clean", synthetic_metrics(1.0, 4))};
  EXPECT_THROW(render_roc_plot_png(curves, {.width_px = 10}), Error);
  EXPECT_THROW(render_roc_plot_png(curves, {.height_px = 100000}), Error);
}

}  // namespace
}  // namespace forensight::eval

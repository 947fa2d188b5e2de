// serve/pdf_report: the report renders to a PDF whose text (read back with poppler's pdftotext)
// holds every file name and verdict, spans pages when long, keeps a row whose thumbnail cannot be
// decoded, and refuses bodies it cannot draw with a message naming the field.
#include "forensight/serve/pdf_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../support/error_of.h"
#include "../support/tiny_dataset.h"
#include "forensight/data/jpeg_encoder.h"

namespace forensight::serve {
namespace {

using Json = nlohmann::json;

std::string base64(const std::vector<uint8_t>& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = uint32_t{bytes[i]} << 16;
    if (i + 1 < bytes.size()) chunk |= uint32_t{bytes[i + 1]} << 8;
    if (i + 2 < bytes.size()) chunk |= bytes[i + 2];
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

// A 24x16 JPEG of a colour gradient as a data URL, as the web app sends thumbnails.
std::string jpeg_thumbnail() {
  data::Image image{24, 16, std::vector<uint8_t>(24 * 16 * 3)};
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x) {
      uint8_t* p = image.row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 10), p[1] = static_cast<uint8_t>(y * 15), p[2] = 128;
    }
  return "data:image/jpeg;base64," + base64(data::encode_jpeg(image));
}

Json analysis(const std::string& file_name, bool ai, double p_ai) {
  return {{"file_name", file_name},
          {"label", ai ? "ai-generated" : "real"},
          {"p_ai", p_ai},
          {"total_ms", 12.5},
          {"timestamp", "2025-01-02 03:04:05"},
          {"results",
           {{{"model", "resnet18"}, {"precision", "int8"}, {"p_ai", p_ai}, {"compute_ms", 3.25}},
            {{"model", "vit"}, {"precision", "fp32"}, {"p_ai", p_ai}, {"compute_ms", 9.0}}}}};
}

bool have_pdftotext() {
  return std::system("command -v pdftotext >/dev/null 2>&1") == 0;
}

// The PDF's text, through pdftotext.
std::string pdf_text(const std::string& pdf) {
  const std::string dir = testing::make_test_dir();
  std::ofstream(dir + "/report.pdf", std::ios::binary) << pdf;
  std::string text;
  const int status = testing::run_command("pdftotext " + dir + "/report.pdf -", &text);
  EXPECT_EQ(status, 0) << text;
  return text;
}

int page_count(const std::string& text) {
  // pdftotext ends each page with a form feed.
  return static_cast<int>(std::count(text.begin(), text.end(), '\f'));
}

TEST(ServePdfReport, HoldsFileNamesVerdictsAndSummary) {
  Json report = {{"title", "Test report"}, {"generated_at", "2025-01-02 03:04"}};
  report["analyses"].push_back(analysis("sunset_real.jpg", false, 0.125));
  report["analyses"].push_back(analysis("robot_fake.png", true, 0.875));
  report["analyses"][0]["thumbnail"] = jpeg_thumbnail();
  report["analyses"][1]["thumbnail"] = jpeg_thumbnail();
  const std::string pdf = render_pdf_report(report);
  ASSERT_TRUE(pdf.starts_with("%PDF-")) << pdf.substr(0, 20);
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  const std::string text = pdf_text(pdf);
  for (const char* needle :
       {"Test report", "sunset_real.jpg", "robot_fake.png", "Real", "AI-generated", "0.125",
        "0.875", "Images analysed: 2", "AI-generated: 1", "resnet18 (int8)", "vit (fp32)", "12.5"})
    EXPECT_NE(text.find(needle), std::string::npos) << "no '" << needle << "' in:\n" << text;
  EXPECT_EQ(text.find("Thumbnails left out"), std::string::npos) << text;
}

TEST(ServePdfReport, LongReportsBreakPagesAndKeepEveryRow) {
  Json report;
  for (int i = 0; i < 120; ++i)
    report["analyses"].push_back(analysis("image_" + std::to_string(i) + ".jpg", i % 3 == 0, 0.5));
  const std::string pdf = render_pdf_report(report);
  ASSERT_TRUE(pdf.starts_with("%PDF-"));
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  const std::string text = pdf_text(pdf);
  EXPECT_GE(page_count(text), 3) << text;
  EXPECT_NE(text.find("image_0.jpg"), std::string::npos);
  EXPECT_NE(text.find("image_119.jpg"), std::string::npos);
  EXPECT_NE(text.find("page 3"), std::string::npos);
}

TEST(ServePdfReport, UndecodableThumbnailDropsOnlyTheThumbnail) {
  Json report;
  report["analyses"].push_back(analysis("broken_thumb.jpg", true, 0.9));
  report["analyses"][0]["thumbnail"] = "data:image/jpeg;base64,bm90IGEganBlZw==";
  report["analyses"].push_back(analysis("odd_thumb.jpg", false, 0.1));
  report["analyses"][1]["thumbnail"] = "https://example.com/x.png";
  const std::string pdf = render_pdf_report(report);
  ASSERT_TRUE(pdf.starts_with("%PDF-"));
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  const std::string text = pdf_text(pdf);
  EXPECT_NE(text.find("broken_thumb.jpg"), std::string::npos) << text;
  EXPECT_NE(text.find("odd_thumb.jpg"), std::string::npos) << text;
  EXPECT_NE(text.find("Thumbnails left out: 2"), std::string::npos) << text;
}

TEST(ServePdfReport, RefusesBadBodiesNamingTheField) {
  using testing::error_of;
  EXPECT_NE(error_of([] { render_pdf_report(Json::array()); }).find("JSON object"),
            std::string::npos);
  EXPECT_NE(error_of([] { render_pdf_report(Json::object()); }).find("analyses"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              render_pdf_report({{"analyses", Json::array()}});
            }).find("empty"),
            std::string::npos);

  Json no_name = {{"analyses", {analysis("a.jpg", true, 0.5)}}};
  no_name["analyses"][0].erase("file_name");
  EXPECT_NE(error_of([&] { render_pdf_report(no_name); }).find("analyses[0].file_name"),
            std::string::npos);

  Json bad_label = {{"analyses", {analysis("a.jpg", true, 0.5)}}};
  bad_label["analyses"][0]["label"] = "fake";
  EXPECT_NE(error_of([&] { render_pdf_report(bad_label); }).find("\"ai-generated\""),
            std::string::npos);

  Json bad_p = {{"analyses", {analysis("a.jpg", true, 0.5)}}};
  bad_p["analyses"][0]["p_ai"] = 1.5;
  EXPECT_NE(error_of([&] { render_pdf_report(bad_p); }).find("[0, 1]"), std::string::npos);

  Json bad_model = {{"analyses", {analysis("a.jpg", true, 0.5)}}};
  bad_model["analyses"][0]["results"][1]["model"] = 7;
  EXPECT_NE(error_of([&] { render_pdf_report(bad_model); }).find("results[1].model"),
            std::string::npos);

  Json many;
  for (int i = 0; i < 6; ++i) many["analyses"].push_back(analysis("a.jpg", true, 0.5));
  EXPECT_NE(error_of([&] { render_pdf_report(many, {.max_analyses = 5}); }).find("at most 5"),
            std::string::npos);
}

TEST(ServePdfReport, LongAndNonAsciiFileNamesFit) {
  Json report;
  report["analyses"].push_back(analysis(std::string(300, 'x') + ".jpg", true, 0.7));
  report["analyses"].push_back(analysis("photo_\u00e9t\u00e9_\u65e5\u672c.jpg", false, 0.2));
  std::string accents;
  for (int i = 0; i < 2000; ++i) accents += "\u00e9";
  report["analyses"].push_back(analysis(accents, false, 0.3));
  const std::string pdf = render_pdf_report(report);
  ASSERT_TRUE(pdf.starts_with("%PDF-"));
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  const std::string text = pdf_text(pdf);
  EXPECT_NE(text.find("xxxxxxxx\u2026"), std::string::npos) << text;
  EXPECT_NE(text.find("photo_\u00e9t\u00e9"), std::string::npos) << text;
  EXPECT_NE(text.find("\u00e9\u00e9\u2026"), std::string::npos) << text;  // cut between characters
}

}  // namespace
}  // namespace forensight::serve

#include "forensight/serve/pdf_report.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/data/image_decoder.h"

namespace forensight::serve {
namespace {

using Json = nlohmann::json;
using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

// ---- The report's content, checked ------------------------------------------------------------

struct ModelResult {
  std::string model;
  std::string precision;       // "" when not sent
  std::optional<double> p_ai;  // [0, 1]
  std::optional<double> compute_ms;
};

struct Row {
  std::string file_name;
  bool ai_generated = false;
  double p_ai = 0;  // [0, 1]
  std::optional<double> total_ms;
  std::string timestamp;
  std::vector<ModelResult> results;
  std::optional<data::Image> thumbnail;  // (H, W, 3) uint8, decoded from the data URL
};

const Json* optional_field(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const Json& object, const char* key, const std::string& where,
                         bool required) {
  const Json* value = optional_field(object, key);
  if (!value) {
    if (required) fail("report: {}.{} is missing (expected a string)", where, key);
    return "";
  }
  if (!value->is_string())
    fail("report: {}.{} must be a string, got {}", where, key, value->dump());
  return value->get<std::string>();
}

std::optional<double> number_field(const Json& object, const char* key, const std::string& where,
                                   bool required, double min, double max) {
  const Json* value = optional_field(object, key);
  if (!value) {
    if (required) fail("report: {}.{} is missing (expected a number)", where, key);
    return std::nullopt;
  }
  if (!value->is_number())
    fail("report: {}.{} must be a number, got {}", where, key, value->dump());
  const double number = value->get<double>();
  if (!(number >= min && number <= max))
    fail("report: {}.{} must be in [{}, {}], got {}", where, key, min, max, number);
  return number;
}

bool parse_label(const std::string& label, const std::string& where) {
  if (label == "ai-generated") return true;
  if (label == "real") return false;
  fail("report: {}.label must be \"real\" or \"ai-generated\", got \"{}\"", where, label);
}

std::optional<std::vector<uint8_t>> decode_base64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    const int value = value_of(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> bit_count));
    }
  }
  return out;
}

// A "data:image/...;base64,..." thumbnail decoded, or nullopt when it is not one we can draw.
std::optional<data::Image> decode_thumbnail(const std::string& url, const PdfReportLimits& limits) {
  constexpr std::string_view kPrefix = "data:image/";
  constexpr std::string_view kBase64 = ";base64,";
  if (url.size() > limits.max_thumbnail_bytes || !url.starts_with(kPrefix)) return std::nullopt;
  const auto comma = url.find(kBase64);
  if (comma == std::string::npos) return std::nullopt;
  const auto bytes = decode_base64(std::string_view(url).substr(comma + kBase64.size()));
  if (!bytes || bytes->empty()) return std::nullopt;
  const int64_t side = limits.max_thumbnail_side_px;
  try {
    const auto info = data::read_image_info(*bytes);
    if (info.width > side || info.height > side) return std::nullopt;
    return data::decode_image(*bytes, {.max_pixels = side * side});
  } catch (const Error&) {
    return std::nullopt;
  }
}

struct Report {
  std::string title = "Forensight analysis report";
  std::string generated_at;
  std::vector<Row> rows;
  std::size_t thumbnails_skipped = 0;  // sent but not decodable, or over the limits
};

Report parse_report(const Json& body, const PdfReportLimits& limits) {
  if (!body.is_object())
    fail("report: the body must be a JSON object {{\"analyses\": [...]}}, got {}",
         body.type_name());
  Report report;
  if (auto title = string_field(body, "title", "body", false); !title.empty()) report.title = title;
  report.generated_at = string_field(body, "generated_at", "body", false);
  const Json* analyses = optional_field(body, "analyses");
  if (!analyses || !analyses->is_array())
    fail("report: \"analyses\" must be a list of analyses, got {}",
         analyses ? analyses->type_name() : "nothing");
  if (analyses->empty()) fail("report: \"analyses\" is empty: analyse an image first");
  if (analyses->size() > limits.max_analyses)
    fail("report: {} analyses is too many for one report (at most {}); export fewer",
         analyses->size(), limits.max_analyses);

  std::size_t thumbnails_drawn = 0;
  for (std::size_t i = 0; i < analyses->size(); ++i) {
    const Json& item = (*analyses)[i];
    const std::string where = fmt::format("analyses[{}]", i);
    if (!item.is_object()) fail("report: {} must be an object, got {}", where, item.type_name());
    Row row;
    row.file_name = string_field(item, "file_name", where, true);
    row.ai_generated = parse_label(string_field(item, "label", where, true), where);
    row.p_ai = *number_field(item, "p_ai", where, true, 0, 1);
    row.total_ms = number_field(item, "total_ms", where, false, 0, 1e9);
    row.timestamp = string_field(item, "timestamp", where, false);
    if (const Json* results = optional_field(item, "results")) {
      if (!results->is_array())
        fail("report: {}.results must be a list, got {}", where, results->type_name());
      for (std::size_t m = 0; m < results->size(); ++m) {
        const Json& result = (*results)[m];
        const std::string at = fmt::format("{}.results[{}]", where, m);
        if (!result.is_object()) fail("report: {} must be an object", at);
        row.results.push_back({string_field(result, "model", at, true),
                               string_field(result, "precision", at, false),
                               number_field(result, "p_ai", at, false, 0, 1),
                               number_field(result, "compute_ms", at, false, 0, 1e9)});
      }
    }
    if (const Json* thumbnail = optional_field(item, "thumbnail")) {
      if (thumbnail->is_string() && thumbnails_drawn < limits.max_thumbnails)
        row.thumbnail = decode_thumbnail(thumbnail->get<std::string>(), limits);
      if (row.thumbnail)
        ++thumbnails_drawn;
      else
        ++report.thumbnails_skipped;
    }
    report.rows.push_back(std::move(row));
  }
  return report;
}

// ---- Drawing ------------------------------------------------------------------------------------

// A4 in points, and the table's columns (x from the left margin).
constexpr double kPageWidth = 595.28;
constexpr double kPageHeight = 841.89;
constexpr double kMargin = 40;
constexpr double kContentWidth = kPageWidth - 2 * kMargin;
constexpr double kThumbSide = 40;
constexpr double kColFile = 48, kColModels = 190, kColVerdict = 362, kColPAi = 468;
constexpr double kColMs = kContentWidth;  // right-aligned
constexpr double kLine = 11;              // table line height

void check_cairo(cairo_status_t status, const char* what) {
  FS_CHECK(status == CAIRO_STATUS_SUCCESS, "cairo failed while {}: {}", what,
           cairo_status_to_string(status));
}

void set_font(cairo_t* cr, double size_pt, bool bold = false) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size_pt);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

// `text` cut at a UTF-8 character boundary, with an ellipsis, to fit `max_width`.
std::string fit(cairo_t* cr, const std::string& text, double max_width) {
  constexpr std::size_t kMaxBytes = 256;  // no column holds more: bounds the measuring below
  if (text.size() <= kMaxBytes && text_width(cr, text) <= max_width) return text;
  std::string cut = text.substr(0, kMaxBytes + 1);
  while (!cut.empty()) {
    // Drop the last character whole: its continuation bytes, then its first byte.
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.pop_back();
    if (!cut.empty()) cut.pop_back();
    if (text_width(cr, cut + "\u2026") <= max_width) return cut + "\u2026";
  }
  return "\u2026";
}

// Text with its baseline at y; align 0 = starts at x, 1 = ends at x.
void text_at(cairo_t* cr, const std::string& text, double x, double y, double align = 0) {
  cairo_move_to(cr, x - align * text_width(cr, text), y);
  cairo_show_text(cr, text.c_str());
}

void set_gray(cairo_t* cr, double level) {
  cairo_set_source_rgb(cr, level, level, level);
}

void set_verdict_color(cairo_t* cr, bool ai_generated) {
  if (ai_generated)
    cairo_set_source_rgb(cr, 0.80, 0.15, 0.15);
  else
    cairo_set_source_rgb(cr, 0.13, 0.55, 0.22);
}

void draw_thumbnail(cairo_t* cr, const data::Image& image, double x, double y) {
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, image.width, image.height),
                  cairo_surface_destroy);
  check_cairo(cairo_surface_status(surface.get()), "creating a thumbnail surface");
  cairo_surface_flush(surface.get());
  unsigned char* base = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int row = 0; row < image.height; ++row) {
    auto* out = reinterpret_cast<uint32_t*>(base + static_cast<std::ptrdiff_t>(row) * stride);
    const uint8_t* in = image.row(row);
    for (int col = 0; col < image.width; ++col, in += 3)
      out[col] = (uint32_t{in[0]} << 16) | (uint32_t{in[1]} << 8) | in[2];
  }
  cairo_surface_mark_dirty(surface.get());
  const double scale = kThumbSide / std::max(image.width, image.height);
  cairo_save(cr);
  cairo_translate(cr, x + (kThumbSide - image.width * scale) / 2,
                  y + (kThumbSide - image.height * scale) / 2);
  cairo_scale(cr, scale, scale);
  cairo_set_source_surface(cr, surface.get(), 0, 0);
  cairo_paint(cr);
  cairo_restore(cr);
}

std::string format_ms(double ms) {
  return ms < 10     ? fmt::format("{:.2f}", ms)
         : ms < 1000 ? fmt::format("{:.1f}", ms)
                     : fmt::format("{:.0f}", ms);
}

std::string model_line(const ModelResult& r) {
  std::string line = r.model;
  if (!r.precision.empty()) line += " (" + r.precision + ")";
  if (r.p_ai) line += fmt::format("  {:.3f}", *r.p_ai);
  if (r.compute_ms) line += "  " + format_ms(*r.compute_ms) + " ms";
  return line;
}

// Draws the report page by page; `y` is the next free line's top.
class PdfWriter {
 public:
  PdfWriter(cairo_t* cr, const Report& report, const PdfReportLimits& limits)
      : cr_(cr), report_(report), limits_(limits) {}

  void draw() {
    draw_title();
    draw_summary();
    draw_table();
    draw_footer();
  }

 private:
  void new_page() {
    draw_footer();
    cairo_show_page(cr_);
    ++page_;
    y_ = kMargin;
  }

  void draw_footer() {
    set_font(cr_, 8);
    set_gray(cr_, 0.45);
    text_at(cr_, fmt::format("Forensight \u00b7 page {}", page_), kPageWidth / 2 + 0,
            kPageHeight - kMargin / 2, 0.5);
  }

  void draw_title() {
    set_font(cr_, 18, true);
    set_gray(cr_, 0.1);
    text_at(cr_, fit(cr_, report_.title, kContentWidth), kMargin, y_ + 18);
    y_ += 26;
    if (!report_.generated_at.empty()) {
      set_font(cr_, 9);
      set_gray(cr_, 0.4);
      text_at(cr_, fit(cr_, "Generated " + report_.generated_at, kContentWidth), kMargin, y_ + 9);
      y_ += 14;
    }
    y_ += 8;
  }

  void draw_summary() {
    const auto& rows = report_.rows;
    const auto ai =
        std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.ai_generated; });
    std::vector<std::string> models;                        // in order of first appearance
    std::map<std::string, std::pair<double, int>> compute;  // model -> (sum ms, count)
    double total_ms = 0;
    int timed = 0;
    for (const auto& row : rows) {
      if (row.total_ms) total_ms += *row.total_ms, ++timed;
      for (const auto& r : row.results) {
        std::string name = r.precision.empty() ? r.model : r.model + " (" + r.precision + ")";
        if (std::find(models.begin(), models.end(), name) == models.end()) models.push_back(name);
        if (r.compute_ms) compute[name].first += *r.compute_ms, ++compute[name].second;
      }
    }
    std::vector<std::string> lines = {
        fmt::format("Images analysed: {}", rows.size()),
        fmt::format("AI-generated: {} ({:.0f}%)    Real: {}", ai, 100.0 * ai / rows.size(),
                    rows.size() - ai),
        "Models: " + (models.empty() ? std::string("not given")
                                     : fmt::format("{}", fmt::join(models, ", "))),
    };
    if (timed > 0)
      lines.push_back(fmt::format("Mean time per image: {} ms (over {} timed)",
                                  format_ms(total_ms / timed), timed));
    if (!compute.empty()) {
      std::vector<std::string> parts;
      for (const auto& name : models)
        if (auto it = compute.find(name); it != compute.end())
          parts.push_back(
              fmt::format("{} {} ms", name, format_ms(it->second.first / it->second.second)));
      lines.push_back(fmt::format("Mean compute per model: {}", fmt::join(parts, ", ")));
    }
    if (report_.thumbnails_skipped > 0)
      lines.push_back(
          fmt::format("Thumbnails left out: {} (not a JPEG/PNG/WebP data URL, over "
                      "{} px or {} bytes, or past the first {})",
                      report_.thumbnails_skipped, limits_.max_thumbnail_side_px,
                      limits_.max_thumbnail_bytes, limits_.max_thumbnails));

    set_font(cr_, 12, true);
    set_gray(cr_, 0.1);
    text_at(cr_, "Summary", kMargin, y_ + 12);
    y_ += 20;
    set_font(cr_, 10);
    for (const auto& line : lines) {
      text_at(cr_, fit(cr_, line, kContentWidth), kMargin, y_ + 10);
      y_ += 14;
    }
    y_ += 12;
  }

  void draw_table_header() {
    set_font(cr_, 9, true);
    set_gray(cr_, 0.1);
    const double base = y_ + 10;
    text_at(cr_, "File", kMargin + kColFile, base);
    text_at(cr_, "Model(s): P(AI), compute", kMargin + kColModels, base);
    text_at(cr_, "Verdict", kMargin + kColVerdict, base);
    text_at(cr_, "P(AI)", kMargin + kColPAi, base, 1);
    text_at(cr_, "ms", kMargin + kColMs, base, 1);
    y_ += 14;
    cairo_set_line_width(cr_, 0.8);
    cairo_move_to(cr_, kMargin, y_);
    cairo_line_to(cr_, kMargin + kContentWidth, y_);
    cairo_stroke(cr_);
    y_ += 3;
  }

  void draw_table() {
    set_font(cr_, 12, true);
    set_gray(cr_, 0.1);
    text_at(cr_, "Verdicts", kMargin, y_ + 12);
    y_ += 18;
    draw_table_header();
    const double bottom = kPageHeight - kMargin;
    for (std::size_t i = 0; i < report_.rows.size(); ++i) {
      const Row& row = report_.rows[i];
      const std::size_t lines =
          std::max<std::size_t>(1, std::min(row.results.size(), limits_.max_models_per_row) +
                                       (row.results.size() > limits_.max_models_per_row ? 1 : 0));
      const double height = std::max({row.thumbnail ? kThumbSide + 4 : 0.0, 6 + kLine * lines,
                                      row.timestamp.empty() ? 0.0 : 6 + 2 * kLine});
      if (y_ + height > bottom) {
        new_page();
        draw_table_header();
      }
      if (i % 2 == 1) {  // zebra stripes
        cairo_set_source_rgb(cr_, 0.96, 0.965, 0.975);
        cairo_rectangle(cr_, kMargin, y_, kContentWidth, height);
        cairo_fill(cr_);
      }
      if (row.thumbnail) draw_thumbnail(cr_, *row.thumbnail, kMargin + 2, y_ + 2);
      const double base = y_ + 3 + 9;
      set_font(cr_, 9);
      set_gray(cr_, 0.1);
      text_at(cr_, fit(cr_, row.file_name, kColModels - kColFile - 6), kMargin + kColFile, base);
      if (!row.timestamp.empty()) {
        set_font(cr_, 7.5);
        set_gray(cr_, 0.45);
        text_at(cr_, fit(cr_, row.timestamp, kColModels - kColFile - 6), kMargin + kColFile,
                base + kLine);
      }
      set_font(cr_, 8.5);
      set_gray(cr_, 0.2);
      if (row.results.empty()) text_at(cr_, "\u2014", kMargin + kColModels, base);
      for (std::size_t m = 0; m < row.results.size() && m < limits_.max_models_per_row; ++m)
        text_at(cr_, fit(cr_, model_line(row.results[m]), kColVerdict - kColModels - 6),
                kMargin + kColModels, base + m * kLine);
      if (row.results.size() > limits_.max_models_per_row)
        text_at(cr_, fmt::format("and {} more", row.results.size() - limits_.max_models_per_row),
                kMargin + kColModels, base + limits_.max_models_per_row * kLine);
      set_font(cr_, 9, true);
      set_verdict_color(cr_, row.ai_generated);
      text_at(cr_, row.ai_generated ? "AI-generated" : "Real", kMargin + kColVerdict, base);
      set_font(cr_, 9);
      set_gray(cr_, 0.1);
      text_at(cr_, fmt::format("{:.3f}", row.p_ai), kMargin + kColPAi, base, 1);
      text_at(cr_, row.total_ms ? format_ms(*row.total_ms) : "\u2014", kMargin + kColMs, base, 1);
      y_ += height;
    }
    cairo_set_line_width(cr_, 0.5);
    set_gray(cr_, 0.6);
    cairo_move_to(cr_, kMargin, y_);
    cairo_line_to(cr_, kMargin + kContentWidth, y_);
    cairo_stroke(cr_);
  }

  cairo_t* cr_;
  const Report& report_;
  const PdfReportLimits& limits_;
  double y_ = kMargin;
  int page_ = 1;
};

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

std::string render_pdf_report(const nlohmann::json& body, const PdfReportLimits& limits) {
  const Report report = parse_report(body, limits);
  std::string pdf;
  {
    Surface surface(
        cairo_pdf_surface_create_for_stream(append_to_string, &pdf, kPageWidth, kPageHeight),
        cairo_surface_destroy);
    check_cairo(cairo_surface_status(surface.get()), "creating the PDF surface");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, report.title.c_str());
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "Forensight");
    Context context(cairo_create(surface.get()), cairo_destroy);
    PdfWriter(context.get(), report, limits).draw();
    check_cairo(cairo_status(context.get()), "drawing the report");
    context.reset();
    cairo_surface_finish(surface.get());
    check_cairo(cairo_surface_status(surface.get()), "writing the PDF");
  }
  return pdf;
}

}  // namespace forensight::serve

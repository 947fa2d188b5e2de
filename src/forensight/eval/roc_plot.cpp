#include "forensight/eval/roc_plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "forensight/core/atomic_file.h"
#include "forensight/core/error.h"

namespace forensight::eval {
namespace {

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

struct Rgb {
  double r, g, b;
};
// Matplotlib's tab10 palette: distinguishable and familiar from the Python plots it sits beside.
constexpr Rgb kPalette[] = {{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
                            {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
                            {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
                            {0.090, 0.745, 0.812}};

// The square plotting area, in pixels, and the mapping from rates to it.
struct Frame {
  double left, top, size;
  double x(double rate) const { return left + rate * size; }
  double y(double rate) const { return top + (1.0 - rate) * size; }
};

void check_cairo(cairo_status_t status, const char* what) {
  FS_CHECK(status == CAIRO_STATUS_SUCCESS, "cairo failed while {}: {}", what,
           cairo_status_to_string(status));
}

void set_font(cairo_t* cr, double size_px, bool bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size_px);
}

// Draws `text` with its anchor point at (x, y): h_align and v_align in {0 = start, 0.5, 1 = end}.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, double h_align,
               double v_align) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  cairo_move_to(cr, x - extents.x_bearing - h_align * extents.width,
                y - extents.y_bearing - v_align * extents.height);
  cairo_show_text(cr, text.c_str());
}

void draw_axes(cairo_t* cr, const Frame& f, double scale) {
  // Grid every 0.1, ticks and labels every 0.2.
  cairo_set_line_width(cr, 1.0 * scale);
  cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
  for (int i = 1; i < 10; ++i) {
    double rate = i / 10.0;
    cairo_move_to(cr, f.x(rate), f.y(0));
    cairo_line_to(cr, f.x(rate), f.y(1));
    cairo_move_to(cr, f.x(0), f.y(rate));
    cairo_line_to(cr, f.x(1), f.y(rate));
  }
  cairo_stroke(cr);

  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  cairo_set_line_width(cr, 1.5 * scale);
  cairo_rectangle(cr, f.x(0), f.y(1), f.size, f.size);
  cairo_stroke(cr);

  double tick_px = 6 * scale;
  set_font(cr, 14 * scale, false);
  for (int i = 0; i <= 5; ++i) {
    double rate = i / 5.0;
    std::string label = fmt::format("{:.1f}", rate);
    cairo_move_to(cr, f.x(rate), f.y(0));
    cairo_line_to(cr, f.x(rate), f.y(0) + tick_px);
    cairo_move_to(cr, f.x(0), f.y(rate));
    cairo_line_to(cr, f.x(0) - tick_px, f.y(rate));
    cairo_stroke(cr);
    draw_text(cr, label, f.x(rate), f.y(0) + tick_px + 4 * scale, 0.5, 0.0);
    draw_text(cr, label, f.x(0) - tick_px - 4 * scale, f.y(rate), 1.0, 0.5);
  }

  set_font(cr, 16 * scale, false);
  draw_text(cr, "False positive rate (real images flagged)", f.x(0.5), f.y(0) + 34 * scale, 0.5,
            0.0);
  cairo_save(cr);
  cairo_translate(cr, f.x(0) - 46 * scale, f.y(0.5));
  cairo_rotate(cr, -M_PI / 2);
  draw_text(cr, "True positive rate (AI images caught)", 0, 0, 0.5, 1.0);
  cairo_restore(cr);

  // Chance diagonal.
  double dash[] = {6 * scale, 5 * scale};
  cairo_set_dash(cr, dash, 2, 0);
  cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
  cairo_set_line_width(cr, 1.2 * scale);
  cairo_move_to(cr, f.x(0), f.y(0));
  cairo_line_to(cr, f.x(1), f.y(1));
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
}

void draw_curve(cairo_t* cr, const Frame& f, const RocPlotCurve& curve, Rgb color, double scale) {
  cairo_save(cr);
  cairo_rectangle(cr, f.x(0) - 2 * scale, f.y(1) - 2 * scale, f.size + 4 * scale,
                  f.size + 4 * scale);
  cairo_clip(cr);
  cairo_set_source_rgb(cr, color.r, color.g, color.b);
  cairo_set_line_width(cr, 2.5 * scale);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  bool started = false;
  for (const RocPoint& p : curve.points) {
    if (!std::isfinite(p.false_positive_rate) || !std::isfinite(p.true_positive_rate)) continue;
    double x = f.x(p.false_positive_rate), y = f.y(p.true_positive_rate);
    if (started)
      cairo_line_to(cr, x, y);
    else
      cairo_move_to(cr, x, y);
    started = true;
  }
  cairo_stroke(cr);
  cairo_restore(cr);
}

void draw_legend(cairo_t* cr, const Frame& f, std::span<const RocPlotCurve> curves, double scale) {
  set_font(cr, 14 * scale, false);
  std::vector<std::string> labels;
  double text_width = 0;
  for (const RocPlotCurve& c : curves) {
    labels.push_back(std::isfinite(c.roc_auc) ? fmt::format("{} (AUC {:.4f})", c.name, c.roc_auc)
                                              : fmt::format("{} (AUC n/a)", c.name));
    cairo_text_extents_t extents;
    cairo_text_extents(cr, labels.back().c_str(), &extents);
    text_width = std::max(text_width, extents.x_advance);
  }
  double row_px = 22 * scale, pad_px = 10 * scale, swatch_px = 26 * scale;
  double width = pad_px * 3 + swatch_px + text_width;
  double height = pad_px * 2 + row_px * static_cast<double>(curves.size());
  double left = f.x(1) - width - 10 * scale, top = f.y(0) - height - 10 * scale;
  cairo_rectangle(cr, left, top, width, height);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
  cairo_set_line_width(cr, 1.0 * scale);
  cairo_stroke(cr);
  for (size_t i = 0; i < curves.size(); ++i) {
    Rgb color = kPalette[i % std::size(kPalette)];
    double row_mid = top + pad_px + row_px * (static_cast<double>(i) + 0.5);
    cairo_set_source_rgb(cr, color.r, color.g, color.b);
    cairo_set_line_width(cr, 2.5 * scale);
    cairo_move_to(cr, left + pad_px, row_mid);
    cairo_line_to(cr, left + pad_px + swatch_px, row_mid);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, labels[i], left + pad_px * 2 + swatch_px, row_mid, 0.0, 0.5);
  }
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

RocPlotCurve roc_plot_curve(std::string name, const Metrics& metrics) {
  return {std::move(name), metrics.roc, metrics.roc_auc};
}

std::string render_roc_plot_png(std::span<const RocPlotCurve> curves,
                                const RocPlotOptions& options) {
  FS_CHECK(!curves.empty(), "a ROC plot needs at least one curve");
  FS_CHECK(options.width_px >= 200 && options.width_px <= 8000 && options.height_px >= 200 &&
               options.height_px <= 8000,
           "ROC plot size {}x{} px is out of range: width and height must lie in [200, 8000]",
           options.width_px, options.height_px);
  Surface surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, options.width_px, options.height_px),
      &cairo_surface_destroy);
  check_cairo(cairo_surface_status(surface.get()), "creating the image surface");
  Context context(cairo_create(surface.get()), &cairo_destroy);
  cairo_t* cr = context.get();
  check_cairo(cairo_status(cr), "creating the drawing context");

  // Everything is laid out for 800 px and scaled with the smaller side.
  double width = options.width_px, height = options.height_px;
  double scale = std::min(width, height) / 800.0;
  double margin_left = 95 * scale, margin_right = 25 * scale, margin_top = 60 * scale,
         margin_bottom = 80 * scale;
  double size = std::min(width - margin_left - margin_right, height - margin_top - margin_bottom);
  Frame frame{margin_left + (width - margin_left - margin_right - size) / 2,
              margin_top + (height - margin_top - margin_bottom - size) / 2, size};

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw_axes(cr, frame, scale);
  for (size_t i = 0; i < curves.size(); ++i)
    draw_curve(cr, frame, curves[i], kPalette[i % std::size(kPalette)], scale);
  draw_legend(cr, frame, curves, scale);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
  set_font(cr, 20 * scale, true);
  draw_text(cr, options.title, width / 2, frame.top - 22 * scale, 0.5, 1.0);
  check_cairo(cairo_status(cr), "drawing the plot");

  cairo_surface_flush(surface.get());
  std::string png;
  check_cairo(cairo_surface_write_to_png_stream(surface.get(), &append_to_string, &png),
              "encoding the PNG");
  return png;
}

void write_roc_plot_png(const std::filesystem::path& path, std::span<const RocPlotCurve> curves,
                        const RocPlotOptions& options) {
  write_file_atomic(path, render_roc_plot_png(curves, options));
}

}  // namespace forensight::eval

// ROC curves drawn to a PNG with cairo: axes with ticks and labels, the chance diagonal, one or
// more named curves (clean vs degraded, model A vs B) with a legend giving each AUC, and a title.
// Rendering goes to memory first, so the file itself is written atomically.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "forensight/eval/metrics.h"

namespace forensight::eval {

struct RocPlotCurve {
  std::string name;              // legend entry, e.g. "clean" or "jpeg q=50"
  std::vector<RocPoint> points;  // as Metrics::roc; non-finite points are skipped
  double roc_auc = 0;            // shown in the legend; NaN shows as "n/a"
};

struct RocPlotOptions {
  int width_px = 800;   // image width, in [200, 8000]
  int height_px = 800;  // image height, in [200, 8000]
  std::string title = "ROC curve";
};

// The named curve of a computed evaluation.
RocPlotCurve roc_plot_curve(std::string name, const Metrics& metrics);

// PNG bytes of the plot. Throws Error when no curve is given, the size is out of range, or cairo
// fails.
std::string render_roc_plot_png(std::span<const RocPlotCurve> curves,
                                const RocPlotOptions& options = {});
void write_roc_plot_png(const std::filesystem::path& path, std::span<const RocPlotCurve> curves,
                        const RocPlotOptions& options = {});

}  // namespace forensight::eval

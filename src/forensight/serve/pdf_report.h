// The PDF report of a browser's analyses (POST /v1/report): title, summary, a table of verdicts
// with thumbnails, over as many A4 pages as it takes. Drawn with Cairo's PDF surface into memory,
// so a request never touches the disk; the body comes from a browser, so every field is checked.
#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace forensight::serve {

struct PdfReportLimits {
  std::size_t max_analyses = 1000;           // rows; more is refused
  std::size_t max_thumbnails = 200;          // thumbnails drawn; later rows get none
  std::size_t max_thumbnail_bytes = 262144;  // one data URL's length; longer ones are skipped
  int max_thumbnail_side_px = 512;           // a larger decoded thumbnail is skipped
  std::size_t max_models_per_row = 4;        // per-model lines in a row; the rest are counted
};

// `report` is the body the web app sends:
//   {"title": "..."?, "generated_at": "..."?,
//    "analyses": [{"file_name": str, "label": "real"|"ai-generated", "p_ai": number in [0, 1],
//                  "total_ms": number?, "timestamp": str?,
//                  "thumbnail": "data:image/jpeg|png|webp;base64,..."?,
//                  "results": [{"model": str, "precision": str?, "label": str?, "p_ai": number?,
//                               "compute_ms": number?, "queue_ms": number?}]?}, ...]}
// Returns the PDF file's bytes. Throws forensight::Error naming the field and what it expected for
// a missing or mistyped field, an empty or over-long list. A thumbnail that is not a decodable
// JPEG/PNG/WebP data URL is left out (its row stays) and the summary says how many were.
std::string render_pdf_report(const nlohmann::json& report, const PdfReportLimits& limits = {});

}  // namespace forensight::serve

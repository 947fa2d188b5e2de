#include "forensight/serve/web_assets.h"

#include "forensight/core/error.h"

namespace forensight::serve {
namespace {

struct Route {
  std::string_view path;
  std::string_view file;  // the embedded file's name (CMakeLists.txt, FORENSIGHT_WEB_FILES)
  std::string_view content_type;
};

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJs = "text/javascript; charset=utf-8";
constexpr std::string_view kCss = "text/css; charset=utf-8";

constexpr Route kRoutes[] = {
    {"/", "index.html", kHtml},
    {"/app.js", "app.js", kJs},
    {"/app.css", "app.css", kCss},
    {"/static/bootstrap.min.css", "bootstrap.min.css", kCss},
    {"/static/bootstrap.bundle.min.js", "bootstrap.bundle.min.js", kJs},
    {"/static/chart.umd.min.js", "chart.min.js", kJs},
};

std::string_view embedded_file(std::string_view name) {
  for (std::size_t i = 0; i < detail::kEmbeddedWebFileCount; ++i) {
    const auto& file = detail::kEmbeddedWebFiles[i];
    if (name == file.name) return {reinterpret_cast<const char*>(file.bytes), file.size};
  }
  // Only a CMakeLists.txt that stopped embedding a file the table above serves gets here.
  fail("web asset '{}' was not embedded at build time (CMakeLists.txt, FORENSIGHT_WEB_FILES)",
       name);
}

}  // namespace

const std::vector<WebAsset>& web_assets() {
  static const std::vector<WebAsset> assets = [] {
    std::vector<WebAsset> out;
    for (const auto& route : kRoutes)
      out.push_back({route.path, route.content_type, embedded_file(route.file)});
    return out;
  }();
  return assets;
}

const WebAsset* find_web_asset(std::string_view path) {
  for (const auto& asset : web_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

}  // namespace forensight::serve

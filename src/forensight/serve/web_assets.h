// The web app `forensight serve` hands to browsers: its page, script and style, and Debian's
// Bootstrap and Chart.js, embedded in the binary at build time (cmake/embed_files.cmake), so the
// server reads nothing from disk and the page loads nothing from the internet.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace forensight::serve {

struct WebAsset {
  std::string_view path;          // the URL path it is served at: "/", "/app.js", "/static/..."
  std::string_view content_type;  // with its charset for text
  std::string_view bytes;         // the file, as built in; lives as long as the program
};

// Every asset, "/" (index.html) first; built on first use.
const std::vector<WebAsset>& web_assets();

// The asset served at `path`, or nullptr.
const WebAsset* find_web_asset(std::string_view path);

namespace detail {
// One embedded file, as the generated source (web_assets_data.cpp) lists it.
struct EmbeddedFile {
  const char* name;            // the NAME of cmake/embed_files.cmake's NAME=PATH
  const unsigned char* bytes;  // `size` bytes (and a trailing 0)
  std::size_t size;
};
extern const EmbeddedFile kEmbeddedWebFiles[];
extern const std::size_t kEmbeddedWebFileCount;
}  // namespace detail

}  // namespace forensight::serve

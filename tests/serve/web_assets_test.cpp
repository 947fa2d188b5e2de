// serve/web_assets: the app's files and Debian's Bootstrap and Chart.js are built in byte for byte,
// each at its path with its content type, and the page refers only to assets that are served.
#include "forensight/serve/web_assets.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "forensight/core/source_dir.h"

namespace forensight::serve {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ServeWebAssets, EveryFileIsBuiltInByteForByte) {
  const std::string web = core::source_dir() + "/src/forensight/serve/web/";
  const std::pair<const char*, std::string> expected[] = {
      {"/", web + "index.html"},
      {"/app.js", web + "app.js"},
      {"/app.css", web + "app.css"},
      {"/static/bootstrap.min.css", "/usr/share/javascript/bootstrap5/css/bootstrap.min.css"},
      {"/static/bootstrap.bundle.min.js",
       "/usr/share/javascript/bootstrap5/js/bootstrap.bundle.min.js"},
      {"/static/chart.umd.min.js", "/usr/share/javascript/chart.js/chart.min.js"},
  };
  ASSERT_EQ(web_assets().size(), std::size(expected));
  EXPECT_EQ(web_assets().front().path, "/");
  for (const auto& [path, file] : expected) {
    const WebAsset* asset = find_web_asset(path);
    ASSERT_NE(asset, nullptr) << path;
    const std::string on_disk = read_file(file);
    ASSERT_FALSE(on_disk.empty()) << file;
    EXPECT_EQ(asset->bytes.size(), on_disk.size()) << path;
    EXPECT_TRUE(asset->bytes == on_disk) << path << " differs from " << file;
  }
  EXPECT_EQ(find_web_asset("/missing.js"), nullptr);
}

TEST(ServeWebAssets, ContentTypesFollowTheFileKind) {
  EXPECT_EQ(find_web_asset("/")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_web_asset("/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_web_asset("/static/bootstrap.min.css")->content_type, "text/css; charset=utf-8");
}

// Every local src= and href= of the page is an asset we serve: nothing 404s, nothing is fetched
// from another host.
TEST(ServeWebAssets, PageLoadsOnlyServedAssets) {
  const std::string page(find_web_asset("/")->bytes);
  const std::regex reference(R"re((?:src|href)="([^"]*)")re");
  int references = 0;
  for (std::sregex_iterator it(page.begin(), page.end(), reference), end; it != end; ++it) {
    const std::string target = (*it)[1];
    if (target.starts_with("data:") || target.starts_with("#")) continue;
    ++references;
    EXPECT_FALSE(target.find("//") != std::string::npos)
        << "a reference to another host: " << target;
    EXPECT_NE(find_web_asset(target), nullptr)
        << "the page refers to " << target << ", which is not served";
  }
  EXPECT_GE(references, 5);
}

}  // namespace
}  // namespace forensight::serve

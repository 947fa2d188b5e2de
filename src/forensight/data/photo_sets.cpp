// Built-in photograph sets. Only photographs qualify: a detector trained against rendered artwork
// would learn "photo or drawing", not "camera or generator". mate-backgrounds keeps its photographs
// as JPEGs (its PNGs are artwork); lomiri-wallpapers-16.04 (Ubuntu's wallpaper-contest photographs)
// installs at the top of /usr/share/backgrounds beside other packages' folders, and one of its 15
// JPEGs is a rendering, so its photographs are listed by name.
#include "forensight/data/photo_sets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

namespace fs = std::filesystem;

struct BuiltinPhotoSet {
  const char* package;
  const char* dir;
  std::vector<const char*> files;  // relative to dir; empty: every JPEG under dir
};

const std::vector<BuiltinPhotoSet>& builtin_sets() {
  static const std::vector<BuiltinPhotoSet> sets = {
      {"mate-backgrounds", "/usr/share/backgrounds/mate", {}},
      {"lomiri-wallpapers-16.04",
       "/usr/share/backgrounds",
       {"Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg",
        "aitzgorri_by_Aitzol_Berasategi.jpg", "analogpattern_by_Peter_Nerlich.jpg",
        "free_by_Peter_Nerlich.jpg", "friends_by_Aitzol_Berasategi.jpg",
        "greentock_by_Peter_Nerlich.jpg", "life_by_Aitzol_Berasategi.jpg",
        "picosdeeuropa_by_Aitzol_Berasategi.jpg", "seeding_by_Clements_Engelhardt.jpg",
        "sunset_by_Aitzol_Berasategi.jpg"}},
  };
  return sets;
}

std::string packages_help() {
  return fmt::format("apt-get install {} (scripts/bootstrap.sh installs them)",
                     fmt::join(builtin_photo_set_names(), " "));
}

PhotoSet resolve_builtin(const BuiltinPhotoSet& set) {
  PhotoSet photos{set.package, {}};
  if (set.files.empty()) {
    std::error_code ec;
    if (!fs::is_directory(set.dir, ec))
      fail(
          "photograph set '{}' is not installed ('{}' does not exist): apt-get install {} "
          "(scripts/bootstrap.sh installs it), or pass --photos DIR",
          set.package, set.dir, set.package);
    photos.files = find_photographs(set.dir);
    return photos;
  }
  int missing = 0;
  for (const char* file : set.files) {
    fs::path path = fs::path(set.dir) / file;
    std::error_code ec;
    if (fs::is_regular_file(path, ec))
      photos.files.push_back(path.string());
    else
      ++missing;
  }
  if (photos.files.empty())
    fail(
        "photograph set '{}' is not installed (none of its {} photographs is in '{}'): apt-get "
        "install {} (scripts/bootstrap.sh installs it), or pass --photos DIR",
        set.package, set.files.size(), set.dir, set.package);
  if (missing > 0)
    spdlog::warn("photograph set '{}': {} of its {} photographs are missing from '{}'", set.package,
                 missing, set.files.size(), set.dir);
  std::sort(photos.files.begin(), photos.files.end());
  return photos;
}

}  // namespace

std::vector<std::string> builtin_photo_set_names() {
  std::vector<std::string> names;
  for (const auto& set : builtin_sets()) names.push_back(set.package);
  return names;
}

std::vector<std::string> find_photographs(const std::string& dir) {
  std::vector<std::string> photos;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (ext == ".jpg" || ext == ".jpeg") photos.push_back(entry.path().string());
    }
  }
  std::sort(photos.begin(), photos.end());
  if (photos.empty())
    fail(
        "no photographs (*.jpg) found under '{}': the built-in real class comes from Debian's "
        "wallpaper packages ({}), or pass another folder of photographs",
        dir, packages_help());
  return photos;
}

std::vector<PhotoSet> resolve_photo_sets(const std::vector<std::string>& entries) {
  std::vector<PhotoSet> sets;
  auto add = [&](PhotoSet set) {
    for (const auto& s : sets)
      FS_CHECK(s.name != set.name,
               "photograph set '{}' is named twice in --photos: give each set once, or name "
               "folders apart with NAME=DIR",
               set.name);
    sets.push_back(std::move(set));
  };
  for (const std::string& entry : entries) {
    if (entry == "all") {
      for (const auto& builtin : builtin_sets()) add(resolve_builtin(builtin));
      continue;
    }
    auto builtin = std::find_if(builtin_sets().begin(), builtin_sets().end(),
                                [&](const BuiltinPhotoSet& s) { return entry == s.package; });
    if (builtin != builtin_sets().end()) {
      add(resolve_builtin(*builtin));
      continue;
    }
    std::string name, dir = entry;
    if (size_t eq = entry.find('='); eq != std::string::npos) {
      name = entry.substr(0, eq);
      dir = entry.substr(eq + 1);
      FS_CHECK(!name.empty() && !dir.empty(), "--photos entry '{}': expected NAME=DIR", entry);
    } else {
      std::error_code ec;
      if (!fs::is_directory(dir, ec))
        fail(
            "--photos entry '{}' is neither a folder nor a built-in photograph set (built-in: "
            "{}, or all)",
            entry, fmt::join(builtin_photo_set_names(), ", "));
      fs::path normal = fs::path(dir).lexically_normal();
      name = (normal.has_filename() ? normal : normal.parent_path()).filename().string();
    }
    add(PhotoSet{name, find_photographs(dir)});
  }
  FS_CHECK(!sets.empty(), "no photograph set given: name one of {}, all, or a folder",
           fmt::join(builtin_photo_set_names(), ", "));
  return sets;
}

}  // namespace forensight::data

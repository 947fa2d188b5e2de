// The real class of the built-in dataset: named sets of photographs, either a Debian wallpaper
// package known here (installed by scripts/bootstrap.sh) or a folder the user names. The set's name
// becomes the `source` of its crops in the dataset's CSV.
#pragma once
#include <string>
#include <vector>

namespace forensight::data {

struct PhotoSet {
  std::string name;                // "mate-backgrounds", or the user's NAME / folder name
  std::vector<std::string> files;  // JPEG paths, sorted
};

// The Debian packages whose photographs are built in, e.g. "mate-backgrounds".
std::vector<std::string> builtin_photo_set_names();

// The photographs under dir (recursively; *.jpg / *.jpeg, sorted). Throws Error naming the
// folder and the built-in packages when there are none.
std::vector<std::string> find_photographs(const std::string& dir);

// Resolves `--photos` entries, each one of: a built-in set's package name; "all" (every built-in
// set); "NAME=DIR"; or DIR (named after its last component). Throws Error when a built-in set is
// not installed (naming the package to install), a folder holds no photographs, or two sets share
// a name.
std::vector<PhotoSet> resolve_photo_sets(const std::vector<std::string>& entries);

}  // namespace forensight::data

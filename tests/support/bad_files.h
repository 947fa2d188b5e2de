// Damaged input files for the data-fault tests, one of each kind a real scrape holds: random bytes
// with an image extension, a JPEG cut short, an empty file, a PNG whose header declares more
// pixels than the decoder accepts, and a text file named like an image.
#pragma once
#include <string>
#include <vector>

namespace forensight::testing {

struct BadFile {
  std::string path;
  std::string kind;  // corrupt, truncated, zero-byte, oversized, wrong-extension
};

// Writes one file of each kind into `folder` (names start with `prefix`); `good_jpeg` is a valid
// JPEG the truncated one is cut from.
std::vector<BadFile> write_bad_files(const std::string& folder, const std::string& prefix,
                                     const std::string& good_jpeg);

// A valid PNG whose IHDR declares width x height (the chunk's CRC fixed up), pixels absent.
std::string png_declaring(int width, int height);

}  // namespace forensight::testing

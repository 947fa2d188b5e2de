#include "bad_files.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "forensight/data/image.h"
#include "forensight/data/png_encoder.h"

namespace forensight::testing {
namespace {

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void put_be32(std::string& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((value >> (24 - 8 * i)) & 0xFF);
}

}  // namespace

std::string png_declaring(int width, int height) {
  data::Image image;
  image.width = image.height = 4;
  image.pixels.assign(4 * 4 * 3, 128);
  const std::vector<uint8_t> encoded = data::encode_png(image);
  std::string png(encoded.begin(), encoded.end());
  // Signature (8) | length (4) | "IHDR" (4) | width, height (4 + 4) ... | CRC over type + data.
  put_be32(png, 16, static_cast<uint32_t>(width));
  put_be32(png, 20, static_cast<uint32_t>(height));
  const auto* ihdr = reinterpret_cast<const Bytef*>(png.data() + 12);
  put_be32(png, 29, static_cast<uint32_t>(::crc32(0, ihdr, 4 + 13)));
  return png;
}

std::vector<BadFile> write_bad_files(const std::string& folder, const std::string& prefix,
                                     const std::string& good_jpeg) {
  std::filesystem::create_directories(folder);
  std::ifstream in(good_jpeg, std::ios::binary);
  const std::string jpeg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<BadFile> files;
  auto add = [&](const std::string& name, const std::string& kind, const std::string& bytes) {
    const std::string path = folder + "/" + prefix + name;
    write(path, bytes);
    files.push_back({path, kind});
  };
  std::string noise(700, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 131 + 7) % 251);
  add("corrupt.jpg", "corrupt", noise);
  add("truncated.jpg", "truncated", jpeg.substr(0, jpeg.size() * 9 / 10));  // into the scan
  add("zero-byte.png", "zero-byte", "");
  add("oversized.png", "oversized", png_declaring(50000, 50000));
  add("notes.webp", "wrong-extension", "these are notes, not an image\n");
  return files;
}

}  // namespace forensight::testing

// Dispatch by content sniffing (magic bytes, never the file extension: datasets scraped from the
// web hold PNGs named .jpg) to the JPEG, PNG and WebP decoders; file reading with path-naming
// errors.
#include "forensight/data/image_decoder.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/ranges.h>

#include "forensight/core/error.h"
#include "forensight/data/jpeg_decoder.h"
#include "forensight/data/png_decoder.h"
#include "forensight/data/webp_decoder.h"

namespace forensight::data {
namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

std::string describe_unknown(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return "empty input (0 bytes)";
  return fmt::format("not a JPEG, PNG or WebP image (first bytes {:02x})",
                     fmt::join(bytes.subspan(0, std::min<size_t>(bytes.size(), 8)), " "));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

ImageFormat detect_format(std::span<const uint8_t> bytes) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return ImageFormat::kJpeg;
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0)
    return ImageFormat::kPng;
  if (bytes.size() >= 12 && std::memcmp(bytes.data(), "RIFF", 4) == 0 &&
      std::memcmp(bytes.data() + 8, "WEBP", 4) == 0)
    return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageInfo read_image_info(std::span<const uint8_t> bytes) {
  switch (detect_format(bytes)) {
    case ImageFormat::kJpeg:
      return read_jpeg_info(bytes);
    case ImageFormat::kPng:
      return read_png_info(bytes);
    case ImageFormat::kWebp:
      return read_webp_info(bytes);
    case ImageFormat::kUnknown:
      break;
  }
  throw DecodeError(describe_unknown(bytes));
}

Image decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  switch (detect_format(bytes)) {
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, options);
    case ImageFormat::kPng:
      return decode_png(bytes, options);
    case ImageFormat::kWebp:
      return decode_webp(bytes, options);
    case ImageFormat::kUnknown:
      break;
  }
  throw DecodeError(describe_unknown(bytes));
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::vector<uint8_t> bytes;
  read_file_bytes(path, bytes);
  return bytes;
}

void read_file_bytes(const std::string& path, std::vector<uint8_t>& bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw DecodeError(fmt::format("cannot read '{}': it is a directory", path));
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw DecodeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  if (std::fseek(file.get(), 0, SEEK_END) != 0)
    throw DecodeError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  long size = std::ftell(file.get());
  if (size < 0)  // a directory opens but has no size
    throw DecodeError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  if (size == 0) throw DecodeError(fmt::format("'{}' is empty (0 bytes)", path));
  std::rewind(file.get());
  bytes.resize(static_cast<size_t>(size));
  if (std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    throw DecodeError(fmt::format("cannot read '{}': short read", path));
}

Image decode_image_file(const std::string& path, const DecodeOptions& options) {
  std::vector<uint8_t> bytes;
  Image image;
  decode_image_file(path, options, bytes, image);
  return image;
}

void decode_image_file(const std::string& path, const DecodeOptions& options,
                       std::vector<uint8_t>& bytes, Image& image) {
  read_file_bytes(path, bytes);
  try {
    if (detect_format(bytes) == ImageFormat::kJpeg)
      decode_jpeg(bytes, options, image);
    else
      image = decode_image(bytes, options);
  } catch (const DecodeError& e) {
    throw DecodeError(fmt::format("'{}': {}", path, e.what()));
  }
}

}  // namespace forensight::data

// Safetensors reading and writing with nlohmann::json for the header. The reader never trusts the
// file: header length, JSON, dtypes, shapes and data offsets are all bounds-checked.
#include "forensight/models/safetensors.h"

#include <nlohmann/json.hpp>

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "forensight/core/error.h"

namespace forensight::models {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference implementation's limit

struct DtypeEntry {
  const char* name;
  torch::ScalarType dtype;
};

constexpr DtypeEntry kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

std::optional<torch::ScalarType> dtype_from_name(const std::string& name) {
  for (const auto& entry : kDtypes)
    if (name == entry.name) return entry.dtype;
  return std::nullopt;
}

std::string valid_dtype_names() {
  std::string names;
  for (const auto& entry : kDtypes) names += std::string(names.empty() ? "" : ", ") + entry.name;
  return names;
}

std::vector<char> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("cannot open safetensors file '{}'", path.string());
  const std::streamsize size = in.tellg();
  in.seekg(0);
  std::vector<char> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(bytes.data(), size))
    fail("cannot read {} bytes from safetensors file '{}'", size, path.string());
  return bytes;
}

uint64_t checked_u64(const nlohmann::json& value, const std::string& what,
                     const std::string& file) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0))
    fail("safetensors file '{}': {} must be a non-negative integer, got {}", file, what,
         value.dump());
  return value.get<uint64_t>();
}

}  // namespace

std::string safetensors_dtype_name(torch::ScalarType dtype) {
  for (const auto& entry : kDtypes)
    if (entry.dtype == dtype) return entry.name;
  fail("safetensors cannot store dtype {}; supported: {}", c10::toString(dtype),
       valid_dtype_names());
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  const std::vector<char> bytes = read_file_bytes(path);
  if (bytes.size() < 8)
    fail("safetensors file '{}' is {} bytes, shorter than the 8-byte header length", file,
         bytes.size());
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  if (header_bytes > kMaxHeaderBytes || header_bytes > bytes.size() - 8)
    fail(
        "safetensors file '{}' declares a {}-byte header but holds {} bytes after the length "
        "(limit {}); the file is truncated or not safetensors",
        file, header_bytes, bytes.size() - 8, kMaxHeaderBytes);
  const char* data = bytes.data() + 8 + header_bytes;
  const uint64_t data_bytes = bytes.size() - 8 - header_bytes;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.data() + 8, data);
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors file '{}': the header is not valid JSON ({})", file, e.what());
  }
  if (!header.is_object())
    fail("safetensors file '{}': the header must be a JSON object, got {}", file,
         header.type_name());

  SafetensorsFile result;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail("safetensors file '{}': __metadata__ must be an object of strings", file);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string())
          fail("safetensors file '{}': metadata '{}' must be a string, got {}", file, key,
               value.dump());
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      fail("safetensors file '{}': tensor '{}' needs dtype, shape and data_offsets, got {}", file,
           name, entry.dump());
    if (!entry["dtype"].is_string())
      fail("safetensors file '{}': tensor '{}' has a non-string dtype", file, name);
    const std::string dtype_name = entry["dtype"].get<std::string>();
    const auto dtype = dtype_from_name(dtype_name);
    if (!dtype)
      fail("safetensors file '{}': tensor '{}' has unsupported dtype '{}'; supported: {}", file,
           name, dtype_name, valid_dtype_names());

    const auto& shape_json = entry["shape"];
    if (!shape_json.is_array())
      fail("safetensors file '{}': tensor '{}' shape must be an array", file, name);
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& dim_json : shape_json) {
      const uint64_t dim = checked_u64(dim_json, "tensor '" + name + "' shape entry", file);
      if (dim > 0 && numel > std::numeric_limits<uint64_t>::max() / 2 / dim)
        fail("safetensors file '{}': tensor '{}' shape overflows", file, name);
      numel *= dim;
      shape.push_back(static_cast<int64_t>(dim));
    }

    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      fail("safetensors file '{}': tensor '{}' data_offsets must be [begin, end]", file, name);
    const uint64_t begin = checked_u64(offsets[0], "tensor '" + name + "' begin offset", file);
    const uint64_t end = checked_u64(offsets[1], "tensor '" + name + "' end offset", file);
    if (begin > end || end > data_bytes)
      fail(
          "safetensors file '{}': tensor '{}' data_offsets [{}, {}] fall outside the {} data "
          "bytes",
          file, name, begin, end, data_bytes);
    const uint64_t element_bytes = c10::elementSize(*dtype);
    if (end - begin != numel * element_bytes)
      fail(
          "safetensors file '{}': tensor '{}' of shape {} and dtype {} needs {} bytes, its "
          "offsets span {}",
          file, name, shape_json.dump(), dtype_name, numel * element_bytes, end - begin);

    torch::Tensor tensor = torch::empty(shape, torch::TensorOptions().dtype(*dtype));
    if (end > begin) std::memcpy(tensor.data_ptr(), data + begin, end - begin);
    result.tensors.emplace(name, std::move(tensor));
  }
  return result;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu_tensors;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    FS_CHECK(!name.empty() && name != "__metadata__",
             "cannot write a tensor named '{}' to safetensors", name);
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t size = cpu.numel() * cpu.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + size}}};
    offset += size;
    cpu_tensors.push_back(std::move(cpu));
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  const uint64_t header_bytes = header_text.size();

  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '{}' to write safetensors", temporary.string());
    out.write(reinterpret_cast<const char*>(&header_bytes), 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& cpu : cpu_tensors)
      out.write(static_cast<const char*>(cpu.data_ptr()),
                static_cast<std::streamsize>(cpu.numel() * cpu.element_size()));
    out.flush();
    if (!out) fail("writing safetensors to '{}' failed (disk full?)", temporary.string());
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    fail("cannot rename '{}' to '{}': {}", temporary.string(), path.string(), error.message());
}

}  // namespace forensight::models

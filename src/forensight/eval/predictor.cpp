#include "forensight/eval/predictor.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/dataset.h"
#include "forensight/data/image_decoder.h"
#include "forensight/eval/inference.h"

namespace forensight::eval {
namespace {

bool has_glob_characters(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

std::string lowercase_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

torch::Tensor preprocess_bytes(const Detector& detector, std::span<const uint8_t> bytes) {
  data::DecodeOptions decode;
  decode.min_side_px = data::decode_min_side_px(detector.transform);
  decode.max_pixels = detector.transform.max_pixels;
  data::Image image = data::decode_image(bytes, decode);
  std::mt19937_64 rng(0);  // the eval transform draws nothing; a fixed seed keeps it so
  data::Image input = data::apply_transform(image, detector.transform, rng);
  torch::Tensor hwc = torch::from_blob(input.pixels.data(), {input.height, input.width, 3},
                                       torch::kUInt8);  // (H, W, 3) uint8
  // (1, 3, H, W): a view with NHWC strides, which is the layout a channels-last model wants.
  torch::Tensor batch = hwc.permute({2, 0, 1}).unsqueeze(0);
  // The copy detaches the result from `input`.
  if (detector.raw_pixels) return batch.clone(torch::MemoryFormat::ChannelsLast);  // (1, 3, H, W)
  if (!detector.channels_last) batch = batch.contiguous();
  // normalize_batch copies, so the result does not point into `input`.
  return data::normalize_batch(batch, detector.normalization, detector.input_filter,
                               detector.device, detector.channels_last);  // (1, 3, H, W) float
}

Prediction predict_bytes(Detector& detector, std::span<const uint8_t> bytes,
                         const std::string& name, double threshold) {
  Prediction p;
  p.path = name;
  p.model = detector.name();
  Timer timer;
  try {
    torch::NoGradGuard no_grad;
    torch::Tensor x = preprocess_bytes(detector, bytes);  // (1, 3, H, W) float
    p.probability_fake = fake_probability(detector.model->forward(x)).item<double>();
    p.label = p.probability_fake >= threshold ? 1 : 0;
  } catch (const Error& e) {
    p.error = e.what();
  }
  p.milliseconds = timer.milliseconds();
  return p;
}

Prediction predict_file(Detector& detector, const std::string& path, double threshold) {
  std::vector<uint8_t> bytes;
  try {
    bytes = data::read_file_bytes(path);
  } catch (const Error& e) {
    Prediction p;
    p.path = path;
    p.model = detector.name();
    p.error = e.what();
    return p;
  }
  return predict_bytes(detector, bytes, path, threshold);
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(input, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file() && lowercase_extension(it->path()) != ".csv")
          found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (lowercase_extension(input) == ".csv" && fs::is_regular_file(input, ec)) {
      for (const auto& sample : data::load_dataset(input).samples) paths.push_back(sample.path);
    } else if (has_glob_characters(input)) {
      glob_t matches{};
      if (::glob(input.c_str(), 0, nullptr, &matches) == 0) {
        for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
      } else {
        paths.push_back(input);
      }
      ::globfree(&matches);
    } else {
      paths.push_back(input);
    }
  }
  return paths;
}

}  // namespace forensight::eval

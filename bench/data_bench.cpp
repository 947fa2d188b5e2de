// The data benchmark. Every variant is checked before it is timed (ours against PIL/torchvision
// on the same files, the cache against the files), each runs whole epochs after a warm-up, and the
// Python peer runs interleaved with ours at each worker count so background load hits both alike.
#include "data_bench.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <torch/torch.h>
#include <turbojpeg.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "bench/python_peer.h"
#include "bench/seed_images.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/dataset.h"
#include "forensight/data/decoded_cache.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/loader.h"
#include "forensight/data/normalize.h"
#include "forensight/data/synth.h"
#include "forensight/data/transform.h"

namespace forensight::bench {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kDumpCount = 4;
constexpr double kMaxMeanAbsDiff = 0.08;  // normalised units; one uint8 level is ~0.017

// A photo-like 700x700 picture: smooth low-frequency shading, a few soft-edged blobs and sensor
// noise, so the JPEG has the coefficient statistics (and decode cost) of a real photograph.
std::vector<uint8_t> photo_like_rgb(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 5.0);
  struct Wave {
    double fx, fy, phase, amp;
  };
  std::array<std::array<Wave, 3>, 3> waves;
  for (auto& channel : waves)
    for (auto& w : channel) w = {u(rng) * 0.02, u(rng) * 0.02, u(rng) * 6.28, 20 + 30 * u(rng)};
  struct Blob {
    double cx, cy, r, soft;
    std::array<double, 3> color;
  };
  std::vector<Blob> blobs(10);
  for (auto& b : blobs)
    b = {u(rng) * kSeedImageSidePx,
         u(rng) * kSeedImageSidePx,
         30 + 150 * u(rng),
         2 + 20 * u(rng),
         {255 * u(rng), 255 * u(rng), 255 * u(rng)}};
  std::vector<uint8_t> rgb(static_cast<size_t>(kSeedImageSidePx) * kSeedImageSidePx * 3);
  for (int y = 0; y < kSeedImageSidePx; ++y)
    for (int x = 0; x < kSeedImageSidePx; ++x) {
      std::array<double, 3> v{};
      for (int c = 0; c < 3; ++c) {
        v[c] = 128;
        for (const auto& w : waves[c]) v[c] += w.amp * std::sin(w.fx * x + w.fy * y + w.phase);
      }
      for (const auto& b : blobs) {
        double d = std::hypot(x - b.cx, y - b.cy);
        double a = std::clamp((b.r - d) / b.soft, 0.0, 1.0) * 0.7;
        for (int c = 0; c < 3; ++c) v[c] = v[c] * (1 - a) + b.color[c] * a;
      }
      double n = noise(rng);
      uint8_t* p = &rgb[(static_cast<size_t>(y) * kSeedImageSidePx + x) * 3];
      for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(std::clamp(v[c] + n, 0.0, 255.0));
    }
  return rgb;
}

void write_jpeg(const std::string& path, const std::vector<uint8_t>& rgb) {
  tjhandle handle = tjInitCompress();
  FS_CHECK(handle != nullptr, "tjInitCompress failed: {}", tjGetErrorStr2(nullptr));
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(handle, rgb.data(), kSeedImageSidePx, 0, kSeedImageSidePx, TJPF_RGB, &jpeg,
                       &size, TJSAMP_420, kSeedImageJpegQuality, 0);
  std::string error = rc != 0 ? tjGetErrorStr2(handle) : "";
  if (rc == 0) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(jpeg), static_cast<std::streamsize>(size));
    if (!out) error = "cannot write " + path;
  }
  tjFree(jpeg);
  tjDestroy(handle);
  if (!error.empty()) fail("writing benchmark JPEG '{}' failed: {}", path, error);
}

// Generates (or reuses) `count` images as <dir>/0_real/*.jpg and <dir>/1_fake/*.jpg: with
// `data synth` (crops of real photographs, and generator output) when the photographs are
// installed, else procedural photo-like pictures. Returns which generator made them.
std::string ensure_images(const fs::path& dir, int count, int threads) {
  json stamp = {{"count", count},
                {"side_px", kSeedImageSidePx},
                {"quality", kSeedImageJpegQuality},
                {"version", 2}};
  fs::path stamp_path = dir / "stamp.json";
  if (fs::exists(stamp_path)) {
    std::ifstream in(stamp_path);
    json found = json::parse(in, nullptr, false);
    if (found.is_object() && found.value("generator", "") != "") {
      std::string generator = found["generator"];
      found.erase("generator");
      if (found == stamp) return generator;
    }
  }
  fs::remove_all(dir);
  std::string generator;
  try {
    data::SynthOptions synth;
    synth.out_dir = dir.string();
    synth.count = count;
    synth.size_px = kSeedImageSidePx;
    synth.quality = kSeedImageJpegQuality;
    data::resolve_photo_sets(synth.photos);  // throws when the package is missing
    spdlog::info("generating {} {}x{} q{} JPEGs in {} with data synth", count, kSeedImageSidePx,
                 kSeedImageSidePx, kSeedImageJpegQuality, dir.string());
    data::synthesize_dataset(synth);
    generator = "data synth (photograph crops + generator)";
  } catch (const Error& e) {
    spdlog::info("data synth unavailable ({}); generating {} procedural {}x{} q{} JPEGs", e.what(),
                 count, kSeedImageSidePx, kSeedImageSidePx, kSeedImageJpegQuality);
    fs::remove_all(dir);
    fs::create_directories(dir / "0_real");
    fs::create_directories(dir / "1_fake");
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    std::exception_ptr error;
    std::mutex error_mutex;
    for (int t = 0; t < std::max(1, threads); ++t)
      pool.emplace_back([&] {
        for (int i = next++; i < count; i = next++) {
          try {
            auto name = fmt::format("{}/img_{:05d}.jpg", i % 2 ? "1_fake" : "0_real", i);
            write_jpeg((dir / name).string(), photo_like_rgb(static_cast<uint64_t>(i) + 1));
          } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            error = std::current_exception();
          }
        }
      });
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    generator = "procedural";
  }
  stamp["generator"] = generator;
  std::ofstream(stamp_path) << stamp.dump() << '\n';
  return generator;
}

// (B, 3, S, S) uint8 -> (B, 3, S, S) float32, (x / 255 - mean) / std: what ToTensor + Normalize
// do, through the library's normalisation (on the CPU here, as in the Python peer).
torch::Tensor normalize(const torch::Tensor& images) {
  return data::normalize_batch(images, data::NormPreset::kImageNet, torch::kCPU,
                               /*channels_last=*/false);
}

struct Throughput {
  int64_t images = 0;
  double seconds = 0;
  double images_per_s() const { return seconds > 0 ? images / seconds : 0; }
};

// Warm-up (a few batches of epoch 0), then whole epochs until min_seconds have passed.
Throughput time_loader(const data::Dataset& dataset, const data::TransformOptions& transform,
                       data::LoaderOptions options, double min_seconds) {
  data::DataLoader loader(dataset, {}, transform, options);
  loader.start_epoch(0);
  for (int i = 0; i < 3; ++i)
    if (!loader.next()) break;
  Throughput t;
  Timer timer;
  for (int64_t epoch = 1;; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      torch::Tensor x = normalize(batch->images);  // (B, 3, S, S) float32
      t.images += x.size(0);
    }
    FS_CHECK(loader.epoch_stats().skipped == 0, "{} benchmark images failed to load",
             loader.epoch_stats().skipped);
    t.seconds = timer.seconds();
    if (t.seconds >= min_seconds) break;
  }
  return t;
}

// libjpeg-turbo alone: header, the smallest DCT scale keeping both sides >= min_side_px (what
// the decoder picks), decompress to RGB. One thread, all files already in memory.
json raw_decode_rate(const std::vector<std::vector<uint8_t>>& files, int min_side_px,
                     double min_seconds) {
  tjhandle handle = tjInitDecompress();
  FS_CHECK(handle != nullptr, "tjInitDecompress failed");
  int factor_count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&factor_count);
  std::vector<uint8_t> out;
  tjscalingfactor used{1, 1};
  auto decode_one = [&](const std::vector<uint8_t>& bytes) {
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    FS_CHECK(
        tjDecompressHeader3(handle, bytes.data(), bytes.size(), &w, &h, &subsamp, &colorspace) == 0,
        "bad benchmark JPEG: {}", tjGetErrorStr2(handle));
    tjscalingfactor best{1, 1};
    for (int i = 0; i < factor_count && min_side_px > 0; ++i) {
      const auto& f = factors[i];
      if (f.num > f.denom || TJSCALED(w, f) < min_side_px || TJSCALED(h, f) < min_side_px) continue;
      if (f.num * best.denom < best.num * f.denom) best = f;
    }
    used = best;
    int sw = TJSCALED(w, best), sh = TJSCALED(h, best);
    out.resize(static_cast<size_t>(sw) * sh * 3);
    FS_CHECK(
        tjDecompress2(handle, bytes.data(), bytes.size(), out.data(), sw, 0, sh, TJPF_RGB, 0) == 0,
        "tjDecompress2 failed: {}", tjGetErrorStr2(handle));
  };
  for (size_t i = 0; i < std::min<size_t>(8, files.size()); ++i) decode_one(files[i]);
  Throughput t;
  Timer timer;
  while (t.seconds < min_seconds) {
    for (const auto& f : files) decode_one(f);
    t.images += static_cast<int64_t>(files.size());
    t.seconds = timer.seconds();
  }
  tjDestroy(handle);
  return {{"images_per_s", t.images_per_s()},
          {"images", t.images},
          {"seconds", t.seconds},
          {"scale", fmt::format("{}/{}", used.num, used.denom)},
          {"decoded_side_px", TJSCALED(kSeedImageSidePx, used)}};
}

json run_python(const std::string& python, const std::string& args) {
  return run_python_peer(python, "data_peer.py", args);
}

// Ours vs PIL + torchvision on the first images in file order: mean |difference| after
// normalisation, which catches channel order, layout, normalisation and resize mistakes.
json check_against_python(const data::Dataset& dataset, const data::TransformOptions& transform,
                          const std::string& python, const fs::path& work_dir,
                          const fs::path& image_dir) {
  fs::path dump = work_dir / "python_first_images.f32";
  run_python(python,
             fmt::format("--root {} --dump {} --dump-count {}", shell_quote(image_dir.string()),
                         shell_quote(dump.string()), kDumpCount));
  const int s = transform.image_size_px;
  torch::Tensor theirs = torch::empty({kDumpCount, 3, s, s}, torch::kFloat32);  // (N, 3, S, S)
  std::ifstream in(dump, std::ios::binary);
  in.read(reinterpret_cast<char*>(theirs.data_ptr<float>()), theirs.numel() * sizeof(float));
  FS_CHECK(in.gcount() == static_cast<std::streamsize>(theirs.numel() * sizeof(float)),
           "the Python peer's dump {} is short", dump.string());
  data::LoaderOptions options;
  options.batch_size = kDumpCount;
  options.workers = 0;
  options.shuffle = false;
  data::DataLoader loader(dataset, {}, transform, options);
  loader.start_epoch(0);
  auto batch = loader.next();
  FS_CHECK(batch && batch->images.size(0) == kDumpCount, "the loader gave no first batch");
  double diff = (normalize(batch->images) - theirs).abs().mean().item<double>();
  double max_diff = (normalize(batch->images) - theirs).abs().max().item<double>();
  if (diff > kMaxMeanAbsDiff)
    fail(
        "ours and PIL/torchvision disagree on the first {} images: mean |diff| {:.4f} > {} "
        "(normalised units); not timing a wrong pipeline",
        kDumpCount, diff, kMaxMeanAbsDiff);
  return {{"images", kDumpCount},
          {"mean_abs_diff", diff},
          {"max_abs_diff", max_diff},
          {"tolerance", kMaxMeanAbsDiff}};
}

// The cache must give the same pixels as decoding the files.
json check_cache(const data::Dataset& dataset, const data::TransformOptions& transform,
                 const std::string& cache_path) {
  data::LoaderOptions options;
  options.batch_size = 16;
  options.workers = 0;
  options.shuffle = false;
  data::DataLoader files(dataset, {}, transform, options);
  options.cache_path = cache_path;
  data::DataLoader cached(dataset, {}, transform, options);
  files.start_epoch(0);
  cached.start_epoch(0);
  auto a = files.next();
  auto b = cached.next();
  FS_CHECK(a && b, "no batch to compare the cache with");
  int64_t max_diff =
      (a->images.to(torch::kInt32) - b->images.to(torch::kInt32)).abs().max().item<int64_t>();
  FS_CHECK(max_diff <= 1 && torch::equal(a->indices, b->indices),
           "the decoded cache differs from decoding the files (max |diff| {} levels)", max_diff);
  return {{"images", a->images.size(0)}, {"max_abs_diff_levels", max_diff}};
}

double load_average() {
  double load[3] = {0, 0, 0};
  return getloadavg(load, 3) > 0 ? load[0] : -1;
}

}  // namespace

json run_data_bench(const DataBenchOptions& o) {
  FS_CHECK(o.images >= o.batch_size && o.batch_size >= 1,
           "--images ({}) must be >= the batch size ({})", o.images, o.batch_size);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int max_workers = o.max_workers > 0 ? o.max_workers : std::max(1, cores);
  const std::string python = o.python.empty() ? FORENSIGHT_PYTHON : o.python;
  // Ours normalises in the consumer thread, like the Python main process collating; one intra-op
  // thread keeps it from competing with the workers for the cores.
  torch::set_num_threads(1);

  fs::path work_dir(o.work_dir);
  fs::path image_dir =
      work_dir / fmt::format("jpeg{}_q{}_n{}", kSeedImageSidePx, kSeedImageJpegQuality, o.images);
  fs::create_directories(work_dir);
  const std::string generator = ensure_images(image_dir, o.images, max_workers);
  data::Dataset dataset = data::load_dataset(image_dir.string());
  data::TransformOptions transform;  // resize to 224 x 224, no augmentation
  const int min_side = data::decode_min_side_px(transform);

  json result;
  result["machine"] = {{"cores", cores}, {"load_average_1min_start", load_average()}};
  int64_t bytes = 0;
  std::vector<std::vector<uint8_t>> files;
  for (const auto& s : dataset.samples) {
    files.push_back(data::read_file_bytes(s.path));
    bytes += static_cast<int64_t>(files.back().size());
  }
  result["images"] = {{"count", dataset.size()},
                      {"side_px", kSeedImageSidePx},
                      {"quality", kSeedImageJpegQuality},
                      {"mean_bytes", bytes / static_cast<int64_t>(dataset.size())},
                      {"dir", image_dir.string()},
                      {"generator", generator}};
  result["config"] = {{"batch_size", o.batch_size},
                      {"image_size_px", transform.image_size_px},
                      {"decode_min_side_px", min_side},
                      {"min_seconds", o.min_seconds},
                      {"python", python}};

  // 1. Correctness before timing.
  fs::path cache_path =
      work_dir / fmt::format("cache_n{}_s{}.fsc", o.images, transform.image_size_px);
  if (!fs::exists(cache_path)) {
    spdlog::info("writing the decoded cache {}", cache_path.string());
    data::write_decoded_cache(dataset, transform, cache_path.string(), max_workers);
  }
  result["checks"]["cache_vs_files"] = check_cache(dataset, transform, cache_path.string());
  if (!o.skip_python)
    result["checks"]["ours_vs_python"] =
        check_against_python(dataset, transform, python, work_dir, image_dir);

  // 2. Raw scaled decode, one thread.
  spdlog::info("timing libjpeg-turbo's raw scaled decode");
  result["raw_decode"] = raw_decode_rate(files, min_side, o.min_seconds);
  const double raw = result["raw_decode"]["images_per_s"].get<double>();
  if (max_workers > 1) {
    // The same decode on every core at once: the ceiling for max_workers workers on this machine
    // (shared caches, memory bandwidth and the host's scheduling), against which their per-worker
    // rate can be read.
    std::vector<json> per_thread(max_workers);
    std::vector<std::thread> threads;
    for (int t = 0; t < max_workers; ++t)
      threads.emplace_back(
          [&, t] { per_thread[t] = raw_decode_rate(files, min_side, o.min_seconds); });
    for (auto& t : threads) t.join();
    double total = 0;
    for (const auto& r : per_thread) total += r["images_per_s"].get<double>();
    result["raw_decode_parallel"] = {{"threads", max_workers},
                                     {"images_per_s", total},
                                     {"per_thread_over_single", total / max_workers / raw}};
  }
  files.clear();

  // 3. Ours, the cache and Python at each worker count, interleaved.
  result["runs"] = json::array();
  for (int w = 0; w <= max_workers; ++w) {
    data::LoaderOptions options;
    options.batch_size = o.batch_size;
    options.workers = w;
    options.seed = 1;
    spdlog::info("workers {}: ours", w);
    Throughput ours = time_loader(dataset, transform, options, o.min_seconds);
    options.cache_path = cache_path.string();
    spdlog::info("workers {}: decoded cache", w);
    Throughput cache = time_loader(dataset, transform, options, o.min_seconds);
    json run = {{"workers", w},
                {"ours_images_per_s", ours.images_per_s()},
                {"ours_images", ours.images},
                {"ours_seconds", ours.seconds},
                {"cache_images_per_s", cache.images_per_s()},
                {"cache_images", cache.images},
                {"cache_seconds", cache.seconds}};
    // The calling thread does the work when w == 0, so it counts as one worker.
    run["ours_per_worker_over_raw"] = ours.images_per_s() / std::max(1, w) / raw;
    if (!o.skip_python) {
      spdlog::info("workers {}: python", w);
      json py = run_python(
          python, fmt::format("--root {} --workers {} --batch-size {} "
                              "--min-seconds {}",
                              shell_quote(image_dir.string()), w, o.batch_size, o.min_seconds));
      double p = py["images_per_s"].get<double>();
      run["python"] = py;
      run["python_images_per_s"] = p;
      run["ours_over_python"] = ours.images_per_s() / p;
      run["cache_over_python"] = cache.images_per_s() / p;
    }
    result["runs"].push_back(run);
  }
  result["machine"]["load_average_1min_end"] = load_average();

  // 4. The table.
  std::printf("forensight bench data: %d x %dpx q%d JPEG -> normalised %dpx batches of %d\n",
              static_cast<int>(dataset.size()), kSeedImageSidePx, kSeedImageJpegQuality,
              transform.image_size_px, o.batch_size);
  std::printf("raw libjpeg-turbo scaled decode (scale %s, 1 thread): %.1f images/s\n",
              result["raw_decode"]["scale"].get<std::string>().c_str(), raw);
  if (result.contains("raw_decode_parallel"))
    std::printf(
        "raw scaled decode, %d threads at once: %.1f images/s (%.0f%% of one thread alone "
        "per thread)\n",
        result["raw_decode_parallel"]["threads"].get<int>(),
        result["raw_decode_parallel"]["images_per_s"].get<double>(),
        100 * result["raw_decode_parallel"]["per_thread_over_single"].get<double>());
  std::printf("%7s %12s %12s %10s %16s %12s %12s\n", "workers", "ours img/s", "python img/s",
              "ours/py", "per-worker/raw", "cache img/s", "cache/py");
  for (const auto& run : result["runs"]) {
    bool py = run.contains("python_images_per_s");
    std::printf("%7d %12.1f %12s %10s %15.0f%% %12.1f %12s\n", run["workers"].get<int>(),
                run["ours_images_per_s"].get<double>(),
                py ? fmt::format("{:.1f}", run["python_images_per_s"].get<double>()).c_str() : "-",
                py ? fmt::format("{:.2f}x", run["ours_over_python"].get<double>()).c_str() : "-",
                100 * run["ours_per_worker_over_raw"].get<double>(),
                run["cache_images_per_s"].get<double>(),
                py ? fmt::format("{:.1f}x", run["cache_over_python"].get<double>()).c_str() : "-");
  }
  std::printf("load average (1 min): %.2f at start, %.2f at end, %d cores\n",
              result["machine"]["load_average_1min_start"].get<double>(),
              result["machine"]["load_average_1min_end"].get<double>(), cores);
  return result;
}

}  // namespace forensight::bench

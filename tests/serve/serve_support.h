// What the serve tests share: small untrained checkpoints written the way `forensight train`
// writes them (a resolved config plus weights; 32 px, so a forward takes milliseconds), a few tiny
// JPEGs, and each image's P(AI-generated) from `predict`'s single-image path, which every answer
// the server gives, batched or not, must equal.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../support/tiny_dataset.h"
#include "forensight/core/device.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/predictor.h"
#include "forensight/models/registry.h"
#include "forensight/serve/server.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/train_options.h"

namespace forensight::testing {

// An untrained `model` (resnet18, vit-tiny) at 32 px (or image_size_px), saved as a checkpoint
// at `path`. int8_ranges: calibration as `forensight quantize` stores it (ResNet: (28, 2)), or
// undefined.
inline std::string write_serve_checkpoint(const std::string& path, const std::string& model,
                                          int64_t seed, torch::Tensor int8_ranges = {},
                                          int image_size_px = 32) {
  train::TrainOptions options;
  options.model = model;
  options.image_size_px = image_size_px;
  options.normalization = model == "resnet18" ? "imagenet" : "half";
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto net = models::create_model(train::model_options(options));
  train::Checkpoint checkpoint;
  checkpoint.config_json = train::train_options_to_json(options).dump();
  checkpoint.int8_ranges = int8_ranges;
  train::save_checkpoint(path, *net, nullptr, checkpoint);
  return path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Checkpoints, images and their reference probabilities, made once per test program.
struct ServeFixture {
  std::string dir;
  std::vector<std::string> checkpoints;                  // resnet18, vit-tiny
  std::vector<std::string> image_names;                  // real_0.jpg, ..., fake_3.jpg
  std::vector<std::string> images;                       // their bytes
  std::map<std::string, std::vector<double>> reference;  // model -> P(AI) per image

  static const ServeFixture& get() {
    static const ServeFixture fixture = [] {
      ServeFixture f;
      f.dir = make_test_dir();
      f.checkpoints = {write_serve_checkpoint(f.dir + "/resnet18.pt", "resnet18", 1),
                       write_serve_checkpoint(f.dir + "/vit.pt", "vit-tiny", 2)};
      const std::string data = write_tiny_dataset(f.dir + "/data", {.images_per_class = 4});
      for (const std::string cls : {"0_real/real_", "1_fake/fake_"})
        for (int i = 0; i < 4; ++i) {
          const std::string path = data + "/" + cls + std::to_string(i) + ".jpg";
          f.image_names.push_back(std::filesystem::path(path).filename().string());
          f.images.push_back(read_bytes(path));
        }
      for (const auto& checkpoint : f.checkpoints) {
        eval::Detector detector = eval::load_detector(checkpoint, torch::kCPU);
        auto& probabilities = f.reference[detector.name()];
        for (const auto& image : f.images) {
          const auto p = eval::predict_bytes(
              detector, std::span(reinterpret_cast<const uint8_t*>(image.data()), image.size()),
              "x");
          probabilities.push_back(p.probability_fake);
        }
      }
      return f;
    }();
    return fixture;
  }
};

// A client of 127.0.0.1:port with generous timeouts (a loaded 2-core machine is slow).
inline httplib::Client client_of(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10);
  client.set_read_timeout(60);
  client.set_write_timeout(60);
  return client;
}

// Polls GET /readyz until it answers 200; false after `timeout_s`.
inline bool wait_until_ready(int port, double timeout_s = 60) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < until) {
    auto client = client_of(port);
    client.set_connection_timeout(1);
    if (auto res = client.Get("/readyz"); res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A started server that is ready (its models warmed up); it stops when it goes out of scope.
struct RunningServer {
  explicit RunningServer(serve::ServerOptions o) : server(std::move(o)) {
    server.start();
    EXPECT_TRUE(wait_until_ready(server.port()));
  }
  serve::Server server;
  int port() const { return server.port(); }
};

}  // namespace forensight::testing

// `forensight bench serve`: detection served over HTTP under a bounded closed-loop load on loopback
// (bench/http_load.h) at several concurrencies — `forensight serve` on a ResNet18 in int8 and fp32,
// with dynamic batching on (the server's defaults) and off (--max-batch 1), against a Python peer
// serving the same weights the way Python users do (FastAPI + uvicorn, torchvision transforms;
// bench/python/serve_peer.py) — beside `forensight eval`'s offline images/s on the same engines and
// images, all in one run, with the targets judged on that run's figures.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace forensight::bench {

struct ServeBenchOptions {
  // A ResNet18 checkpoint of `forensight train` (or `quantize`); "" = train one for a few steps on
  // the benchmark's images (the weights do not change the speed). int8 serves a calibrated copy
  // (`forensight quantize` on the benchmark's images when the checkpoint is not calibrated).
  std::string checkpoint;
  std::vector<std::string> precisions = {"int8", "fp32"};  // ours, each a server of its own
  std::vector<int> concurrency = {1, 8, 32};  // connections, each with one request in flight
  bool unbatched = true;     // also serve each precision with --max-batch 1 (no dynamic batching)
  double warmup_s = 1.0;     // per point, not recorded
  double duration_s = 5.0;   // per point, recorded
  int64_t requests = 0;      // per point, recorded at most (0 = no cap: the duration decides)
  int images = 32;           // JPEGs from `data synth`, sent round-robin
  int image_size_px = 256;   // their side
  int threads = 0;           // intra-op threads, ours and Python (0 = the machine's cores)
  int offline_images = 128;  // offline: the images repeated to this many, batch 64, 2 workers
  bool skip_offline = false;
  bool skip_python = false;
  std::vector<std::string> server_flags;  // more `forensight serve` flags for every server of ours
  std::string work_dir = "runs/bench-serve";  // images, checkpoints, weights, server logs
  std::string python = FORENSIGHT_PYTHON;
  std::string binary;  // the forensight executable that `serve` runs from
};

// Runs everything, prints the table and the targets, returns every figure with the CPU.
nlohmann::json run_serve_bench(const ServeBenchOptions& options);

}  // namespace forensight::bench

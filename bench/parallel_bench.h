// The parallel strategies on this machine, each against its alternatives and against PyTorch in
// the same run (`forensight bench parallel`):
//  - data parallel: 2 ranks x 1 thread against 1 process x 1 and x 2 threads, from the decoded
//    cache (and from JPEG files beside it), with the share of all-reduce time the overlap hides,
//    and PyTorch's DDP (torchrun, Gloo, 1 thread each) on the same model, batch and image size;
//  - pipeline: 2 CPU stages x 1 thread with M micro-batches against naive (same stages) and one
//    device x 2 threads;
//  - mixed precision: bf16 autocast against fp32 (and PyTorch's bf16 autocast).
// Every figure is images/s of whole training steps of `forensight train` (metrics.jsonl's step
// times, median after warm-up), so it measures the product, not a kernel.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace forensight::bench {

struct ParallelBenchOptions {
  std::vector<std::string> models = {"resnet18", "vit-tiny"};
  std::vector<std::string> parts = {"ddp", "pipeline", "amp"};  // which comparisons to run
  int batch_size = 32;                                          // per rank, as --batch-size
  int image_size_px = 224;                                      // model input side
  int warmup_steps = 2;                                         // steps not timed
  int timed_steps = 6;                                          // steps whose median is reported
  int micro_batches = 4;                                        // pipeline
  // Data parallel against PyTorch's: rounds of (ours 2 x 1, PyTorch DDP 2 x 1), the order
  // alternating, the ratio reported being the rounds' median. On a shared 2-core machine one
  // round's ratio moved by 0.25 between runs (docs/RESULTS.md, session 18).
  int ddp_rounds = 3;
  std::string work_dir = "runs/bench-parallel";  // dataset, cache and run directories
  bool skip_python = false;
  std::string python = FORENSIGHT_PYTHON;
  std::string binary;  // this executable (forensight), to run train and launch
};

// Runs everything, prints a table per part, returns every figure with the CPU and the commands.
nlohmann::json run_parallel_bench(const ParallelBenchOptions& options);

}  // namespace forensight::bench

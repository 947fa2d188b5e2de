#include "bench/parallel_bench.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "bench/python_peer.h"
#include "bench/statistics.h"
#include "forensight/core/cpu_info.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/core/source_dir.h"

namespace forensight::bench {
namespace {

namespace fs = std::filesystem;

// One configuration's result: global images/s of a training step and where it came from.
struct Measured {
  std::string name;
  double images_per_s = 0.0;
  double median_step_s = 0.0;
  double sync_exposed_s = 0.0;  // data parallel: median all-reduce time not hidden by backward
  std::string command;
};

std::string run_shell(const std::string& command) {
  spdlog::debug("running {}", command);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), ::pclose);
  FS_CHECK(pipe != nullptr, "cannot start: {}", command);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe.release());
  FS_CHECK(status == 0, "benchmark command failed (exit status {}): {}\noutput:\n{}", status,
           command, output);
  return output;
}

class Bench {
 public:
  explicit Bench(const ParallelBenchOptions& o) : o_(o) {
    FS_CHECK(o.timed_steps >= 1 && o.warmup_steps >= 0, "--steps must be >= 1 and --warmup >= 0");
    FS_CHECK(o.ddp_rounds >= 1, "--ddp-rounds must be >= 1, got {}", o.ddp_rounds);
    fs::create_directories(o.work_dir);
    data_ = (fs::path(o.work_dir) / "data").string();
    cache_ = (fs::path(o.work_dir) / fmt::format("data-{}.fsc", o.image_size_px)).string();
    // Enough images that no run wraps an epoch: (warm-up + timed) steps x 2 ranks x batch.
    const int images = (o.warmup_steps + o.timed_steps) * o.batch_size * 2;
    const fs::path stamp = fs::path(data_) / fmt::format(".bench-{}", images);
    if (!fs::exists(stamp)) {
      fs::remove_all(data_);
      run_shell(fmt::format("{} data synth --out {} --count {} --size {}", q(o.binary), q(data_),
                            images, o.image_size_px + 32));
      std::ofstream(stamp.string()) << images << "\n";
      fs::remove(cache_);
    }
    if (!fs::exists(cache_))
      run_shell(fmt::format("{} data cache {} --size {} --mode resize --out {}", q(o.binary),
                            q(data_), o.image_size_px, q(cache_)));
  }

  // forensight train (through the launcher when ranks > 1), timed from its metrics.jsonl.
  Measured ours(const std::string& name, const std::string& model, int ranks, int threads,
                const std::string& extra, bool from_cache = true) {
    const std::string out = (fs::path(o_.work_dir) / "runs" / slug(name + "-" + model)).string();
    fs::remove_all(out);
    const std::string flags = fmt::format(
        "train --data {} --out {} --model {} --image-size {} --batch-size {} --max-steps {} "
        "--epochs 100 --split 1.0/0.0/0.0 --hflip-prob 0 --log-every-steps 1 "
        "--checkpoint-every-epochs 0 --workers 1 --normalization {} {}{}",
        q(data_), q(out), model, o_.image_size_px, o_.batch_size, o_.warmup_steps + o_.timed_steps,
        model == "resnet18" ? "imagenet" : "half", from_cache ? "--cache " + q(cache_) + " " : "",
        extra);
    std::string command =
        ranks == 1 ? fmt::format("{} {} --threads {}", q(o_.binary), flags, threads)
                   : fmt::format(
                         "{} launch --nproc-per-node {} --threads-per-rank {} --master-port {} "
                         "-- {}",
                         q(o_.binary), ranks, threads, free_port(), flags);
    spdlog::info("bench parallel: {} {}", model, name);
    run_shell(command);
    Measured m = read_metrics(out + "/metrics.jsonl", ranks);
    m.name = name;
    m.command = command;
    return m;
  }

  Measured python(const std::string& name, const std::string& model, int ranks, int threads,
                  const std::string& amp) {
    const std::string args = fmt::format(
        "--model {} --threads {} --batch {} --image-size {} --warmup {} --steps {} --amp {}{}",
        model, threads, o_.batch_size, o_.image_size_px, o_.warmup_steps, o_.timed_steps, amp,
        model == "resnet18" ? " --channels-last" : "");
    const std::string script = core::source_dir() + "/bench/python/parallel_peer.py";
    const std::string command =
        ranks == 1 ? fmt::format("{} {} {}", q(o_.python), q(script), args)
                   : fmt::format(
                         "OMP_NUM_THREADS={} {} -m torch.distributed.run --nproc-per-node "
                         "{} --master-port {} {} {}",
                         threads, q(o_.python), ranks, free_port(), q(script), args);
    spdlog::info("bench parallel: {} {} (PyTorch)", model, name);
    const std::string output = run_shell(command);
    const size_t start = output.rfind("\n{");
    const auto json =
        nlohmann::json::parse(output.substr(start == std::string::npos ? 0 : start + 1));
    Measured m;
    m.name = name;
    m.images_per_s = json.at("images_per_s").get<double>();
    m.median_step_s = json.at("median_step_s").get<double>();
    m.command = command;
    return m;
  }

  const ParallelBenchOptions& options() const { return o_; }

  // The same data and cache, timing fewer steps (for configurations whose steps take minutes).
  Bench with_steps(int warmup_steps, int timed_steps) const {
    Bench fewer = *this;
    fewer.o_.warmup_steps = std::min(warmup_steps, o_.warmup_steps);
    fewer.o_.timed_steps = std::min(timed_steps, o_.timed_steps);
    return fewer;
  }

 private:
  Measured read_metrics(const std::string& path, int ranks) const {
    std::ifstream in(path);
    FS_CHECK(in.good(), "benchmark run wrote no metrics at '{}'", path);
    std::vector<double> step_s, exposed;
    for (std::string line; std::getline(in, line);) {
      const auto r = nlohmann::json::parse(line);
      if (r.value("kind", "") != "step" || r.at("step").get<int>() <= o_.warmup_steps) continue;
      step_s.push_back(r.at("step_s").get<double>());
      if (r.contains("sync_exposed_s")) exposed.push_back(r["sync_exposed_s"].get<double>());
    }
    FS_CHECK(!step_s.empty(), "'{}' holds no timed steps", path);
    Measured m;
    m.median_step_s = median(step_s);
    m.images_per_s = o_.batch_size * ranks / m.median_step_s;
    if (!exposed.empty()) m.sync_exposed_s = median(exposed);
    return m;
  }
  static std::string q(const std::string& s) { return shell_quote(s); }
  static std::string slug(std::string s) {
    for (char& c : s)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    return s;
  }

  ParallelBenchOptions o_;
  std::string data_, cache_;
};

nlohmann::json to_json(const Measured& m) {
  nlohmann::json j = {{"name", m.name},
                      {"images_per_s", m.images_per_s},
                      {"median_step_s", m.median_step_s},
                      {"command", m.command}};
  if (m.sync_exposed_s > 0) j["sync_exposed_s"] = m.sync_exposed_s;
  return j;
}

void print_row(const Measured& m, const Measured& base, const std::string& note = "") {
  fmt::print("  {:<44} {:>8.2f} img/s {:>7.3f} s/step {:>6.2f}x {}\n", m.name, m.images_per_s,
             m.median_step_s, m.images_per_s / base.images_per_s, note);
}

nlohmann::json ddp_part(Bench& b, const std::string& model) {
  const auto& o = b.options();
  fmt::print("\n{}: data parallel (batch {} per rank, {} px)\n", model, o.batch_size,
             o.image_size_px);
  const Measured one = b.ours("1 process x 1 thread", model, 1, 1, "");
  const Measured one2 = b.ours("1 process x 2 threads", model, 1, 2, "");
  const Measured ddp = b.ours("2 ranks x 1 thread", model, 2, 1, "");
  const Measured ddp_no_overlap =
      b.ours("2 ranks x 1 thread, all-reduce after backward", model, 2, 1, "--no-ddp-overlap");
  const Measured ddp_jpeg = b.ours("2 ranks x 1 thread, from JPEG files", model, 2, 1, "", false);
  print_row(one, one);
  print_row(one2, one);
  print_row(ddp, one,
            fmt::format("(efficiency {:.0f}%)", 50.0 * ddp.images_per_s / one.images_per_s));
  print_row(ddp_no_overlap, one);
  print_row(ddp_jpeg, one);
  const double hidden = ddp_no_overlap.sync_exposed_s > 0
                            ? 1.0 - ddp.sync_exposed_s / ddp_no_overlap.sync_exposed_s
                            : 0.0;
  fmt::print("  all-reduce exposed: {:.3f} s/step with overlap, {:.3f} without: {:.0f}% hidden\n",
             ddp.sync_exposed_s, ddp_no_overlap.sync_exposed_s, 100.0 * hidden);
  nlohmann::json j = {
      {"ours",
       {to_json(one), to_json(one2), to_json(ddp), to_json(ddp_no_overlap), to_json(ddp_jpeg)}},
      {"ddp_speedup_vs_1x1", ddp.images_per_s / one.images_per_s},
      {"ddp_scaling_efficiency", ddp.images_per_s / (2 * one.images_per_s)},
      {"ddp_vs_1x2", ddp.images_per_s / one2.images_per_s},
      {"allreduce_hidden_share", hidden}};
  if (!o.skip_python) {
    const Measured py1 = b.python("PyTorch 1 process x 1 thread", model, 1, 1, "off");
    const Measured py_ddp = b.python("PyTorch DDP 2 ranks x 1 thread", model, 2, 1, "off");
    print_row(py1, one);
    print_row(py_ddp, one);
    j["python"] = {to_json(py1), to_json(py_ddp)};
    j["pytorch_ddp_speedup_vs_1x1"] = py_ddp.images_per_s / py1.images_per_s;
    // Round 1 is the table's; later rounds time the pair again, PyTorch first in every other
    // one, so that a neighbour's load or a drift in clock speed favours neither side.
    std::vector<double> ratios = {ddp.images_per_s / py_ddp.images_per_s};
    nlohmann::json rounds = nlohmann::json::array();
    rounds.push_back({{"ours", to_json(ddp)}, {"python", to_json(py_ddp)}, {"ratio", ratios[0]}});
    for (int round = 2; round <= o.ddp_rounds; ++round) {
      const std::string ours_name = fmt::format("2 ranks x 1 thread, round {}", round);
      const std::string python_name =
          fmt::format("PyTorch DDP 2 ranks x 1 thread, round {}", round);
      Measured ours_round, python_round;
      if (round % 2 == 0) {
        python_round = b.python(python_name, model, 2, 1, "off");
        ours_round = b.ours(ours_name, model, 2, 1, "");
      } else {
        ours_round = b.ours(ours_name, model, 2, 1, "");
        python_round = b.python(python_name, model, 2, 1, "off");
      }
      ratios.push_back(ours_round.images_per_s / python_round.images_per_s);
      print_row(ours_round, one);
      print_row(python_round, one, fmt::format("(ours / PyTorch DDP {:.2f}x)", ratios.back()));
      rounds.push_back({{"ours", to_json(ours_round)},
                        {"python", to_json(python_round)},
                        {"ratio", ratios.back()}});
    }
    const double ratio = median(ratios);
    if (ratios.size() == 1) {
      fmt::print("  ours 2x1 / PyTorch DDP 2x1: {:.2f}x\n", ratio);
    } else {
      fmt::print("  ours 2x1 / PyTorch DDP 2x1: {:.2f}x, median of {} rounds ({:.2f})\n", ratio,
                 ratios.size(), fmt::join(ratios, " "));
    }
    j["ddp_vs_pytorch_ddp"] = ratio;
    j["ddp_vs_pytorch_ddp_rounds"] = rounds;
  }
  return j;
}

nlohmann::json pipeline_part(Bench& b, const std::string& model) {
  const auto& o = b.options();
  fmt::print("\n{}: model placement over 2 CPU stages (batch {}, {} px, {} micro-batches)\n", model,
             o.batch_size, o.image_size_px, o.micro_batches);
  const Measured one2 = b.ours("one device x 2 threads", model, 1, 2, "");
  const Measured naive =
      b.ours("naive: 2 stages x 1 thread", model, 1, 1, "--placement naive --stages cpu,cpu");
  const Measured pipe = b.ours(
      fmt::format("pipeline: 2 stages x 1 thread, M={}", o.micro_batches), model, 1, 2,
      fmt::format("--placement pipeline --stages cpu,cpu --micro-batches {}", o.micro_batches));
  print_row(naive, naive);
  print_row(pipe, naive);
  print_row(one2, naive);
  fmt::print(
      "  pipeline / naive {:.2f}x (ideal {:.2f}x), pipeline / one device x 2 threads {:.2f}x\n",
      pipe.images_per_s / naive.images_per_s, 2.0 * o.micro_batches / (o.micro_batches + 1.0),
      pipe.images_per_s / one2.images_per_s);
  return {{"ours", {to_json(naive), to_json(pipe), to_json(one2)}},
          {"pipeline_vs_naive", pipe.images_per_s / naive.images_per_s},
          {"pipeline_vs_one_device_2_threads", pipe.images_per_s / one2.images_per_s}};
}

nlohmann::json amp_part(Bench& b, const std::string& model) {
  const auto& o = b.options();
  fmt::print("\n{}: mixed precision on the CPU (batch {}, {} px, 2 threads; {})\n", model,
             o.batch_size, o.image_size_px,
             cpu_info().has_bf16() ? "this CPU has bf16 instructions"
                                   : "this CPU has no bf16 instructions");
  // Without bf16 instructions a step takes many times fp32's (emulated_bf16_cost: ~57 s for
  // ResNet18 at 32 images and 224 px on a Zen 3), so time 1 + 2 such steps.
  Bench bf16_bench = cpu_info().has_bf16() ? b : b.with_steps(1, 2);
  if (!cpu_info().has_bf16())
    fmt::print("  (bf16 is emulated here: its runs time {} step(s) after {} warm-up)\n",
               bf16_bench.options().timed_steps, bf16_bench.options().warmup_steps);
  const Measured fp32 = b.ours("fp32", model, 1, 2, "");
  const Measured bf16 = bf16_bench.ours("bf16 autocast", model, 1, 2, "--amp bf16");
  print_row(fp32, fp32);
  print_row(bf16, fp32);
  nlohmann::json j = {{"ours", {to_json(fp32), to_json(bf16)}},
                      {"bf16_vs_fp32", bf16.images_per_s / fp32.images_per_s}};
  if (!o.skip_python) {
    const Measured py32 = b.python("PyTorch fp32", model, 1, 2, "off");
    const Measured py16 = bf16_bench.python("PyTorch bf16 autocast", model, 1, 2, "bf16");
    print_row(py32, fp32);
    print_row(py16, fp32);
    fmt::print("  ours bf16 / PyTorch bf16: {:.2f}x\n", bf16.images_per_s / py16.images_per_s);
    j["python"] = {to_json(py32), to_json(py16)};
    j["bf16_vs_pytorch_bf16"] = bf16.images_per_s / py16.images_per_s;
    j["pytorch_bf16_vs_fp32"] = py16.images_per_s / py32.images_per_s;
  }
  return j;
}

}  // namespace

nlohmann::json run_parallel_bench(const ParallelBenchOptions& options) {
  for (const auto& part : options.parts)
    FS_CHECK(part == "ddp" || part == "pipeline" || part == "amp",
             "unknown part '{}': valid parts are ddp, pipeline, amp", part);
  FS_CHECK(!options.binary.empty(), "bench parallel: the forensight executable is unknown");
  Bench bench(options);
  fmt::print("CPU: {}\n", cpu_info().summary());
  nlohmann::json result = {{"cpu", cpu_info().to_json()},
                           {"batch_size_per_rank", options.batch_size},
                           {"image_size_px", options.image_size_px},
                           {"warmup_steps", options.warmup_steps},
                           {"timed_steps", options.timed_steps},
                           {"ddp_rounds", options.ddp_rounds}};
  for (const auto& model : options.models) {
    for (const auto& part : options.parts) {
      if (part == "ddp") result[model]["ddp"] = ddp_part(bench, model);
      if (part == "pipeline") result[model]["pipeline"] = pipeline_part(bench, model);
      if (part == "amp") result[model]["amp"] = amp_part(bench, model);
      // A part takes minutes: its table shows at once, also in a log file (stdout then buffers).
      std::fflush(stdout);
    }
  }
  return result;
}

}  // namespace forensight::bench

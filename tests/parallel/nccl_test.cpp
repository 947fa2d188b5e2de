// The CUDA plug-in and NCCL data parallelism. On any machine whose LibTorch has CUDA: the build put
// libforensight_cuda.so next to `forensight` and it exports its factory, and asking for NCCL
// without a GPU is a clear Error, not a crash. With one GPU: a one-rank group all-reduces and
// broadcasts CUDA tensors and averages CUDA gradients, and two ranks on one GPU are refused. With
// two GPUs: two ranks (launched like DistributedIntegration's) sum and average across GPUs.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <array>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "../support/build_paths.h"
#include "../support/cuda_gpus.h"
#include "../support/processes.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"
#include "forensight/parallel/cuda/nccl_plugin.h"
#include "forensight/parallel/distribution.h"
#include "forensight/parallel/gradient_reducer.h"
#include "forensight/parallel/nccl_loader.h"
#include "forensight/parallel/process_group.h"
#include "forensight/parallel/rendezvous.h"

namespace forensight::parallel {
namespace {

using forensight::testing::cuda_gpu_count;
using forensight::testing::cuda_plugin_built;
using forensight::testing::free_port;
using forensight::testing::self_path;

// Where the build put the plug-in: beside the `forensight` executable.
std::filesystem::path built_plugin() {
  return std::filesystem::path(forensight::testing::forensight_binary()).parent_path() /
         kNcclPluginFile;
}

// Sets an environment variable for one scope, restoring the previous value after.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// The test binary is not next to the plug-in: the loader finds it through the environment. (The
// loader opens it once per process, so every test that may be first to load it sets this.)
ScopedEnv plugin_env() {
  return ScopedEnv("FORENSIGHT_CUDA_PLUGIN", built_plugin().string());
}

RendezvousInfo world_of_one() {
  RendezvousInfo info;
  info.master_port = free_port();
  return info;
}

using forensight::testing::launched;

struct DlClose {
  void operator()(void* handle) const { dlclose(handle); }
};
using LibraryHandle = std::unique_ptr<void, DlClose>;

// ---- Any machine with a CUDA-enabled LibTorch

TEST(NcclPlugin, IsBuiltNextToTheExecutableAndExportsTheFactory) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  ASSERT_TRUE(std::filesystem::is_regular_file(built_plugin())) << built_plugin().string();
  const CudaRuntime& cuda = load_cuda_runtime();
  ASSERT_TRUE(cuda.loaded) << cuda.error;
  // RTLD_NODELETE, as the loader opens it: code it made may outlive this handle.
  LibraryHandle library(dlopen(built_plugin().c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
  ASSERT_NE(library, nullptr) << dlerror();
  auto factory =
      reinterpret_cast<ForensightCreateNcclBackendFn>(dlsym(library.get(), kNcclPluginFactory));
  ASSERT_NE(factory, nullptr) << dlerror();

  // The boundary holds without a GPU: bad calls come back as codes and messages, not exceptions.
  std::array<char, 512> error{};
  c10::intrusive_ptr<c10d::Backend> backend;
  EXPECT_NE(factory(nullptr, &backend, error.data(), error.size()), 0);
  EXPECT_NE(std::string(error.data()).find("null"), std::string::npos) << error.data();

  const c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  ForensightNcclArgs args;
  args.store = &store;
  args.abi_version = kNcclPluginAbiVersion + 1;
  EXPECT_NE(factory(&args, &backend, error.data(), error.size()), 0);
  EXPECT_NE(std::string(error.data()).find("ABI"), std::string::npos) << error.data();
  EXPECT_FALSE(backend.defined());

  // A message longer than the buffer is cut, still NUL-terminated.
  std::array<char, 8> small{};
  EXPECT_NE(factory(&args, &backend, small.data(), small.size()), 0);
  EXPECT_EQ(std::string(small.data()).size(), small.size() - 1);
}

TEST(NcclLoader, LooksNextToTheExecutableThenAtTheEnvironment) {
  // As strings: GoogleTest would print a path as a range of paths.
  const auto candidates = [] {
    std::vector<std::string> paths;
    for (const auto& path : nccl_plugin_candidates()) paths.push_back(path.string());
    return paths;
  };
  const std::string next_to_exe =
      (std::filesystem::path(self_path()).parent_path() / kNcclPluginFile).string();
  {
    ScopedEnv env("FORENSIGHT_CUDA_PLUGIN", "");
    EXPECT_EQ(candidates(), std::vector<std::string>{next_to_exe});
  }
  {
    // A folder names the file in it; a file is taken as it is.
    ScopedEnv env("FORENSIGHT_CUDA_PLUGIN", built_plugin().parent_path().string());
    EXPECT_EQ(candidates(), (std::vector<std::string>{next_to_exe, built_plugin().string()}));
  }
  {
    ScopedEnv env("FORENSIGHT_CUDA_PLUGIN", "/nonexistent/libforensight_cuda.so");
    EXPECT_EQ(candidates().back(), "/nonexistent/libforensight_cuda.so");
  }
}

// The loader opens the plug-in once per process, so a missing one is tried in a child: this very
// binary, running NcclWorker.MissingPlugin with the plug-in pointed at a path that does not exist.
TEST(NcclLoader, MissingPluginIsAClearError) {
  if (!load_cuda_runtime().loaded)
    GTEST_SKIP() << "LibTorch without CUDA: " << load_cuda_runtime().error;
  std::string output;
  const std::string command = fmt::format(
      "FORENSIGHT_TEST_NCCL_MISSING_PLUGIN=1 FORENSIGHT_CUDA_PLUGIN=/nonexistent/plugin.so {} "
      "--gtest_filter=NcclWorker.MissingPlugin --gtest_brief=1 2>&1",
      self_path());
  EXPECT_EQ(forensight::testing::run_command(command, &output), 0) << output;
  EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << output;
}

TEST(NcclBackend, WithoutAGpuIsAClearError) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  if (cuda_gpu_count() > 0)
    GTEST_SKIP() << "this machine has a GPU: NcclBackend.OneRank* run instead";
  const ScopedEnv env = plugin_env();
  const c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  try {
    create_nccl_backend(store, /*rank=*/0, /*size=*/1, std::chrono::seconds(10),
                        /*device_index=*/0);
    FAIL() << "an NCCL backend without a GPU";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("rank 0"), std::string::npos) << message;
    EXPECT_NE(message.find("NCCL needs a CUDA GPU"), std::string::npos) << message;
    EXPECT_NE(message.find(kNcclPluginFile), std::string::npos) << message;
  }
}

TEST(NcclBackend, ProcessGroupOnACudaDeviceWithoutAGpuIsAClearError) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  if (cuda_gpu_count() > 0)
    GTEST_SKIP() << "this machine has a GPU: NcclBackend.OneRank* run instead";
  const ScopedEnv env = plugin_env();
  try {
    ProcessGroup group(world_of_one(),
                       ProcessGroupOptions{.timeout = std::chrono::seconds(10),
                                           .device = torch::Device(torch::kCUDA, 0)});
    FAIL() << "a process group with NCCL without a GPU";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("creating the NCCL backend on cuda:0"), std::string::npos) << message;
    EXPECT_NE(message.find("GPU"), std::string::npos) << message;
  }
}

TEST(NcclBackend, CpuGroupRefusesCudaTensorsByName) {
  // Needs no GPU: the check comes before any CUDA call.
  ProcessGroup group(world_of_one(), ProcessGroupOptions{.timeout = std::chrono::seconds(10)});
  EXPECT_FALSE(group.has_nccl());
  torch::Tensor meta = torch::empty({4}, torch::TensorOptions().device(torch::kMeta));
  try {
    group.allreduce_sum(meta);
    FAIL() << "a meta tensor went through Gloo";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("meta"), std::string::npos) << e.what();
  }
}

// ---- One GPU

// A linear model's gradients, averaged over a world of one, equal the plain ones.
void check_reducer_on_gpu(ProcessGroup& group, torch::ScalarType dtype) {
  const torch::Device device = group.device();
  torch::manual_seed(3);
  torch::nn::Linear reference(64, 10), ddp(64, 10);
  reference->to(device, dtype);
  ddp->to(device, dtype);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < reference->parameters().size(); ++i)
      ddp->parameters()[i].copy_(reference->parameters()[i]);
  }
  const torch::Tensor x =
      torch::randn({16, 64}, torch::TensorOptions().device(device).dtype(dtype));
  reference->forward(x).square().mean().backward();

  GradientReducer reducer(group, ddp->parameters(),
                          GradientReducerOptions{.first_bucket_bytes = 256, .bucket_bytes = 1024});
  EXPECT_GE(reducer.bucket_count(), 2);
  reducer.begin_step(1);
  ddp->forward(x).square().mean().backward();
  const GradientSyncStats stats = reducer.finish_step();
  EXPECT_EQ(stats.bytes, (64 * 10 + 10) * static_cast<int64_t>(c10::elementSize(dtype)));
  for (size_t i = 0; i < reference->parameters().size(); ++i) {
    const torch::Tensor got = ddp->parameters()[i].grad();
    EXPECT_EQ(got.device(), device);
    EXPECT_TRUE(torch::allclose(got.cpu().to(torch::kFloat32),
                                reference->parameters()[i].grad().cpu().to(torch::kFloat32), 1e-3,
                                1e-5))
        << "parameter " << i << " " << c10::toString(dtype);
  }
}

TEST(NcclBackend, OneRankAllReducesBroadcastsAndAveragesOnTheGpu) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  if (cuda_gpu_count() < 1) GTEST_SKIP() << "needs a CUDA GPU";
  const ScopedEnv env = plugin_env();
  const torch::Device gpu(torch::kCUDA, 0);
  ProcessGroup group(world_of_one(),
                     ProcessGroupOptions{.timeout = std::chrono::seconds(60), .device = gpu});
  ASSERT_TRUE(group.has_nccl());

  torch::Tensor a = torch::arange(1000, torch::TensorOptions().device(gpu).dtype(torch::kFloat32));
  group.allreduce_sum(a);
  EXPECT_TRUE(torch::equal(a.cpu(), torch::arange(1000, torch::kFloat32)));
  std::vector<torch::Tensor> tensors = {torch::full({3}, 7, torch::TensorOptions().device(gpu)),
                                        torch::full({2}, int64_t{5}, torch::kInt64).to(gpu),
                                        torch::ones({2})};  // a CPU one goes through Gloo
  group.broadcast(tensors, /*root=*/0);
  EXPECT_EQ(tensors[0].sum().item<float>(), 21.0f);
  EXPECT_EQ(tensors[1].sum().item<int64_t>(), 10);
  // CPU-side collectives stay on Gloo.
  torch::Tensor cpu = torch::ones({4}, torch::kFloat64);
  group.allreduce_sum(cpu);
  EXPECT_EQ(group.allgather_strings("x"), std::vector<std::string>{"x"});
  group.barrier();
  // A tensor on another device than the group's is refused by name.
  if (cuda_gpu_count() > 1) {
    torch::Tensor other = torch::ones({2}, torch::TensorOptions().device(torch::kCUDA, 1));
    EXPECT_THROW(group.allreduce_sum(other), Error);
  }

  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16})
    check_reducer_on_gpu(group, dtype);
  // Gradients in float64 have no NCCL bucket here: refused, naming the dtype.
  torch::nn::Linear f64(4, 2);
  f64->to(gpu, torch::kFloat64);
  try {
    GradientReducer reducer(group, f64->parameters());
    FAIL() << "float64 buckets";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Double"), std::string::npos) << e.what();
  }
}

// Two ranks on one GPU: NCCL refuses a communicator with two ranks on one device ("Duplicate GPU
// detected"), which the group's construction reports (the eager connect) as an Error naming the
// rank. Each rank takes cuda:0 through FORENSIGHT_TEST_NCCL_SAME_GPU.
TEST(NcclIntegration, TwoRanksOnOneGpuFailAtConstruction) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  if (cuda_gpu_count() < 1) GTEST_SKIP() << "needs a CUDA GPU";
  std::string output;
  const std::string command = fmt::format(
      "FORENSIGHT_TEST_NCCL_SAME_GPU=1 FORENSIGHT_CUDA_PLUGIN={} {} launch --nproc-per-node 2 "
      "--master-port {} --grace-seconds 2 -- {} --gtest_filter=NcclWorker.SumAndAverage "
      "--gtest_brief=1 2>&1",
      built_plugin().string(), forensight::testing::forensight_binary(), free_port(), self_path());
  const int status = forensight::testing::run_command(command, &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("creating the NCCL backend on cuda:0"), std::string::npos) << output;
  EXPECT_NE(output.find("Duplicate GPU"), std::string::npos) << output;
}

// ---- Two GPUs

TEST(NcclIntegration, TwoRanksSumAndAverageAcrossGpus) {
  if (!cuda_plugin_built())
    GTEST_SKIP() << "plug-in not built (LibTorch without CUDA, or turned off)";
  if (cuda_gpu_count() < 2) GTEST_SKIP() << "needs two CUDA GPUs";
  std::string output;
  const std::string command = fmt::format(
      "FORENSIGHT_CUDA_PLUGIN={} {} launch --nproc-per-node 2 --master-port {} --grace-seconds 2 "
      "-- {} --gtest_filter=NcclWorker.SumAndAverage --gtest_brief=1 2>&1",
      built_plugin().string(), forensight::testing::forensight_binary(), free_port(), self_path());
  const int status = forensight::testing::run_command(command, &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << output;
}

// ---- Worker: runs only as a rank of a launched job (NcclIntegration.*).

TEST(NcclWorker, MissingPlugin) {
  if (!std::getenv("FORENSIGHT_TEST_NCCL_MISSING_PLUGIN"))
    GTEST_SKIP() << "runs as the child of NcclLoader.MissingPluginIsAClearError";
  const c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::HashStore>();
  try {
    create_nccl_backend(store, /*rank=*/3, /*size=*/4, std::chrono::seconds(10),
                        /*device_index=*/0);
    FAIL() << "an NCCL backend without the plug-in";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("rank 3: NCCL needs the CUDA plug-in libforensight_cuda.so"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("/nonexistent/plugin.so (no such file)"), std::string::npos) << message;
  }
}

TEST(NcclWorker, SumAndAverage) {
  if (!launched()) GTEST_SKIP() << "runs as a rank of NcclIntegration.*";
  const RendezvousInfo info = rendezvous_from_environment();
  const int index = std::getenv("FORENSIGHT_TEST_NCCL_SAME_GPU") ? 0 : info.local_rank;
  const torch::Device gpu(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  Distribution distribution(
      DistributionOptions{.rendezvous = info, .collective_timeout_s = 60, .device = gpu});
  ASSERT_EQ(distribution.world_size(), 2);
  ProcessGroup& group = *distribution.group();
  ASSERT_TRUE(group.has_nccl());
  const int r = group.rank();

  torch::Tensor sum =
      torch::full({1 << 20}, static_cast<float>(r + 1), torch::TensorOptions().device(gpu));
  group.allreduce_sum(sum);
  EXPECT_TRUE(torch::all(sum.eq(3.0f)).item<bool>());

  // Different weights per rank: attach() makes them rank 0's, then gradients are averaged.
  torch::manual_seed(10 + r);
  torch::nn::Sequential net(torch::nn::Linear(32, 64), torch::nn::ReLU(), torch::nn::Linear(64, 2));
  net->to(gpu);
  distribution.attach(*net);
  const auto firsts =
      distribution.gather_strings(fmt::format("{:.6f}", net->parameters()[0].sum().item<double>()));
  EXPECT_EQ(firsts[0], firsts[1]);

  torch::manual_seed(100 + r);
  const torch::Tensor x = torch::randn({8, 32}).to(gpu);
  distribution.begin_backward(1);
  net->zero_grad();
  net->forward(x).square().mean().backward();
  const GradientSyncStats stats = distribution.finish_backward();
  EXPECT_GT(stats.buckets, 0);
  // Every rank holds the same mean gradient.
  const auto grads = distribution.gather_strings(
      fmt::format("{:.5f}", net->parameters()[0].grad().abs().sum().item<double>()));
  EXPECT_EQ(grads[0], grads[1]);
  distribution.barrier();
}

}  // namespace
}  // namespace forensight::parallel

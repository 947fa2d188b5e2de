#include "forensight/parallel/nccl_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"
#include "forensight/parallel/cuda/nccl_plugin.h"

namespace forensight::parallel {
namespace {

// A dlopen handle; the destructor closes it. Opened with RTLD_NODELETE: objects the plug-in made
// (the backend, its threads) may outlive the handle, so dlclose never unmaps its code.
class SharedLibrary {
 public:
  SharedLibrary() = default;
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  SharedLibrary(SharedLibrary&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  SharedLibrary& operator=(SharedLibrary&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  ~SharedLibrary() { close(); }
  void* get() const { return handle_; }

 private:
  void close() {
    if (handle_ != nullptr) dlclose(handle_);
    handle_ = nullptr;
  }
  void* handle_ = nullptr;
};

struct NcclPlugin {
  SharedLibrary library;
  ForensightCreateNcclBackendFn factory = nullptr;
  std::string path;   // where it was opened from
  std::string error;  // why it is not open, when it is not
};

std::string last_dlerror() {
  const char* why = dlerror();
  return why != nullptr ? why : "unknown error";
}

NcclPlugin open_nccl_plugin() {
  NcclPlugin plugin;
  // libtorch_cuda.so first, with RTLD_GLOBAL: the plug-in's references to it (and to libc10_cuda,
  // NCCL, the CUDA runtime) then resolve to the copies already in the process.
  const CudaRuntime& cuda = load_cuda_runtime();
  if (!cuda.loaded) {
    plugin.error = fmt::format(
        "NCCL needs LibTorch's CUDA libraries: {}; build with a CUDA-enabled LibTorch", cuda.error);
    return plugin;
  }
  std::vector<std::string> tried;
  for (const std::filesystem::path& candidate : nccl_plugin_candidates()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(candidate, ec)) {
      tried.push_back(fmt::format("{} (no such file)", candidate.string()));
      continue;
    }
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      tried.push_back(fmt::format("{} ({})", candidate.string(), last_dlerror()));
      continue;
    }
    SharedLibrary library(handle);
    dlerror();  // clear, so that a null answer below is told apart from a null symbol
    void* symbol = dlsym(handle, kNcclPluginFactory);
    if (symbol == nullptr) {
      tried.push_back(fmt::format("{} (no symbol {}: {})", candidate.string(), kNcclPluginFactory,
                                  last_dlerror()));
      continue;
    }
    plugin.library = std::move(library);
    plugin.factory = reinterpret_cast<ForensightCreateNcclBackendFn>(symbol);
    plugin.path = candidate.string();
    return plugin;
  }
  plugin.error = fmt::format(
      "NCCL needs the CUDA plug-in {}: not usable at {}; build with a CUDA-enabled LibTorch "
      "(CMake option FORENSIGHT_CUDA_PLUGIN) or point FORENSIGHT_CUDA_PLUGIN at the file",
      kNcclPluginFile, fmt::join(tried, ", "));
  return plugin;
}

// Opened once per process (thread-safe); later calls get the first call's answer.
const NcclPlugin& nccl_plugin() {
  static const NcclPlugin plugin = open_nccl_plugin();
  return plugin;
}

}  // namespace

std::vector<std::filesystem::path> nccl_plugin_candidates() {
  std::vector<std::filesystem::path> candidates;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / kNcclPluginFile);
  if (const char* env = std::getenv("FORENSIGHT_CUDA_PLUGIN"); env != nullptr && *env != '\0') {
    std::filesystem::path path(env);
    if (std::filesystem::is_directory(path, ec)) path /= kNcclPluginFile;
    candidates.push_back(path);
  }
  return candidates;
}

c10::intrusive_ptr<c10d::Backend> create_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                      int rank, int size,
                                                      std::chrono::milliseconds timeout,
                                                      int device_index) {
  FS_CHECK(store.defined(), "rank {}: creating the NCCL backend needs a store", rank);
  const NcclPlugin& plugin = nccl_plugin();
  if (plugin.factory == nullptr) fail("rank {}: {}", rank, plugin.error);
  ForensightNcclArgs args;
  args.store = &store;
  args.rank = rank;
  args.size = size;
  args.timeout_ms = static_cast<int64_t>(timeout.count());
  args.device_index = device_index;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::array<char, 4096> error{};
  if (plugin.factory(&args, &backend, error.data(), error.size()) != 0 || !backend.defined())
    fail("rank {}: creating the NCCL backend on cuda:{} ({} ranks) failed: {} (plug-in {})", rank,
         device_index, size, error.data(), plugin.path);
  spdlog::debug("rank {}: NCCL backend on cuda:{} from {}", rank, device_index, plugin.path);
  return backend;
}

}  // namespace forensight::parallel

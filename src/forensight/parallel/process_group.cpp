#include "forensight/parallel/process_group.h"

// c10d's Gloo process group. USE_C10D_GLOO must be defined before its header (below). Gloo's own
// headers come from Debian's libgloo-dev (docs/DESIGN.md says why they are safe against the
// wheel's Gloo; tests/parallel/process_group_test.cpp pins every collective used here).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>

#include "forensight/core/error.h"
#include "forensight/parallel/nccl_loader.h"

namespace forensight::parallel {

struct PendingCollective::Impl {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  int rank = 0;
  std::chrono::milliseconds timeout{0};  // kNoTimeout (0): stream-ordered (NCCL)
  bool waited = false;
};

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  c10::intrusive_ptr<c10d::Backend> nccl;  // CUDA tensors; null on a CPU rank (destroyed first)
};

namespace {

// c10d reports failures (timeouts, a peer's closed connection) as c10::Error; ours name the rank
// and the operation so that a launcher's log says which rank saw what.
template <typename F>
auto translate_errors(const std::string& what, int rank, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    fail("rank {}: {} failed: {}", rank, what, e.what_without_backtrace());
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const Error*>(&e) != nullptr) throw;
    fail("rank {}: {} failed: {}", rank, what, e.what());
  }
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const RendezvousInfo& info) {
  // GLOO_SOCKET_IFNAME names the interface, as with PyTorch; a loopback master means a
  // single-machine job, which must not depend on the hostname resolving.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(info.master_addr))
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

void check_cpu_contiguous(const torch::Tensor& tensor, const std::string& what) {
  FS_CHECK(tensor.defined() && tensor.device().is_cpu() && tensor.is_contiguous(),
           "{}: the Gloo process group takes defined, contiguous CPU tensors", what);
}

// The backend that moves `tensor`: Gloo for a CPU one, NCCL for one on this rank's GPU.
c10d::Backend& backend_for(c10d::Backend& gloo, const c10::intrusive_ptr<c10d::Backend>& nccl,
                           const torch::Tensor& tensor, const torch::Device& device,
                           const std::string& what) {
  FS_CHECK(tensor.defined() && tensor.is_contiguous(), "{}: takes defined, contiguous tensors",
           what);
  if (tensor.device().is_cpu()) return gloo;
  FS_CHECK(tensor.device().is_cuda() && nccl.defined() && tensor.device() == device,
           "{}: a tensor on {} needs the group's NCCL backend on that device, and this group's "
           "device is {} (CPU tensors go through Gloo)",
           what, tensor.device().str(), device.str());
  return *nccl;
}

}  // namespace

PendingCollective::PendingCollective(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

PendingCollective::~PendingCollective() {
  if (impl_ && !impl_->waited) {
    try {
      wait();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
    }
  }
}

void PendingCollective::wait() {
  if (!impl_ || impl_->waited) return;
  impl_->waited = true;
  translate_errors(impl_->what, impl_->rank, [&] { return impl_->work->wait(impl_->timeout); });
}

namespace {

// How long wait() may block the host: Gloo's collectives run on the host and wait with the
// timeout; NCCL's run on the GPU, where waiting is stream-ordered (c10d's kNoTimeout) and NCCL's
// watchdog holds the timeout, so that the host keeps queueing work as DDP's does.
std::chrono::milliseconds host_wait_timeout(const torch::Tensor& tensor,
                                            std::chrono::milliseconds timeout) {
  return tensor.device().is_cuda() ? ::kNoTimeout : timeout;
}

}  // namespace

ProcessGroup::ProcessGroup(const RendezvousInfo& info, const ProcessGroupOptions& options)
    : info_(info), options_(options), impl_(std::make_unique<Impl>()) {
  FS_CHECK(info.world_size >= 1 && info.rank >= 0 && info.rank < info.world_size,
           "rank {} is not in [0, {})", info.rank, info.world_size);
  const std::string where = fmt::format("{}:{}", info.master_addr, info.master_port);
  translate_errors(fmt::format("rendezvous at {} ({} ranks, timeout {} s)", where, info.world_size,
                               options.timeout.count() / 1000.0),
                   info.rank, [&] {
                     c10d::TCPStoreOptions store_options;
                     store_options.port = static_cast<uint16_t>(info.master_port);
                     store_options.isServer = info.rank == 0;
                     store_options.numWorkers = static_cast<size_t>(info.world_size);
                     store_options.waitWorkers = true;
                     store_options.timeout = options.timeout;
                     auto tcp =
                         c10::make_intrusive<c10d::TCPStore>(info.master_addr, store_options);
                     // A restarted group gets fresh keys: the store of the previous attempt may
                     // still be read by a slow peer.
                     impl_->store = c10::make_intrusive<c10d::PrefixStore>(
                         fmt::format("forensight/{}", info.restart_count), tcp);
                   });
  translate_errors("creating the Gloo process group", info.rank, [&] {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo_options->devices.push_back(gloo_device(info));
    gloo_options->threads = options.gloo_threads;
    impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, info.rank,
                                                              info.world_size, gloo_options);
  });
  if (options.device.is_cuda()) {
    FS_CHECK(options.device.has_index(),
             "rank {}: the NCCL backend needs an indexed device (cuda:N), got {}", info.rank,
             options.device.str());
    const std::string what = fmt::format("creating the NCCL backend on {}", options.device.str());
    translate_errors(what, info.rank, [&] {
      // Its own keys (NCCL's unique id, per communicator) apart from Gloo's.
      auto nccl_store = c10::make_intrusive<c10d::PrefixStore>("nccl", impl_->store);
      impl_->nccl = create_nccl_backend(nccl_store, info.rank, info.world_size, options.timeout,
                                        options.device.index());
    });
  }
}

ProcessGroup::~ProcessGroup() {
  if (!impl_ || !impl_->nccl.defined()) return;
  // NCCL's communicators are finalised (shutdown) on a normal exit and aborted while an exception
  // unwinds: a peer may be dead then, and finalising would wait for it.
  try {
    if (std::uncaught_exceptions() > 0)
      impl_->nccl->abort();
    else
      impl_->nccl->shutdown();
  } catch (const std::exception& e) {
    spdlog::warn("rank {}: closing the NCCL backend: {}", rank(), e.what());
  }
  impl_->nccl.reset();
}

bool ProcessGroup::has_nccl() const {
  return impl_->nccl.defined();
}

PendingCollective ProcessGroup::allreduce_sum_async(torch::Tensor& tensor) {
  c10d::Backend& backend =
      backend_for(*impl_->gloo, impl_->nccl, tensor, options_.device, "all-reduce");
  auto pending = std::make_shared<PendingCollective::Impl>();
  pending->what =
      fmt::format("all-reduce of {} values on {}", tensor.numel(), tensor.device().str());
  pending->rank = rank();
  pending->timeout = host_wait_timeout(tensor, options_.timeout);
  pending->work = translate_errors(pending->what, rank(), [&] {
    std::vector<torch::Tensor> tensors{tensor};
    return backend.allreduce(tensors, c10d::AllreduceOptions{});
  });
  return PendingCollective(std::move(pending));
}

void ProcessGroup::allreduce_sum(torch::Tensor& tensor) {
  allreduce_sum_async(tensor).wait();
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  FS_CHECK(root >= 0 && root < size(), "broadcast root {} is not a rank of [0, {})", root, size());
  for (auto& t : tensors) {
    c10d::Backend& backend =
        backend_for(*impl_->gloo, impl_->nccl, t, options_.device, "broadcast");
    c10d::BroadcastOptions broadcast_options;
    broadcast_options.rootRank = root;
    std::vector<torch::Tensor> one{t};
    auto work = translate_errors("broadcast", rank(),
                                 [&] { return backend.broadcast(one, broadcast_options); });
    translate_errors("broadcast", rank(),
                     [&] { return work->wait(host_wait_timeout(t, options_.timeout)); });
  }
}

std::vector<torch::Tensor> ProcessGroup::allgather(const torch::Tensor& tensor) {
  check_cpu_contiguous(tensor, "all-gather");
  std::vector<torch::Tensor> inputs{tensor};
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < size(); ++r) outputs[0].push_back(torch::empty_like(tensor));
  auto work = translate_errors("all-gather", rank(),
                               [&] { return impl_->gloo->allgather(outputs, inputs); });
  translate_errors("all-gather", rank(), [&] { return work->wait(options_.timeout); });
  return outputs[0];
}

std::vector<std::string> ProcessGroup::allgather_strings(const std::string& value) {
  // Lengths first, then every string padded to the longest.
  auto length = torch::tensor({static_cast<int64_t>(value.size())}, torch::kInt64);
  int64_t longest = 0;
  std::vector<int64_t> lengths;
  for (const auto& l : allgather(length)) {
    lengths.push_back(l.item<int64_t>());
    longest = std::max(longest, lengths.back());
  }
  auto bytes = torch::zeros({std::max<int64_t>(longest, 1)}, torch::kUInt8);
  std::memcpy(bytes.data_ptr<uint8_t>(), value.data(), value.size());
  std::vector<std::string> values;
  const auto gathered = allgather(bytes);
  for (int r = 0; r < size(); ++r)
    values.emplace_back(reinterpret_cast<const char*>(gathered[r].data_ptr<uint8_t>()),
                        static_cast<size_t>(lengths[r]));
  return values;
}

void ProcessGroup::barrier() {
  auto work = translate_errors("barrier", rank(), [&] { return impl_->gloo->barrier(); });
  translate_errors("barrier", rank(), [&] { return work->wait(options_.timeout); });
}

}  // namespace forensight::parallel

#include "forensight/parallel/process_group.h"

// c10d's Gloo process group. USE_C10D_GLOO must be defined before its header (below). Gloo's own
// headers come from Debian's libgloo-dev (docs/DESIGN.md says why they are safe against the
// wheel's Gloo; tests/parallel/process_group_test.cpp pins every collective used here).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "forensight/core/error.h"
#include "forensight/parallel/nccl_loader.h"

namespace forensight::parallel {
namespace {

using Clock = std::chrono::steady_clock;

std::string message_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e))
    return c10_error->what_without_backtrace();
  return e.what();
}

// Which collective each rank has been waiting in, kept on the group's store, so that a rank whose
// collective times out can name the peers that never reached it (a hung rank is otherwise only
// "a timeout" on every other rank). Collectives are numbered in the order this rank issues them,
// which c10d requires to be the same on every rank. Only a wait that outlasts a slice writes to
// the store, so a healthy step costs nothing; PyTorch's NCCL desync report does the same with a
// write per collective.
class CollectiveWatch {
 public:
  CollectiveWatch(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size)
      : store_(std::move(store)), rank_(rank), world_size_(world_size) {}

  int rank() const { return rank_; }
  int64_t next() { return ++issued_; }
  // Once a collective has failed the group is done for: later ones would each wait out a timeout.
  void mark_failed() { failed_ = true; }
  bool failed() const { return failed_; }

  // Best effort: the store lives in rank 0's process, and a diagnosis must not fail the wait.
  void record_waiting(int64_t collective) {
    try {
      store_->set(key(rank_), std::to_string(collective));
    } catch (const std::exception& e) {
      spdlog::debug("rank {}: cannot record collective #{} on the store: {}", rank_, collective,
                    message_of(e));
    }
  }

  // "rank 1 never reached it (the last collective it waited in was #12)": every peer that has
  // not recorded waiting in `collective` or a later one. Peers that reached it record that within
  // a slice, so this holds for a wait that lasted longer than that.
  std::string diagnose(int64_t collective) const {
    std::vector<std::string> absent;
    try {
      for (int r = 0; r < world_size_; ++r) {
        if (r == rank_) continue;
        int64_t last = 0;  // 0: it never waited in one for longer than a slice
        if (store_->check({key(r)})) {
          const std::vector<uint8_t> value = store_->get(key(r));
          last = std::stoll(std::string(value.begin(), value.end()));
        }
        if (last >= collective) continue;
        absent.push_back(
            last > 0 ? fmt::format("rank {} (the last collective it waited in was #{})", r, last)
                     : fmt::format("rank {}", r));
      }
    } catch (const std::exception& e) {
      return fmt::format("which ranks reached it is unknown (the store is unreadable: {})",
                         message_of(e));
    }
    if (absent.empty()) return "every other rank was waiting in it too";
    return fmt::format(
        "{} never reached it: {} hung, died or is stuck outside the collectives (a deadlock, a "
        "stalled file system, a different sequence of collectives)",
        fmt::join(absent, ", "), absent.size() == 1 ? "that rank" : "those ranks");
  }

 private:
  static std::string key(int rank) { return fmt::format("collective_waited/{}", rank); }

  c10::intrusive_ptr<c10d::Store> store_;
  int rank_ = 0;
  int world_size_ = 1;
  std::atomic<int64_t> issued_{0};
  std::atomic<bool> failed_{false};
};

// Waits for a host-side (Gloo) collective issued at `issued_at`, in slices: a wait that outlasts a
// slice is recorded on the store, and a collective that fails after waiting longer than two
// slices says which peers never reached it. The deadline is the group's timeout from the issue,
// as Gloo's own.
void wait_watched(c10d::Work& work, const std::string& what, int64_t collective,
                  Clock::time_point issued_at, std::chrono::milliseconds timeout,
                  CollectiveWatch& watch) {
  const std::chrono::milliseconds slice = std::clamp<std::chrono::milliseconds>(
      timeout / 10, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
  const Clock::time_point started = Clock::now(), deadline = issued_at + timeout;
  bool recorded = false;
  auto diagnosis = [&] {
    return Clock::now() - started >= 2 * slice ? "; " + watch.diagnose(collective) : std::string();
  };
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !work.isCompleted()) {
      watch.mark_failed();
      fail("rank {}: {} (collective #{}) timed out after {} s{}", watch.rank(), what, collective,
           timeout.count() / 1000.0, diagnosis());
    }
    try {
      work.wait(std::clamp(left, std::chrono::milliseconds(1), slice));
      return;
    } catch (const std::exception& e) {
      // A wait that ended with the slice leaves the work pending; a finished one failed.
      if (work.isCompleted()) {
        if (!work.exception()) return;  // it finished just after the slice ended
        watch.mark_failed();
        fail("rank {}: {} (collective #{}) failed: {}{}", watch.rank(), what, collective,
             message_of(e), diagnosis());
      }
    }
    if (!recorded) watch.record_waiting(collective), recorded = true;
  }
}

}  // namespace

struct PendingCollective::Impl {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  int rank = 0;
  std::chrono::milliseconds timeout{0};  // kNoTimeout (0): stream-ordered (NCCL)
  int64_t collective = 0;                // its number on this rank (CollectiveWatch)
  Clock::time_point issued_at;
  std::shared_ptr<CollectiveWatch> watch;
  bool waited = false;
};

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  c10::intrusive_ptr<c10d::Backend> nccl;  // CUDA tensors; null on a CPU rank (destroyed first)
  std::shared_ptr<CollectiveWatch> watch;  // shared with the pending collectives
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
  // After a failed collective nothing more is waited for (each would wait out its timeout): the
  // exception that failed it is on its way, and Gloo's work keeps its tensors alive.
  if (impl_ && impl_->watch && impl_->watch->failed()) return;
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
  if (impl_->timeout == ::kNoTimeout) {
    translate_errors(impl_->what, impl_->rank, [&] { return impl_->work->wait(impl_->timeout); });
    return;
  }
  wait_watched(*impl_->work, impl_->what, impl_->collective, impl_->issued_at, impl_->timeout,
               *impl_->watch);
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
  impl_->watch = std::make_shared<CollectiveWatch>(impl_->store, info.rank, info.world_size);
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
  if (impl_ && impl_->watch && impl_->watch->failed() && impl_->gloo.defined()) {
    // Gloo's destructor first runs every queued collective, each to its own timeout, a few at a
    // time: after a failure that would hold this rank's exit (and the job's end) for several
    // timeouts. Its threads keep what they use alive and end with the process.
    spdlog::debug("rank {}: a collective failed; leaving Gloo's queued work to the exit", rank());
    [[maybe_unused]] c10d::ProcessGroupGloo* leaked = impl_->gloo.release();
  }
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
  pending->collective = impl_->watch->next();
  pending->issued_at = Clock::now();
  pending->watch = impl_->watch;
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
    const int64_t collective = impl_->watch->next();
    const Clock::time_point issued_at = Clock::now();
    auto work = translate_errors("broadcast", rank(),
                                 [&] { return backend.broadcast(one, broadcast_options); });
    if (t.device().is_cuda())
      translate_errors("broadcast", rank(), [&] { return work->wait(::kNoTimeout); });
    else
      wait_watched(*work, fmt::format("broadcast of {} values from rank {}", t.numel(), root),
                   collective, issued_at, options_.timeout, *impl_->watch);
  }
}

std::vector<torch::Tensor> ProcessGroup::allgather(const torch::Tensor& tensor) {
  check_cpu_contiguous(tensor, "all-gather");
  std::vector<torch::Tensor> inputs{tensor};
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < size(); ++r) outputs[0].push_back(torch::empty_like(tensor));
  const int64_t collective = impl_->watch->next();
  const Clock::time_point issued_at = Clock::now();
  auto work = translate_errors("all-gather", rank(),
                               [&] { return impl_->gloo->allgather(outputs, inputs); });
  wait_watched(*work, fmt::format("all-gather of {} values", tensor.numel()), collective, issued_at,
               options_.timeout, *impl_->watch);
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
  const int64_t collective = impl_->watch->next();
  const Clock::time_point issued_at = Clock::now();
  auto work = translate_errors("barrier", rank(), [&] { return impl_->gloo->barrier(); });
  wait_watched(*work, "barrier", collective, issued_at, options_.timeout, *impl_->watch);
}

}  // namespace forensight::parallel

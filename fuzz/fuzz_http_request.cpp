// The HTTP service as a client's bytes reach it: Server::answer_connection (serve/server.h) hands
// the input to the same connection loop a socket gets (serve/http_server.h, its head and body
// limits), httplib's request parser (Debian's compiled libcpp-httplib: not instrumented, so its own
// branches are not in cov) and every route's handler — routing, 404/405, the API key, body and
// multipart reading, image sniffing, the header check and pixel limit, decoding, the batcher and a
// forward pass of an untrained 32 px ResNet18 written at start. cpp-httplib's own fuzzer
// (test/fuzzing/server_fuzzer.cc) drives process_request through a fake Stream the same way.
// A finding: any crash or sanitizer report, an answer that is not HTTP, or a 500 (an exception no
// handler expected).
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "forensight/models/registry.h"
#include "forensight/serve/server.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/train_options.h"

namespace {

// An untrained 32 px ResNet18 checkpoint, as `forensight train` writes one.
std::string write_checkpoint(const std::string& path) {
  forensight::train::TrainOptions options;
  options.model = "resnet18";
  options.image_size_px = 32;
  options.normalization = "imagenet";
  torch::manual_seed(1);
  auto net = forensight::models::create_model(forensight::train::model_options(options));
  forensight::train::Checkpoint checkpoint;
  checkpoint.config_json = forensight::train::train_options_to_json(options).dump();
  forensight::train::save_checkpoint(path, *net, nullptr, checkpoint);
  return path;
}

forensight::serve::Server* g_server = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::warn);
  torch::set_num_threads(1);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("forensight-fuzz-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  forensight::serve::ServerOptions options;
  options.checkpoints = {write_checkpoint((dir / "resnet18.pt").string())};
  options.max_body_mb = 1;
  options.max_megapixels = 0.25;  // decodes stay cheap; the limit's check is what is fuzzed
  options.max_batch_images = 8;
  options.queue_size = 1024;  // one request at a time never fills it: a 503 would be a finding
  options.http_threads = 1;
  options.max_decodes = 1;
  // Never started: nothing listens; the server is kept for the process's life (its batcher thread
  // ends with the process).
  g_server = new forensight::serve::Server(options);
  std::filesystem::remove_all(dir);
  return 0;
}

[[noreturn]] void report(const char* what, const std::string& answer) {
  std::fprintf(stderr, "fuzz_http_request: %s; the connection's answer:\n%s\n", what,
               answer.substr(0, 4000).c_str());
  std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string answer =
      g_server->answer_connection(std::string_view(reinterpret_cast<const char*>(data), size));
  // Every answer the connection wrote, one after the other by their Content-Length: each must be
  // HTTP and none a 500. An answer without a length ends the walk.
  size_t at = 0;
  while (at < answer.size()) {
    if (answer.compare(at, 9, "HTTP/1.1 ") != 0) report("an answer is not HTTP", answer);
    const int status = std::atoi(answer.c_str() + at + 9);
    if (status < 100 || status > 599) report("an answer has no valid status", answer);
    if (status == 500) report("a 500: an exception no handler expected", answer);
    const size_t head_end = answer.find("\r\n\r\n", at);
    if (head_end == std::string::npos) report("an answer's head does not end", answer);
    std::string head = answer.substr(at, head_end - at);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t length_at = head.find("\r\ncontent-length: ");
    if (length_at == std::string::npos && status >= 200) break;
    const size_t length = length_at == std::string::npos
                              ? 0
                              : std::strtoull(head.c_str() + length_at + 18, nullptr, 10);
    at = head_end + 4 + length;
    // An answer to HEAD states the length of a body it does not send.
    if (at < answer.size() && answer.compare(at, 9, "HTTP/1.1 ") != 0 &&
        answer.compare(head_end + 4, 9, "HTTP/1.1 ") == 0)
      at = head_end + 4;
  }
  return 0;
}

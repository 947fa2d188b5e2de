// serve/server under abuse (issue #18 section 6): the real server on a loopback port, spoken to
// with raw bytes where httplib's client would never send them — malformed requests, oversized
// heads and bodies, slow and silent clients, decompression bombs, floods beyond the queue — and
// after each, a normal request still gets the answer `predict` gives. The flood's memory is
// measured on the `forensight serve` process itself, against a cap derived from its options.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>

#include "../support/build_paths.h"
#include "../support/processes.h"
#include "forensight/data/png_encoder.h"
#include "forensight/serve/server.h"
#include "serve_support.h"

namespace forensight::serve {
namespace {

using testing::client_of;
using testing::ServeFixture;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

ServerOptions abuse_options() {
  ServerOptions o;
  o.checkpoints = {ServeFixture::get().checkpoints[0]};  // resnet18
  o.port = 0;
  o.keep_alive_s = 1;
  o.grace_s = 5;
  o.max_body_mb = 1;
  o.instances = 1;  // the flood's queue-full count below assumes one worker
  return o;
}

using Running = testing::RunningServer;

// The server still answers a normal request, on a new connection, with `predict`'s probability.
void expect_normal_prediction(int port, size_t image = 3) {
  const auto& f = ServeFixture::get();
  auto res = client_of(port).Post("/v1/detect", f.images[image], "image/jpeg");
  ASSERT_TRUE(res) << "no answer to a normal request: " << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = nlohmann::json::parse(res->body);
  EXPECT_NEAR(answer["models"][0]["probability_fake"].get<double>(),
              f.reference.at("resnet18")[image], 1e-5);
}

struct RawResponse {
  int status = 0;  // 0: no status line came
  std::string head;
  std::string body;
};

// A TCP client that sends whatever bytes it is given: the requests httplib's client never makes.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  // False once the server has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    size_t offset = 0;
    while (offset < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL);
      if (n <= 0) return false;
      offset += static_cast<size_t>(n);
    }
    return true;
  }
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  // The first answer: its status line and headers, and a body of its Content-Length.
  RawResponse read_response(double timeout_s = 20) {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(timeout_s));
    RawResponse r;
    size_t head_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      if (head_end == std::string::npos && (head_end = data_.find("\r\n\r\n")) != std::string::npos)
        length = content_length(data_.substr(0, head_end));
      if (head_end != std::string::npos && data_.size() >= head_end + 4 + length) break;
      if (!receive(until)) break;
    }
    if (data_.rfind("HTTP/1.", 0) == 0 && data_.size() > 12) r.status = std::atoi(&data_[9]);
    if (head_end != std::string::npos) {
      r.head = data_.substr(0, head_end);
      r.body = data_.substr(head_end + 4, length);
    }
    return r;
  }

  // Whether the server closes the connection within timeout_s (whatever it sends first).
  bool closed_within(double timeout_s) {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(timeout_s));
    while (Clock::now() < until)
      if (!receive(until)) return Clock::now() < until;
    return false;
  }

 private:
  static size_t content_length(std::string head) {
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = head.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::strtoull(head.c_str() + at + 17, nullptr, 10);
  }
  // Appends what arrives before `until`; false at a timeout, the end or an error.
  bool receive(Clock::time_point until) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    data_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string data_;
};

// Checks that `r` is one of `statuses` with a JSON error containing `needle`.
void expect_json_error(const RawResponse& r, std::vector<int> statuses, const std::string& needle,
                       const std::string& what) {
  EXPECT_NE(std::find(statuses.begin(), statuses.end(), r.status), statuses.end())
      << what << ": status " << r.status << "\n"
      << r.head << "\n"
      << r.body;
  const auto body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(body.is_object() && body.contains("error")) << what << ": " << r.body;
  EXPECT_NE(body["error"].get<std::string>().find(needle), std::string::npos)
      << what << ": " << r.body;
}

// The process's peak resident memory (VmHWM) and current (VmRSS), in bytes, from /proc.
struct Memory {
  int64_t peak = 0;
  int64_t current = 0;
};
Memory memory_of(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  Memory m;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) m.peak = std::stoll(line.substr(6)) << 10;
    if (line.rfind("VmRSS:", 0) == 0) m.current = std::stoll(line.substr(6)) << 10;
  }
  return m;
}
// Resets this process's VmHWM to its current RSS (Linux's clear_refs, value 5).
void reset_peak_memory() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

// The fuzz target's entry point serves a connection's bytes as the socket path does.
TEST(ServeAbuseTest, AnswerConnectionServesPipelinedRequestsWithoutASocket) {
  Server server(abuse_options());  // never started
  const std::string image = ServeFixture::get().images[2];
  const std::string answer = server.answer_connection(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: " +
      std::to_string(image.size()) + "\r\n\r\n" + image + "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  const size_t second = answer.find("HTTP/1.1 ", 1);
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_EQ(answer.compare(second, 12, "HTTP/1.1 200"), 0) << answer;
  const size_t body = answer.find("{\"image\"", second);
  ASSERT_NE(body, std::string::npos) << answer;
  const auto json =
      nlohmann::json::parse(answer.substr(body, answer.find("HTTP/1.1 ", body) - body));
  EXPECT_NEAR(json["models"][0]["probability_fake"].get<double>(),
              ServeFixture::get().reference.at("resnet18")[2], 1e-5);
  EXPECT_NE(answer.find("HTTP/1.1 400", body), std::string::npos) << answer;
}

TEST(ServeAbuseTest, MalformedRequestsAreAnswered4xxAndTheServerCarriesOn) {
  Running r(abuse_options());
  const std::string post = "POST /v1/detect HTTP/1.1\r\nHost: x\r\n";
  const std::string multipart = post + "Content-Type: multipart/form-data; boundary=XYZ\r\n";
  const std::string bad_parts = "--XYZ\r\nthis is no header\r\n\r\ndata\r\n--XYZ--\r\n";
  const std::string unclosed =
      "--XYZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\nabc";
  struct Case {
    std::string what;
    std::string bytes;
    std::vector<int> statuses;
    std::string needle;
    bool finish = false;  // the client shuts its side after sending
  };
  const std::vector<Case> cases = {
      {"garbage request line", "THIS IS NOT HTTP\r\n\r\n", {400}, "malformed"},
      {"TLS hello on the plain port",
       std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9) + "\r\n\r\n",
       {400},
       "malformed"},
      {"no HTTP version", "GET /healthz\r\n\r\n", {400}, "malformed"},
      {"unknown method", "BREW /v1/detect HTTP/1.1\r\nHost: x\r\n\r\n", {400, 405}, ""},
      {"Content-Length not a number",
       post + "Content-Length: abc\r\nConnection: close\r\n\r\n",
       {400},
       "empty"},
      {"negative Content-Length", post + "Content-Length: -1\r\n\r\n", {413}, "--max-body-mb"},
      {"Content-Length past 2^64",
       post + "Content-Length: 99999999999999999999999\r\n\r\n",
       {413},
       "--max-body-mb"},
      {"Content-Length longer than the body",
       post + "Content-Length: 100\r\n\r\nshort",
       {400},
       "truncated",
       true},
      {"chunk size not hex",
       post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
       {400},
       ""},
      {"multipart without a boundary",
       post + "Content-Type: multipart/form-data\r\nContent-Length: 10\r\n\r\n0123456789",
       {400},
       ""},
      {"multipart part without headers",
       multipart + "Content-Length: " + std::to_string(bad_parts.size()) + "\r\n\r\n" + bad_parts,
       {400},
       ""},
      {"multipart never closed",
       multipart + "Content-Length: " + std::to_string(unclosed.size()) + "\r\n\r\n" + unclosed,
       {400},
       ""},
      {"NUL in the path",
       std::string("GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", 35),
       {400, 404},
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    RawClient client(r.port());
    ASSERT_TRUE(client.connected());
    client.send(c.bytes);
    if (c.finish) client.finish_sending();
    expect_json_error(client.read_response(), c.statuses, c.needle, c.what);
    expect_normal_prediction(r.port());
  }
}

TEST(ServeAbuseTest, OversizedHeadsAreRefusedWith431Or400) {
  ServerOptions o = abuse_options();
  o.max_header_kb = 16;
  Running r(o);
  std::string many_headers = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) many_headers += "X-Filler-" + std::to_string(i) + ": abcdefgh\r\n";
  many_headers += "\r\n";
  struct Case {
    std::string what;
    std::string bytes;
    std::vector<int> statuses;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"a 100 KiB URI",
       "GET /" + std::string(100 << 10, 'a') + " HTTP/1.1\r\n\r\n",
       {431},
       "16 KiB (--max-header-kb)"},
      {"2000 headers", many_headers, {431}, "--max-header-kb"},
      {"one 12 KiB header line (httplib's own limit is 8 KiB a line)",
       "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(12 << 10, 'b') + "\r\n\r\n",
       {400, 431},
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    RawClient client(r.port());
    ASSERT_TRUE(client.connected());
    client.send(c.bytes);
    expect_json_error(client.read_response(), c.statuses, c.needle, c.what);
    expect_normal_prediction(r.port());
  }

  // A request line that never ends: the server stops reading at the limit and closes, instead of
  // growing a buffer for as long as the client sends (httplib 0.11's line reader would).
  reset_peak_memory();
  const int64_t before = memory_of("self").current;
  RawClient endless(r.port());
  ASSERT_TRUE(endless.connected());
  std::string chunk = "GET /" + std::string(1 << 20, 'z');
  int sent_mb = 0;
  while (sent_mb < 64 && endless.send(chunk)) {
    chunk.assign(1 << 20, 'z');
    ++sent_mb;
  }
  EXPECT_LT(sent_mb, 64) << "the server read 64 MiB of one request line";
  EXPECT_TRUE(endless.closed_within(5));
  EXPECT_LT(memory_of("self").peak - before, int64_t{64} << 20);
  expect_normal_prediction(r.port());
}

TEST(ServeAbuseTest, OversizedBodiesAre413BeforeTheyAreRead) {
  Running r(abuse_options());  // 1 MiB bodies at most
  const std::string post = "POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n";
  {
    SCOPED_TRACE("declared 50 MiB, asking first");
    RawClient client(r.port());
    client.send(post + "Content-Length: 52428800\r\nExpect: 100-continue\r\n\r\n");
    const auto start = Clock::now();
    // httplib 0.11 answers on this path with the status alone, without the JSON body.
    EXPECT_EQ(client.read_response(5).status, 413);
    EXPECT_LT(seconds_since(start), 2.0);
  }
  {
    SCOPED_TRACE("declared 50 MiB, body not sent yet");
    RawClient client(r.port());
    client.send(post + "Content-Length: 52428800\r\n\r\n" + std::string(4096, 'x'));
    const auto start = Clock::now();
    expect_json_error(client.read_response(5), {413}, "1 MiB (--max-body-mb)", "declared");
    EXPECT_LT(seconds_since(start), 2.0) << "the server waited for the body before refusing it";
    EXPECT_TRUE(client.closed_within(5));
  }
  {
    SCOPED_TRACE("chunked, 3 MiB");
    RawClient client(r.port());
    client.send(post + "Transfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(1 << 16, 'x') + "\r\n";
    for (int i = 0; i < 48 && client.send(chunk); ++i) {
    }
    expect_json_error(client.read_response(10), {413}, "--max-body-mb", "chunked");
  }
  {
    SCOPED_TRACE("a 3 MiB multipart batch");
    auto res = client_of(r.port()).Post(
        "/v1/detect/batch", httplib::MultipartFormDataItems{
                                {"images", std::string(3 << 20, 'x'), "big.jpg", "image/jpeg"}});
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 413) << res->body;
  }
  expect_normal_prediction(r.port());
}

TEST(ServeAbuseTest, SlowAndSilentClientsAreDroppedWhileOthersAreAnswered) {
  ServerOptions o = abuse_options();
  o.head_timeout_s = 2;
  o.body_timeout_s = 2;
  o.keep_alive_s = 1;
  o.http_threads = 16;
  Running r(o);
  constexpr int kSlow = 4;
  constexpr int kSilent = 4;
  std::vector<double> dropped_after(kSlow * 2 + kSilent, -1.0);
  std::vector<RawResponse> answers(kSlow * 2);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSlow * 2; ++i)
    threads.emplace_back([&, i] {
      // Half send their headers a byte every 200 ms (each read is quick: only the head's deadline
      // stops them); half send a body that way after a complete head.
      const bool slow_body = i >= kSlow;
      RawClient client(r.port());
      const auto start = Clock::now();
      std::string first = "POST /v1/detect HTTP/1.1\r\nHost: x\r\n";
      if (slow_body) first += "Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n";
      if (!client.send(first)) return;
      for (int k = 0; k < 100 && seconds_since(start) < 20; ++k) {
        if (!client.send(slow_body ? "x" : "X")) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (client.read_response(0.005).status != 0) {  // the server has answered: read it all
          answers[i] = client.read_response(5);
          break;
        }
      }
      if (answers[i].status == 0) answers[i] = client.read_response(5);
      client.closed_within(5);
      dropped_after[i] = seconds_since(start);
    });
  for (int i = 0; i < kSilent; ++i)
    threads.emplace_back([&, i] {
      RawClient client(r.port());
      const auto start = Clock::now();
      if (client.closed_within(10)) dropped_after[kSlow * 2 + i] = seconds_since(start);
    });
  // Meanwhile, normal clients get their answers at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double slowest = 0;
  const auto& f = ServeFixture::get();
  for (int k = 0; k < 10; ++k) {
    const auto start = Clock::now();
    auto res = client_of(r.port()).Post("/v1/detect", f.images[k % 8], "image/jpeg");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    slowest = std::max(slowest, seconds_since(start));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_LT(slowest, 1.0) << "a normal request waited behind the slow clients";
  for (auto& t : threads) t.join();
  for (int i = 0; i < kSlow * 2; ++i) {
    SCOPED_TRACE(i < kSlow ? "slow head" : "slow body");
    expect_json_error(answers[i], {408}, i < kSlow ? "--head-timeout-s" : "--body-timeout-s",
                      "slow client");
    EXPECT_GT(dropped_after[i], 1.5);
    EXPECT_LT(dropped_after[i], 5.0);
  }
  for (int i = 0; i < kSilent; ++i) {
    EXPECT_GT(dropped_after[kSlow * 2 + i], 0.5) << "silent client " << i;
    EXPECT_LT(dropped_after[kSlow * 2 + i], 3.0) << "silent client " << i;
  }
  expect_normal_prediction(r.port());
}

// A PNG of width x height whose IHDR is valid (its CRC right) and whose pixels are a few bytes.
std::string png_declaring(uint32_t width, uint32_t height) {
  const auto chunk = [](const std::string& type, const std::string& data) {
    std::string out;
    for (int s : {24, 16, 8, 0}) out += static_cast<char>((data.size() >> s) & 0xff);
    const std::string body = type + data;
    out += body;
    const uLong crc =
        ::crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    for (int s : {24, 16, 8, 0}) out += static_cast<char>((crc >> s) & 0xff);
    return out;
  };
  std::string ihdr;
  for (uint32_t v : {width, height})
    for (int s : {24, 16, 8, 0}) ihdr += static_cast<char>((v >> s) & 0xff);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  // A deflate stream of one zero row would be fine too; the header is what must refuse it.
  const std::string idat("\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) +
         chunk("IEND", "");
}

// The fixture's JPEG with its frame header (SOF) saying width x height.
std::string jpeg_declaring(uint16_t width, uint16_t height) {
  std::string jpeg = ServeFixture::get().images[0];
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    const auto marker = static_cast<unsigned char>(jpeg[i + 1]);
    if (static_cast<unsigned char>(jpeg[i]) == 0xff && marker >= 0xc0 && marker <= 0xc2) {
      jpeg[i + 5] = static_cast<char>(height >> 8);
      jpeg[i + 6] = static_cast<char>(height & 0xff);
      jpeg[i + 7] = static_cast<char>(width >> 8);
      jpeg[i + 8] = static_cast<char>(width & 0xff);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker in the fixture's JPEG";
  return jpeg;
}

TEST(ServeAbuseTest, DecompressionBombsAreRefusedByTheirHeaderWithoutDecoding) {
  Running r(abuse_options());  // 40 megapixels at most
  const std::vector<std::pair<std::string, std::string>> bombs = {
      {"PNG 60000x60000", png_declaring(60000, 60000)},
      {"JPEG 60000x60000", jpeg_declaring(60000, 60000)},
      {"PNG 200000x20000", png_declaring(200000, 20000)},
  };
  reset_peak_memory();
  const int64_t before = memory_of("self").current;
  auto client = client_of(r.port());
  for (const auto& [what, bytes] : bombs) {
    SCOPED_TRACE(what);
    EXPECT_LT(bytes.size(), 4096u);
    auto res = client.Post("/v1/detect", bytes, "application/octet-stream");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422) << res->body;
    const auto error = nlohmann::json::parse(res->body)["error"].get<std::string>();
    EXPECT_NE(error.find("over the limit of 40 (--max-megapixels)"), std::string::npos) << error;
  }
  // The same in a batch: each bomb answered alone, the good image beside them answered.
  httplib::MultipartFormDataItems parts;
  for (const auto& [what, bytes] : bombs) parts.push_back({"images", bytes, what, ""});
  parts.push_back({"images", ServeFixture::get().images[5], "good.jpg", "image/jpeg"});
  auto batch = client.Post("/v1/detect/batch", parts);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->status, 200) << batch->body;
  const auto answer = nlohmann::json::parse(batch->body);
  EXPECT_EQ(answer["failed"], 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answer["results"][i]["status"], 422);
  EXPECT_NEAR(answer["results"][3]["models"][0]["probability_fake"].get<double>(),
              ServeFixture::get().reference.at("resnet18")[5], 1e-5);
  // 60000 x 60000 x 3 bytes would be 10 GB; the server in this process used almost nothing.
  EXPECT_LT(memory_of("self").peak - before, int64_t{256} << 20);
  expect_normal_prediction(r.port());
}

TEST(ServeAbuseTest, FloodBeyondTheQueueIsAnswered503WithRetryAfter) {
  ServerOptions o = abuse_options();
  o.max_batch = 1;
  o.queue_size = 2;
  o.worker_delay_ms = 40;
  Running r(o);
  constexpr int kClients = 40;
  const auto& f = ServeFixture::get();
  std::mutex mutex;
  std::vector<std::string> failures;
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      const size_t i = static_cast<size_t>(t) % f.images.size();
      auto res = client_of(r.port()).Post("/v1/detect", f.images[i], "image/jpeg");
      std::string failure;
      if (!res) {
        failure = "no answer: " + httplib::to_string(res.error());
      } else if (res->status == 200) {
        const double p =
            nlohmann::json::parse(res->body)["models"][0]["probability_fake"].get<double>();
        if (std::abs(p - f.reference.at("resnet18")[i]) > 1e-5)
          failure = "wrong answer " + res->body;
        ++ok;
      } else if (res->status == 503 && res->get_header_value("Retry-After") == "1" &&
                 res->body.find("error") != std::string::npos) {
        ++refused;
      } else {
        failure = std::to_string(res->status) + " " + res->body;
      }
      if (!failure.empty()) {
        std::lock_guard lock(mutex);
        failures.push_back(failure);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures; first: " << failures[0];
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(refused.load(), 1) << "40 clients on a queue of 2 behind a 40 ms worker: none refused";
  EXPECT_EQ(ok + refused, kClients);
  auto metrics = client_of(r.port()).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("forensight_queue_depth{model=\"resnet18\"} 0"), std::string::npos);
  expect_normal_prediction(r.port());
}

// --- The flood's memory, on the `forensight serve` process ---------------------------------

pid_t spawn_server(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Images as large as the flood's limits allow: noise (incompressible: the body is the cost) and a
// flat image of the pixel limit (a few KiB that decode to 3 bytes per pixel).
std::string png_of(int width, int height, bool noise) {
  data::Image image;
  image.width = width;
  image.height = height;
  image.pixels.assign(static_cast<size_t>(width) * height * 3, 128);
  std::mt19937 rng(7);
  if (noise)
    for (auto& p : image.pixels) p = static_cast<uint8_t>(rng());
  const auto bytes = data::encode_png(image);
  return {bytes.begin(), bytes.end()};
}

TEST(ServeAbuseIntegration, FloodOfLargeUploadsStaysUnderTheMemoryCap) {
  const auto& f = ServeFixture::get();
  // A 224 px ResNet18, so that the worker is the bottleneck and the queue fills.
  const std::string checkpoint = testing::write_serve_checkpoint(
      f.dir + "/resnet18-224.pt", "resnet18", 4, {}, /*image_size_px=*/224);
  constexpr int kHttpThreads = 16;
  constexpr int kMaxBodyMb = 4;
  constexpr double kMaxMegapixels = 4.0;
  constexpr int kMaxDecodes = 2;
  constexpr int kQueue = 2;
  const int port = testing::free_port();
  const std::string log = f.dir + "/flood.log";
  const std::string binary = forensight::testing::forensight_binary();
  // clang-format off
  const pid_t pid = spawn_server({binary,             "serve",
                                  "--checkpoint",     checkpoint,
                                  "--port",           std::to_string(port),
                                  "--threads",        "1",
                                  "--http-threads",   std::to_string(kHttpThreads),
                                  "--max-body-mb",    std::to_string(kMaxBodyMb),
                                  "--max-megapixels", "4",
                                  "--max-decodes",    std::to_string(kMaxDecodes),
                                  "--queue-size",     std::to_string(kQueue),
                                  "--max-batch",      "2",
                                  "--keep-alive-s",   "1",
                                  "--grace-s",        "2"},
                                 log);
  // clang-format on
  ASSERT_GT(pid, 0);
  struct KillAtExit {  // a failed assertion must not leave the server running
    pid_t pid;
    ~KillAtExit() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } kill_at_exit{pid};
  const std::string spid = std::to_string(pid);
  ASSERT_TRUE(testing::wait_until_ready(port, 120));
  const std::string noise = png_of(1150, 1150, /*noise=*/true);  // ~4 MB, under 4 MiB
  const std::string flat = png_of(2000, 2000, /*noise=*/false);  // 4 MP, a few KiB
  ASSERT_LT(noise.size(), size_t{kMaxBodyMb} << 20);
  ASSERT_GT(noise.size(), size_t{3} << 20);
  {  // one of each first: the baseline is the server warmed on both paths
    auto client = client_of(port);
    for (const std::string* image : {&noise, &flat}) {
      auto res = client.Post("/v1/detect", *image, "image/png");
      ASSERT_TRUE(res) << httplib::to_string(res.error());
      ASSERT_EQ(res->status, 200) << res->body;
    }
  }
  const Memory baseline = memory_of(spid);
  // The cap: what the server holds at most beyond its warmed baseline (model included there):
  // every HTTP thread a body (std::string growth: up to 2x) and httplib's copy of a multipart part
  // (3x max body), every decode slot an image of the pixel limit decoded and converted (2 x 3
  // bytes per pixel), the queue's preprocessed inputs, and 64 MiB for allocator slack.
  const int64_t cap = baseline.peak + int64_t{kHttpThreads} * 3 * (int64_t{kMaxBodyMb} << 20) +
                      kMaxDecodes * static_cast<int64_t>(kMaxMegapixels * 1e6) * 6 +
                      int64_t{kQueue} * 3 * 224 * 224 * 4 + (int64_t{64} << 20);

  constexpr int kClients = 48;
  constexpr int kRequestsPerClient = 3;
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::atomic<bool> flooding{true};
  std::atomic<int64_t> highest_rss{0};
  std::thread sampler([&] {
    while (flooding) {
      const int64_t rss = memory_of(spid).current;
      if (rss > highest_rss) highest_rss = rss;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      auto client = client_of(port);
      for (int k = 0; k < kRequestsPerClient; ++k) {
        auto res = client.Post("/v1/detect", (c + k) % 2 ? noise : flat, "image/png");
        if (res && res->status == 200) {
          ++ok;
        } else if (res && res->status == 503 && res->has_header("Retry-After")) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  for (auto& t : clients) t.join();
  const double flood_s = seconds_since(start);
  flooding = false;
  sampler.join();
  const Memory after = memory_of(spid);
  std::printf(
      "flood: %d clients x %d requests of %.1f MB noise / 4 MP flat PNGs in %.1f s: %d answered, "
      "%d refused 503, %d other; server RSS baseline peak %.1f MiB, flood peak (VmHWM) %.1f MiB, "
      "highest sampled VmRSS %.1f MiB, cap %.1f MiB\n",
      kClients, kRequestsPerClient, noise.size() / 1e6, flood_s, ok.load(), refused.load(),
      other.load(), baseline.peak / 1048576.0, after.peak / 1048576.0,
      highest_rss.load() / 1048576.0, cap / 1048576.0);
  EXPECT_EQ(other.load(), 0) << "answers other than 200 and 503 + Retry-After";
  EXPECT_GE(ok.load(), 1);
  EXPECT_LE(after.peak, cap) << "the flood's peak RSS passed the cap derived from the options";
  // Still answering correctly afterwards.
  auto res = client_of(port).Post("/v1/detect", f.images[0], "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  kill_at_exit.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
}

}  // namespace
}  // namespace forensight::serve

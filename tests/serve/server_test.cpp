// serve/server: the real server on a loopback port, spoken to over HTTP with httplib's client —
// every endpoint, every refusal, many clients at once (each answer matched to its image against
// `predict`'s single-image result), the queue-full and deadline paths, the API key, the drain.
#include "forensight/serve/server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>

#include "../support/error_of.h"
#include "forensight/models/int8_resnet.h"
#include "serve_support.h"

namespace forensight::serve {
namespace {

using testing::client_of;
using testing::ServeFixture;

ServerOptions options_for_tests() {
  ServerOptions o;
  o.checkpoints = ServeFixture::get().checkpoints;
  o.port = 0;
  o.keep_alive_s = 1;  // an idle keep-alive connection never holds up stop() for long
  // One worker per model: the queue-full, deadline and drain paths below count on it. Two are
  // tested with many clients.
  o.instances = 1;
  o.grace_s = 10;
  return o;
}

using Running = testing::RunningServer;

nlohmann::json json_of(const httplib::Result& res) {
  return nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
}

httplib::MultipartFormDataItems parts_of(const std::vector<std::string>& images,
                                         const std::string& field = "images") {
  httplib::MultipartFormDataItems items;
  for (size_t i = 0; i < images.size(); ++i)
    items.push_back({field, images[i], "img" + std::to_string(i) + ".jpg", "image/jpeg"});
  return items;
}

// Checks one /v1/detect answer against the reference for image `i`.
void expect_answer_for_image(const nlohmann::json& answer, size_t i,
                             const std::vector<std::string>& models) {
  const auto& f = ServeFixture::get();
  ASSERT_TRUE(answer.contains("models")) << answer.dump();
  ASSERT_EQ(answer["models"].size(), models.size()) << answer.dump();
  double sum = 0;
  for (size_t m = 0; m < models.size(); ++m) {
    const auto& r = answer["models"][m];
    EXPECT_EQ(r["model"], models[m]);
    const double p = r["probability_fake"].get<double>();
    EXPECT_NEAR(p, f.reference.at(models[m])[i], 1e-5) << "image " << i << " " << models[m];
    EXPECT_EQ(r["label"].get<int>(), p >= 0.5 ? 1 : 0);
    EXPECT_EQ(r["label_name"], p >= 0.5 ? "ai-generated" : "real");
    EXPECT_EQ(r["precision"], "fp32");
    EXPECT_EQ(r["device"], "cpu");
    EXPECT_GE(r["queue_ms"].get<double>(), 0.0);
    EXPECT_GT(r["compute_ms"].get<double>(), 0.0);
    sum += p;
  }
  if (models.size() > 1) {
    EXPECT_NEAR(answer["mean"]["probability_fake"].get<double>(), sum / models.size(), 1e-12);
  } else {
    EXPECT_FALSE(answer.contains("mean"));
  }
}

TEST(ServeServerTest, HealthReadinessModelsAndMetricsAnswer) {
  Running r(options_for_tests());
  auto client = client_of(r.port());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json_of(health)["status"], "ok");
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_TRUE(r.server.ready());

  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const auto list = json_of(models)["models"];
  ASSERT_EQ(list.size(), 2u) << models->body;
  EXPECT_EQ(list[0]["name"], "resnet18");
  EXPECT_EQ(list[1]["name"], "vit-tiny");
  for (const auto& m : list) {
    EXPECT_EQ(m["precision"], "fp32");
    EXPECT_EQ(m["device"], "cpu");
    EXPECT_EQ(m["image_size_px"], 32);
    EXPECT_EQ(m["threshold"], 0.5);
    EXPECT_TRUE(m["checkpoint"].get<std::string>().ends_with(".pt"));
  }

  ASSERT_TRUE(client.Post("/v1/detect", ServeFixture::get().images[0], "image/jpeg"));
  // A request is counted once its answer is written, which may be just after the client read it.
  httplib::Result metrics{nullptr, httplib::Error::Unknown};
  for (int i = 0; i < 100; ++i) {
    metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics);
    if (metrics->body.find("route=\"/v1/detect\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(metrics->status, 200);
  EXPECT_TRUE(metrics->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
  for (const std::string needle :
       {"forensight_http_requests_total{route=\"/v1/detect\",status=\"200\"} 1",
        "forensight_http_request_duration_seconds_bucket{route=\"/v1/detect\"",
        "forensight_batch_size_count{model=\"resnet18\"}", "forensight_images_per_second",
        "forensight_queue_depth{model=\"vit-tiny\"} 0", "forensight_ready 1"})
    EXPECT_NE(metrics->body.find(needle), std::string::npos) << needle << "\n" << metrics->body;

  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(page->get_header_value("Content-Type").starts_with("text/html"));
  EXPECT_TRUE(page->has_header("Cache-Control"));
}

TEST(ServeServerTest, DetectAnswersEveryModelAndTheirMean) {
  Running r(options_for_tests());
  auto client = client_of(r.port());
  const auto& f = ServeFixture::get();
  auto raw = client.Post("/v1/detect", f.images[5], "image/jpeg");
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->status, 200) << raw->body;
  EXPECT_EQ(raw->get_header_value("Content-Type"), "application/json");
  expect_answer_for_image(json_of(raw), 5, {"resnet18", "vit-tiny"});
  EXPECT_EQ(json_of(raw)["image"]["format"], "jpeg");
  EXPECT_EQ(json_of(raw)["image"]["width"], 48);

  auto form = client.Post("/v1/detect?models=vit-tiny",
                          httplib::MultipartFormDataItems{{"note", "hello", "", "text/plain"},
                                                          {"image", f.images[2], "x.jpg", ""}});
  ASSERT_TRUE(form);
  ASSERT_EQ(form->status, 200) << form->body;
  expect_answer_for_image(json_of(form), 2, {"vit-tiny"});
  EXPECT_EQ(json_of(form)["filename"], "x.jpg");

  auto unknown = client.Post("/v1/detect?models=resnet18,nope", f.images[0], "image/jpeg");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(json_of(unknown)["error"].get<std::string>().find("resnet18, vit-tiny"),
            std::string::npos)
      << unknown->body;
}

// One checkpoint twice (an ensemble of one architecture): named apart, one decode, same answers.
TEST(ServeServerTest, RepeatedModelsAreNamedApart) {
  ServerOptions o = options_for_tests();
  o.checkpoints = {o.checkpoints[0], o.checkpoints[0]};
  Running r(o);
  auto client = client_of(r.port());
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json_of(models)["models"][1]["name"], "resnet18-2") << models->body;
  auto res = client.Post("/v1/detect?models=resnet18-2", ServeFixture::get().images[1], "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = json_of(res);
  EXPECT_NEAR(answer["models"][0]["probability_fake"].get<double>(),
              ServeFixture::get().reference.at("resnet18")[1], 1e-5);
  auto both = client.Post("/v1/detect", ServeFixture::get().images[1], "");
  ASSERT_TRUE(both);
  ASSERT_EQ(both->status, 200) << both->body;
  const auto b = json_of(both);
  EXPECT_EQ(b["models"][0]["probability_fake"], b["models"][1]["probability_fake"]);
}

TEST(ServeServerTest, BatchAnswersEveryImageInOrderAndBadOnesAlone) {
  Running r(options_for_tests());
  auto client = client_of(r.port());
  const auto& f = ServeFixture::get();
  std::vector<std::string> images = {f.images[0], "not an image at all", f.images[7],
                                     f.images[3].substr(0, f.images[3].size() / 2), f.images[4]};
  auto res = client.Post("/v1/detect/batch?models=resnet18", parts_of(images));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = json_of(res);
  ASSERT_EQ(answer["results"].size(), 5u) << res->body;
  EXPECT_EQ(answer["failed"], 2);
  const std::vector<int> reference_index = {0, -1, 7, -1, 4};
  for (size_t i = 0; i < 5; ++i) {
    const auto& one = answer["results"][i];
    EXPECT_EQ(one["index"], i);
    EXPECT_EQ(one["filename"], "img" + std::to_string(i) + ".jpg");
    if (reference_index[i] >= 0) {
      expect_answer_for_image(one, static_cast<size_t>(reference_index[i]), {"resnet18"});
    } else {
      EXPECT_TRUE(one.contains("error")) << one.dump();
      EXPECT_EQ(one["status"], i == 1 ? 400 : 422) << one.dump();
    }
  }
  auto not_multipart = client.Post("/v1/detect/batch", f.images[0], "image/jpeg");
  ASSERT_TRUE(not_multipart);
  EXPECT_EQ(not_multipart->status, 400);
}

TEST(ServeServerTest, BadInputIsAnsweredWithAJsonError) {
  ServerOptions o = options_for_tests();
  o.max_body_mb = 1;
  o.max_megapixels = 0.002;  // 2000 pixels: the 48x48 test images (2304) are over it
  Running r(o);
  auto client = client_of(r.port());
  const auto expect_error = [](const httplib::Result& res, int status, const std::string& needle) {
    ASSERT_TRUE(res) << "no answer; expected " << status;
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << res->body;
    const auto body = json_of(res);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << res->body;
    EXPECT_NE(body["error"].get<std::string>().find(needle), std::string::npos) << res->body;
  };
  const auto& f = ServeFixture::get();
  expect_error(client.Post("/v1/detect", "", "image/jpeg"), 400, "empty");
  expect_error(client.Post("/v1/detect", "GIF89a not supported", "image/gif"), 400, "not an image");
  std::string truncated_png = "\x89PNG\r\n\x1a\n";
  expect_error(client.Post("/v1/detect", truncated_png, "image/png"), 422, "header");
  expect_error(client.Post("/v1/detect", f.images[0], "image/jpeg"), 422, "megapixels");
  expect_error(client.Post("/v1/detect", std::string(1536 * 1024, 'x'), "image/jpeg"), 413,
               "1 MiB (--max-body-mb)");
  expect_error(client.Post("/v1/detect", httplib::MultipartFormDataItems{{"a", "b", "", ""}}), 400,
               "no image");
  auto wrong_method = client.Get("/v1/detect");
  expect_error(wrong_method, 405, "POST");
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");
  expect_error(client.Put("/healthz", "x", "text/plain"), 405, "GET");
  expect_error(client.Delete("/v1/models"), 405, "GET");
  expect_error(client.Get("/etc/passwd"), 404, "no such path");
  expect_error(client.Get("/../../etc/passwd"), 404, "no such path");
  expect_error(client.Post("/v1/nothing", std::string(1000, 'x'), "text/plain"), 404,
               "no such path");
  expect_error(client.Post("/v1/report", "{not json", "application/json"), 400, "JSON");
  // The server is unharmed: a good request on a fresh connection still gets its answer.
  auto health = client_of(r.port()).Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// 16 clients, 3 requests each, over keep-alive connections: every answer is its own image's.
void many_clients_get_their_own_answers(const ServerOptions& o) {
  Running r(o);
  auto models = client_of(r.port()).Get("/v1/models");
  ASSERT_TRUE(models);
  const nlohmann::json listed = json_of(models);
  for (const auto& m : listed["models"])
    EXPECT_EQ(m["instances"].get<int>(), o.instances) << m.dump();
  const auto& f = ServeFixture::get();
  constexpr int kThreads = 16;
  constexpr int kRequestsPerThread = 3;
  std::atomic<int> answered{0};
  std::atomic<int> max_batch_seen{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = client_of(r.port());
      client.set_keep_alive(true);
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int k = 0; k < kRequestsPerThread; ++k) {
        const size_t i = rng() % f.images.size();
        auto res = client.Post("/v1/detect", f.images[i], "image/jpeg");
        std::string failure;
        if (!res) {
          failure = "no answer: " + httplib::to_string(res.error());
        } else if (res->status != 200) {
          failure = res->body;
        } else {
          const auto answer = json_of(res);
          for (const auto& m : answer["models"]) {
            const double want = f.reference.at(m["model"].get<std::string>())[i];
            if (std::abs(m["probability_fake"].get<double>() - want) > 1e-5)
              failure = "image " + std::to_string(i) + " got " + m.dump();
            int seen = max_batch_seen.load();
            const int b = m["batch_size"].get<int>();
            while (b > seen && !max_batch_seen.compare_exchange_weak(seen, b)) {
            }
          }
          ++answered;
        }
        if (!failure.empty()) {
          std::lock_guard lock(failures_mutex);
          failures.push_back(failure);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures[0];
  EXPECT_EQ(answered.load(), kThreads * kRequestsPerThread);
  EXPECT_GT(max_batch_seen.load(), 1) << "16 concurrent clients never shared a forward pass";
}

// With one instance per model and with two (two copies of each model computing at once).
TEST(ServeServerTest, ManyClientsAtOnceGetTheirOwnImagesAnswers) {
  for (const int instances : {1, 2}) {
    SCOPED_TRACE(fmt::format("--instances {}", instances));
    ServerOptions o = options_for_tests();
    o.max_wait_ms = 20;
    o.http_threads = 16;
    o.instances = instances;
    many_clients_get_their_own_answers(o);
  }
  ServerOptions negative = options_for_tests();
  negative.instances = -1;
  EXPECT_NE(testing::error_of([&] { Server s(negative); }).find("--instances must be >= 1"),
            std::string::npos);
}

TEST(ServeServerTest, DefaultInstancesAreTwoOnACpuWithThreadsToShare) {
  EXPECT_EQ(default_instances(/*on_cpu=*/true, 2), 2);
  EXPECT_EQ(default_instances(/*on_cpu=*/true, 16), 2);
  EXPECT_EQ(default_instances(/*on_cpu=*/true, 1), 1);
  EXPECT_EQ(default_instances(/*on_cpu=*/false, 8), 1);
}

// A calibrated ResNet runs as int8 on the pixels, as `predict` runs it: batched answers equal its.
TEST(ServeServerTest, Int8CheckpointAnswersAsPredictDoes) {
  if (!models::int8_inference_available()) GTEST_SKIP() << "no quantized engine";
  const auto& f = ServeFixture::get();
  const std::string checkpoint =
      testing::write_serve_checkpoint(f.dir + "/int8.pt", "resnet18", 3,
                                      torch::tensor({0.0, 4.0}, torch::kFloat64).repeat({28, 1}));
  eval::Detector detector = eval::load_detector(checkpoint, torch::kCPU);
  ASSERT_EQ(detector.precision, "int8");
  ServerOptions o = options_for_tests();
  o.checkpoints = {checkpoint};
  o.max_wait_ms = 200;  // the batch request's images share passes
  Running r(o);
  auto res = client_of(r.port()).Post("/v1/detect/batch", parts_of(f.images));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = json_of(res);
  ASSERT_EQ(answer["results"].size(), f.images.size());
  for (size_t i = 0; i < f.images.size(); ++i) {
    const auto& m = answer["results"][i]["models"][0];
    EXPECT_EQ(m["precision"], "int8");
    EXPECT_GT(m["batch_size"].get<int>(), 1);
    const auto p = eval::predict_bytes(
        detector,
        std::span(reinterpret_cast<const uint8_t*>(f.images[i].data()), f.images[i].size()), "x");
    EXPECT_NEAR(m["probability_fake"].get<double>(), p.probability_fake, 1e-5) << "image " << i;
  }
}

TEST(ServeServerTest, FullQueueAnswers503WithRetryAfter) {
  ServerOptions o = options_for_tests();
  o.checkpoints.resize(1);
  o.max_batch = 1;
  o.queue_size = 1;
  o.worker_delay_ms = 300;
  Running r(o);
  constexpr int kClients = 6;
  std::vector<int> statuses(kClients, 0);
  std::vector<std::string> retry_after(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      auto res =
          client_of(r.port()).Post("/v1/detect", ServeFixture::get().images[t % 8], "image/jpeg");
      if (!res) return;
      statuses[t] = res->status;
      retry_after[t] = res->get_header_value("Retry-After");
    });
  for (auto& t : threads) t.join();
  int ok = 0;
  int full = 0;
  for (int t = 0; t < kClients; ++t) {
    if (statuses[t] == 200) ++ok;
    if (statuses[t] == 503) {
      ++full;
      EXPECT_EQ(retry_after[t], "1");
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(full, 1) << "6 clients on a queue of 1 behind a 300 ms worker: none was refused";
  EXPECT_EQ(ok + full, kClients);
}

TEST(ServeServerTest, ExpiredDeadlineAnswers503WithoutRunning) {
  ServerOptions o = options_for_tests();
  o.checkpoints.resize(1);
  o.max_batch = 1;
  o.deadline_ms = 150;
  o.worker_delay_ms = 400;
  Running r(o);
  constexpr int kClients = 3;
  std::vector<std::string> bodies(kClients);
  std::vector<int> statuses(kClients, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      auto res =
          client_of(r.port()).Post("/v1/detect", ServeFixture::get().images[t], "image/jpeg");
      if (!res) return;
      statuses[t] = res->status;
      bodies[t] = res->body;
    });
  for (auto& t : threads) t.join();
  int ok = 0;
  int expired = 0;
  for (int t = 0; t < kClients; ++t) {
    if (statuses[t] == 200) ++ok;
    if (statuses[t] == 503 && bodies[t].find("deadline") != std::string::npos) ++expired;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(expired, 1);
  EXPECT_EQ(ok + expired, kClients);
}

TEST(ServeServerTest, ApiKeyIsRequiredBeyondLoopbackAndChecked) {
  ServerOptions open = options_for_tests();
  open.host = "0.0.0.0";
  EXPECT_NE(testing::error_of([&] { Server s(open); }).find("--api-key"), std::string::npos);

  ServerOptions o = options_for_tests();
  o.api_key = "s3cret-key";
  Running r(o);
  auto client = client_of(r.port());
  auto none = client.Get("/v1/models");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
  auto wrong = client.Post("/v1/detect", httplib::Headers{{"Authorization", "Bearer s3cret-kez"}},
                           ServeFixture::get().images[0], "image/jpeg");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto health = client.Get("/healthz");  // probes stay open
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  client.set_bearer_token_auth("s3cret-key");
  auto right = client.Post("/v1/detect", ServeFixture::get().images[0], "image/jpeg");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200) << right->body;
}

TEST(ServeServerTest, StopLetsInFlightRequestsFinish) {
  ServerOptions o = options_for_tests();
  o.checkpoints.resize(1);
  o.worker_delay_ms = 500;
  Running r(o);
  const int port = r.port();
  std::atomic<int> status{0};
  std::thread request([&] {
    auto res = client_of(port).Post("/v1/detect", ServeFixture::get().images[0], "image/jpeg");
    status = res ? res->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the request is in the worker
  EXPECT_TRUE(r.server.ready());
  EXPECT_TRUE(r.server.stop());
  request.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_FALSE(r.server.ready());
  auto client = client_of(port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/healthz")) << "the server still accepts connections after stop()";
}

}  // namespace
}  // namespace forensight::serve

// serve/metrics: the Prometheus text a scrape gets — cumulative buckets, sums and counts, one
// counter per (route, status), gauges as given, label values escaped.
#include "forensight/serve/metrics.h"

#include <gtest/gtest.h>

namespace forensight::serve {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(ServeMetricsTest, HistogramBucketsAreCumulative) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 3.0, 9.0}) h.observe(v);
  const std::string text = h.render("x", "model=\"m\"");
  EXPECT_TRUE(contains(text, "x_bucket{model=\"m\",le=\"1\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "x_bucket{model=\"m\",le=\"2\"} 3\n")) << text;
  EXPECT_TRUE(contains(text, "x_bucket{model=\"m\",le=\"4\"} 4\n")) << text;
  EXPECT_TRUE(contains(text, "x_bucket{model=\"m\",le=\"+Inf\"} 5\n")) << text;
  EXPECT_TRUE(contains(text, "x_sum{model=\"m\"} 15\n")) << text;
  EXPECT_TRUE(contains(text, "x_count{model=\"m\"} 5\n")) << text;
}

TEST(ServeMetricsTest, RequestsBatchesAndGaugesAreRendered) {
  Metrics m;
  m.record_request("/v1/detect", 200, 0.004);
  m.record_request("/v1/detect", 200, 0.2);
  m.record_request("/v1/detect", 503, 0.001);
  m.record_batch("resnet18", 3);
  m.record_batch("resnet18", 8);
  const std::string text = m.render({{"forensight_queue_depth", "model=\"resnet18\"", 2}});
  EXPECT_TRUE(contains(text, "# TYPE forensight_http_requests_total counter")) << text;
  EXPECT_TRUE(
      contains(text, "forensight_http_requests_total{route=\"/v1/detect\",status=\"200\"} 2\n"))
      << text;
  EXPECT_TRUE(
      contains(text, "forensight_http_requests_total{route=\"/v1/detect\",status=\"503\"} 1\n"))
      << text;
  EXPECT_TRUE(contains(text,
                       "forensight_http_request_duration_seconds_bucket{route=\"/v1/detect\","
                       "le=\"0.005\"} 2\n"))
      << text;
  EXPECT_TRUE(contains(text, "forensight_batch_size_bucket{model=\"resnet18\",le=\"4\"} 1\n"))
      << text;
  EXPECT_TRUE(contains(text, "forensight_batch_size_count{model=\"resnet18\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "forensight_images_total{model=\"resnet18\"} 11\n")) << text;
  EXPECT_TRUE(contains(text, "forensight_images_per_second{model=\"resnet18\"} ")) << text;
  EXPECT_TRUE(contains(text, "forensight_queue_depth{model=\"resnet18\"} 2\n")) << text;
  EXPECT_GT(m.images_per_second("resnet18"), 0.0);
  EXPECT_EQ(m.images_per_second("vit"), 0.0);
}

TEST(ServeMetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace forensight::serve

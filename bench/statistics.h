// Order statistics of benchmark timings: the percentiles a latency table reports and the medians
// over rounds that a same-run ratio is read from.
#pragma once
#include <algorithm>
#include <vector>

namespace forensight::bench {

// Nearest-rank percentile, q in [0, 1]: the value at index floor(q * n) of the sorted values
// (the largest one for q = 1). `values` must not be empty.
inline double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(q * static_cast<double>(values.size()));
  return values[std::min(values.size() - 1, index)];
}

// The middle value; the mean of the two middle values for an even count. `values` must not be
// empty.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace forensight::bench

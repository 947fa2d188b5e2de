#include "forensight/eval/sharded_inference.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace forensight::eval {

InferenceResult gather_inference(const InferenceResult& local, const std::vector<int64_t>& order,
                                 parallel::Distribution& distribution) {
  if (distribution.world_size() == 1) return local;
  // JSON keeps doubles exactly (shortest round-trip form); NaN (an unlabelled sample's loss) is
  // not JSON, so it travels as null.
  nlohmann::json mine = {{"scores", local.scores},
                         {"labels", local.labels},
                         {"indices", local.indices},
                         {"seconds", local.seconds}};
  nlohmann::json losses = nlohmann::json::array();
  for (double l : local.losses)
    losses.push_back(std::isnan(l) ? nlohmann::json() : nlohmann::json(l));
  mine["losses"] = std::move(losses);

  struct Row {
    double score;
    int label;
    double loss;
  };
  std::unordered_map<int64_t, Row> rows;
  double seconds = 0.0;
  for (const std::string& text : distribution.gather_strings(mine.dump())) {
    const nlohmann::json theirs = nlohmann::json::parse(text);
    const auto& idx = theirs.at("indices");
    for (size_t i = 0; i < idx.size(); ++i) {
      const auto& loss = theirs.at("losses")[i];
      // Padding repeats a sample on another rank with the same result: the first copy stays.
      rows.emplace(idx[i].get<int64_t>(),
                   Row{theirs.at("scores")[i].get<double>(), theirs.at("labels")[i].get<int>(),
                       loss.is_null() ? std::nan("") : loss.get<double>()});
    }
    seconds = std::max(seconds, theirs.at("seconds").get<double>());
  }
  InferenceResult merged;
  for (int64_t index : order) {
    const auto it = rows.find(index);
    if (it == rows.end()) {
      ++merged.skipped;
      continue;
    }
    merged.indices.push_back(index);
    merged.scores.push_back(it->second.score);
    merged.labels.push_back(it->second.label);
    merged.losses.push_back(it->second.loss);
  }
  merged.mean_loss = mean_loss(merged.losses);
  merged.seconds = seconds;
  return merged;
}

}  // namespace forensight::eval

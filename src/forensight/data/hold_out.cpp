// The held-out split is make_split over the held-in samples, mapped back to the dataset's indices,
// plus the held-out samples in test: the held-in part is the very split a dataset without that
// source would get, so runs that hold out different sources share nothing but the seed's logic.
#include "forensight/data/hold_out.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "forensight/core/error.h"

namespace forensight::data {

std::vector<std::string> dataset_sources(const Dataset& dataset) {
  std::set<std::string> names;
  for (const Sample& s : dataset.samples)
    if (!s.source.empty()) names.insert(s.source);
  return {names.begin(), names.end()};
}

std::vector<std::string> generator_sources(const Dataset& dataset) {
  std::map<std::string, bool> all_fake;
  for (const Sample& s : dataset.samples) {
    if (s.source.empty()) continue;
    auto [it, added] = all_fake.try_emplace(s.source, true);
    it->second = it->second && s.label == kLabelFake;
  }
  std::vector<std::string> names;
  for (const auto& [name, fake] : all_fake)
    if (fake) names.push_back(name);
  return names;
}

Split make_hold_out_split(const Dataset& dataset, const SplitSpec& spec, uint64_t seed,
                          const std::string& source) {
  const std::vector<std::string> sources = dataset_sources(dataset);
  FS_CHECK(std::find(sources.begin(), sources.end(), source) != sources.end(),
           "--hold-out-source '{}' is not a source of '{}': {}", source, dataset.root,
           sources.empty() ? std::string("it names none (a CSV manifest with a `source` column "
                                         "names each image's generator or origin)")
                           : fmt::format("the sources found are {}", fmt::join(sources, ", ")));

  Dataset held_in;
  held_in.root = dataset.root;
  std::vector<int64_t> original;  // held_in.samples[k] is dataset.samples[original[k]]
  std::vector<int64_t> held_out;
  for (int64_t i = 0; i < static_cast<int64_t>(dataset.size()); ++i) {
    if (dataset.samples[i].source == source) {
      held_out.push_back(i);
    } else {
      held_in.samples.push_back(dataset.samples[i]);
      original.push_back(i);
    }
  }
  FS_CHECK(!held_in.samples.empty(),
           "holding out '{}' leaves nothing to train on: every image of '{}' is from it", source,
           dataset.root);

  const Split inner = make_split(held_in, spec, seed);
  Split split;
  split.spec = fmt::format("{} holding out {}", spec.text, source);
  split.seed = seed;
  for (int s = 0; s < 3; ++s)
    for (int64_t k : inner.indices[s]) split.indices[s].push_back(original[k]);
  split.indices[2].insert(split.indices[2].end(), held_out.begin(), held_out.end());
  for (auto& part : split.indices) std::sort(part.begin(), part.end());

  bool has_real = false, has_fake = false;
  for (int64_t i : split.train()) {
    has_real = has_real || dataset.samples[i].label == kLabelReal;
    has_fake = has_fake || dataset.samples[i].label == kLabelFake;
  }
  FS_CHECK(split.train().empty() || (has_real && has_fake),
           "holding out '{}' leaves no {} image to train on: a leave-one-out run needs the other "
           "class in at least one other source (sources: {})",
           source, has_real ? "AI-generated" : "real", fmt::join(sources, ", "));

  // The held-out images are judged against the test images of the class they lack.
  std::set<int> held_labels, test_labels;
  for (int64_t i : held_out) held_labels.insert(dataset.samples[i].label);
  for (int64_t i : split.test()) test_labels.insert(dataset.samples[i].label);
  FS_CHECK(test_labels.size() == 2,
           "--split '{}' leaves no {} image in the test split to judge the held-out '{}' against: "
           "give the test split a share, e.g. 0.8/0.1/0.1",
           spec.text, held_labels.count(kLabelFake) ? "real" : "AI-generated", source);
  return split;
}

}  // namespace forensight::data

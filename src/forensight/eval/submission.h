// The Kaggle round trip's last step: the competition's test manifest (a CSV with an `id` column,
// each id the path of an image relative to the CSV) in, its submission file (`id,label` in the
// manifest's order, every id once) out.
#pragma once
#include <string>
#include <vector>

namespace forensight::eval {

struct SubmissionManifest {
  std::string csv_path;
  std::vector<std::string> ids;    // as written in the CSV, in its order
  std::vector<std::string> paths;  // the image each id names (relative ids: beside the CSV)
};

// Error naming the file when it has no `id` column or no rows.
SubmissionManifest read_submission_manifest(const std::string& csv_path);

// What an id whose image cannot be read gets: label 0, label 1, or no file at all (an Error).
enum class UnreadablePolicy { kReal, kAiGenerated, kFail };
UnreadablePolicy parse_unreadable_policy(const std::string& name);  // real, ai-generated, fail

// "id,label\n" then one line per id (quoted when it holds a comma, quote or newline).
// labels[i] is 0 or 1.
std::string format_submission(const std::vector<std::string>& ids, const std::vector<int>& labels);

}  // namespace forensight::eval

#include "forensight/eval/submission.h"

#include <filesystem>

#include "forensight/core/error.h"
#include "forensight/data/csv_reader.h"

namespace forensight::eval {

SubmissionManifest read_submission_manifest(const std::string& csv_path) {
  const data::CsvTable table = data::read_csv(csv_path);
  const int id_column = table.require_column("id");
  FS_CHECK(!table.rows.empty(), "{}: the test manifest has a header but no ids", csv_path);
  SubmissionManifest manifest;
  manifest.csv_path = csv_path;
  const std::filesystem::path base = std::filesystem::path(csv_path).parent_path();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& id = table.rows[r][id_column];
    FS_CHECK(!id.empty(), "{}: empty id: every row needs the path of an image", table.where(r));
    const std::filesystem::path path(id);
    manifest.ids.push_back(id);
    manifest.paths.push_back((path.is_absolute() ? path : base / path).lexically_normal().string());
  }
  return manifest;
}

UnreadablePolicy parse_unreadable_policy(const std::string& name) {
  if (name == "real") return UnreadablePolicy::kReal;
  if (name == "ai-generated") return UnreadablePolicy::kAiGenerated;
  if (name == "fail") return UnreadablePolicy::kFail;
  fail(
      "unknown policy for unreadable images '{}': valid are real (label 0), ai-generated "
      "(label 1), fail (write no submission)",
      name);
}

std::string format_submission(const std::vector<std::string>& ids, const std::vector<int>& labels) {
  FS_CHECK(ids.size() == labels.size(), "{} ids but {} labels", ids.size(), labels.size());
  std::string csv = "id,label\n";
  for (size_t i = 0; i < ids.size(); ++i) {
    FS_CHECK(labels[i] == 0 || labels[i] == 1, "label {} for id '{}': a submission holds 0 or 1",
             labels[i], ids[i]);
    const std::string& id = ids[i];
    if (id.find_first_of(",\"\n\r") == std::string::npos) {
      csv += id;
    } else {
      csv += '"';
      for (char c : id) csv += c == '"' ? std::string("\"\"") : std::string(1, c);
      csv += '"';
    }
    csv += ',';
    csv += static_cast<char>('0' + labels[i]);
    csv += '\n';
  }
  return csv;
}

}  // namespace forensight::eval

#include "forensight/train/run_dir.h"

#include <filesystem>
#include <vector>

#include "forensight/core/error.h"

namespace forensight::train {

RunDir::RunDir(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  std::filesystem::create_directories(path_ + "/checkpoints", ec);
  FS_CHECK(!ec, "cannot create run directory '{}': {}", path_, ec.message());
}

std::string RunDir::checkpoint_path(const std::string& name) const {
  return path_ + "/checkpoints/" + name + ".pt";
}

int RunDir::remove_stale_temporaries() const {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_ + "/checkpoints", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] != '.' || name.find(".tmp.") == std::string::npos) continue;
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

MetricsLog::MetricsLog(const std::string& path, int64_t truncate_after_step) : path_(path) {
  if (truncate_after_step >= 0 && std::filesystem::exists(path)) {
    std::vector<std::string> kept;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) continue;  // a line cut short by a kill
      if (record.value("step", int64_t{0}) > truncate_after_step) continue;
      // an epoch record belongs to the step that ended it; keep it only if that step survived
      kept.push_back(line);
    }
    in.close();
    std::ofstream rewrite(path, std::ios::trunc);
    for (const auto& l : kept) rewrite << l << '\n';
  }
  out_.open(path, std::ios::app);
  FS_CHECK(out_.good(), "cannot open metrics log '{}' for writing", path);
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  FS_CHECK(out_.good(), "cannot append to the metrics log '{}' (disk full?): a {} record was lost",
           path_, record.value("kind", std::string("metrics")));
}

}  // namespace forensight::train

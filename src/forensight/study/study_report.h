// A study's results as files: results.json and results.csv (every cell, with its speedup over its
// baseline and Forensight's ratio over the Python original), report.md (tables per axis, the seed's
// published figures beside what this machine measured, the plots), and the plots themselves,
// drawn by study/plot_study.py with matplotlib.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "forensight/study/cell_runner.h"
#include "forensight/study/study_config.h"

namespace forensight::study {

struct StudyResults {
  StudyConfig config;
  nlohmann::json machine;  // cpu, cores, gpu, torch
  std::vector<CellRecord> records;
  std::vector<std::string> left_out;
  std::vector<std::string> plots;  // relative to the study folder
};

// The results as results.json holds them: per cell its figures plus "speedup" (images/s over the
// same model's and engine's baseline cell) and "vs_python" (Forensight over the Python original in
// the same settings); null where the other cell is missing or failed.
nlohmann::json results_json(const StudyResults& results);

// The seed's published figures, each beside Forensight's and the Python original's here.
nlohmann::json seed_comparison(const StudyResults& results);

// Writes results.json and results.csv into out_dir (atomically).
void write_results(const std::string& out_dir, const StudyResults& results);
// Runs plot_study.py over out_dir/results.json into out_dir/plots; returns the plots written
// (relative to out_dir). Throws Error with the script's output when it fails.
std::vector<std::string> draw_plots(const std::string& python, const std::string& out_dir);
// Writes out_dir/report.md.
void write_report(const std::string& out_dir, const StudyResults& results);

}  // namespace forensight::study

// The cells of a study: for each model, its baseline and the settings the axes ask for (one axis
// at a time from the baseline, as the seed varied them, or their full product), each run by
// Forensight and, where the config asks, by the seed's Python original. Cells the machine cannot
// run (more threads than cores, fp16 on a CPU, more ranks than GPUs) are left out with the reason.
#pragma once
#include <string>
#include <vector>

#include "forensight/study/study_config.h"

namespace forensight::study {

struct Machine {
  int cores = 1;
  int gpus = 0;          // CUDA devices visible
  bool cpu_bf16 = true;  // the CPU has bf16 instructions (avx512_bf16 or amx_bf16)
};

struct Cell {
  std::string id;      // "resnet18/threads=2/forensight": unique, names the cell's folder
  size_t model = 0;    // index into StudyConfig::models
  std::string axis;    // "baseline", an axis name, or "product"
  std::string engine;  // "forensight" or "python"
  CellSettings settings;
};

struct Grid {
  std::vector<Cell> cells;
  std::vector<std::string> left_out;  // "resnet18 threads=4: more threads than the 2 cores"
};

Grid expand_grid(const StudyConfig& config, const Machine& machine);

// "threads=2", "amp=bf16": how a cell's varied setting is written in ids and reports.
std::string axis_label(const std::string& axis, const CellSettings& settings);
// The folder name of a cell id ('/' and '=' made safe).
std::string cell_folder(const std::string& id);

}  // namespace forensight::study

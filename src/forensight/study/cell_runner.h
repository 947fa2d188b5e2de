// One cell of a study, run in a fresh process: `forensight train` (through `forensight launch`
// for data-parallel cells) or the seed's Python original (bench/python/original.py, through
// torchrun for data-parallel cells), on the same data, split and starting weights; its figures
// read back from what the process wrote.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "forensight/study/grid.h"
#include "forensight/study/study_config.h"

namespace forensight::study {

// What every cell of one study shares: where things are.
struct StudyInputs {
  std::string binary;  // the forensight executable
  std::string python;  // the Python with the pinned torch (and transformers)
  std::string data;    // folder or CSV manifest
  std::string out_dir;
  Machine machine;
  std::vector<std::string> split_specs;   // per model: the split as train's --split takes it
  std::vector<std::string> split_csvs;    // per model: path,label,split for the Python original
  std::vector<std::string> init_weights;  // per model: the starting weights (safetensors)
};

struct CellRecord {
  Cell cell;
  std::string status = "failed";  // ok or failed
  std::string error;              // why it failed: the exit status and the log's last lines
  // Timing comes from the timed epoch: the fastest after the first, which warms up (oneDNN
  // primitives, first touches), so that a neighbour's burst on a shared machine does not decide
  // a ratio; the first only when the run had one. Accuracy is the last epoch's.
  double epoch_s = 0;            // the timed epoch: training pass plus validation pass
  double images_per_s = 0;       // training images of the timed epoch / epoch_s
  std::vector<double> epochs_s;  // every epoch's time, in order
  double peak_rss_mb = 0;        // of the (rank-0) training process
  double peak_gpu_mb = -1;       // CUDA caching allocator's peak (-1: not on a GPU)
  double val_accuracy = 0;
  double val_macro_f1 = 0;
  double seconds = 0;  // wall time of the whole process, start-up and test included
  std::string command;
  std::string log;  // the cell's log file
};

// The command line of a cell (argv, and environment entries to add).
struct CellCommand {
  std::vector<std::string> argv;
  std::vector<std::string> environment;
};
CellCommand cell_command(const Cell& cell, const StudyConfig& config, const StudyInputs& inputs);

// Runs the cell in a fresh process (its folder is emptied first) and reads back its figures. A
// failure is a record with status "failed", never an exception.
CellRecord run_cell(const Cell& cell, const StudyConfig& config, const StudyInputs& inputs);

nlohmann::json to_json(const CellRecord& record);
CellRecord record_from_json(const nlohmann::json& json);

// The folder of a cell: OUT/cells/<id made safe>.
std::string cell_dir(const StudyInputs& inputs, const Cell& cell);

}  // namespace forensight::study

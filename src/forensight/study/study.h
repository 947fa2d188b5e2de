// `forensight study`: the seed's experiments as one command. Prepares the data (the built-in set
// or the user's), one split and one set of starting weights per model shared by every cell,
// runs each cell of the grid in a fresh process (study/cell_runner.h), keeps every finished cell
// so that a stopped study resumes where it was, and writes the results, the report and the plots
// (study/study_report.h).
#pragma once
#include <string>

#include "forensight/study/study_report.h"

namespace forensight::study {

struct StudyOptions {
  std::string config_path;  // studies/*.yaml
  std::string out_dir;      // the study folder
  std::string binary;       // the forensight executable the cells run
  std::string python = FORENSIGHT_PYTHON;
  std::string python_cells;   // overrides the config's `python`: all, baseline, none ("" = keep)
  bool retry_failed = false;  // run failed cells again instead of keeping their records
  bool plots = true;          // draw the plots (matplotlib)
};

StudyResults run_study(const StudyOptions& options);

}  // namespace forensight::study

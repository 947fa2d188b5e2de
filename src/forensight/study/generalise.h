// Leave-one-family-out training (issue #17): for each generator family of a dataset, one training
// run that holds it out (train's --hold-out-source), then the matrix of every run against every
// family (study/generalisation_matrix.h). The honest test of a detector is a generator it never
// saw; this turns that test into one command.
#pragma once
#include <string>
#include <vector>

#include "forensight/study/generalisation_matrix.h"
#include "forensight/train/train_options.h"

namespace forensight::study {

struct GeneraliseOptions {
  // Every run's options; data_path is the dataset, out_dir the study folder (the runs go to
  // out_dir/hold-out-FAMILY); hold_out_source must be empty (each run sets its own).
  train::TrainOptions train;
  // The families to hold out, one run each; empty = every generator family of the data (every
  // source whose images are all AI-generated). The matrix's columns are the same families.
  std::vector<std::string> families;
};

struct GeneraliseResult {
  GeneralisationMatrix matrix;
  std::vector<std::string> run_dirs;  // one per family, in the matrix's order
};

// Runs the trainings one after another in this process, skipping a run whose folder already
// holds its final report and resuming one that holds a `last` checkpoint (rerunning the command
// finishes an interrupted study), then writes out_dir/matrix.{csv,md,json}. Throws Error naming
// the families found when an asked family is not one, or when fewer than two generator families
// exist (holding out the only one leaves nothing AI-generated to train on).
GeneraliseResult run_generalise(const GeneraliseOptions& options);

// The run folder of one held-out family: out_dir/hold-out-FAMILY, characters other than letters,
// digits, '-', '_' and '.' replaced by '_'.
std::string hold_out_run_dir(const std::string& out_dir, const std::string& family);

}  // namespace forensight::study

// Where this build's source tree is: the scripts the commands run (bench/python/*.py, the study's
// plot_study.py, scripts/export_weights.py) are read from there, not installed.
#pragma once

#include <string>

namespace forensight::core {

// The checkout the executable was built from (an absolute path, fixed at configure time).
const std::string& source_dir();

}  // namespace forensight::core

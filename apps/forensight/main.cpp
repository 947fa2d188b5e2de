// forensight: train, evaluate and serve detectors of AI-generated images. This file only wires the
// subcommands together and turns errors into a message and a non-zero exit.
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/core/log.h"
#include "forensight/core/memory.h"

int main(int argc, char** argv) {
  forensight::retain_freed_memory();  // before any thread allocates: see core/memory.h
  CLI::App app{"Forensight: detectors of AI-generated images (0 = real, 1 = AI-generated)"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default info)")
      ->envname("FORENSIGHT_LOG_LEVEL");
  app.parse_complete_callback([&] { forensight::init_logging(log_level); });

  forensight::app::register_data_command(app);
  forensight::app::register_train_command(app);
  forensight::app::register_eval_command(app);
  forensight::app::register_predict_command(app);
  forensight::app::register_quantize_command(app);
  forensight::app::register_import_command(app);
  forensight::app::register_export_command(app);
  forensight::app::register_bench_command(app);
  forensight::app::register_launch_command(app);
  forensight::app::register_study_command(app);
  forensight::app::register_generalise_command(app);
  forensight::app::register_serve_command(app);

  try {
    // CLI11 would only say "a subcommand is required" for a mistyped command: name it instead.
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (argc > 1 && argv[1][0] != '-' &&
        std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      throw forensight::Error(fmt::format("unknown command '{}': valid commands are {}", argv[1],
                                          fmt::join(names, ", ")));
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const forensight::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

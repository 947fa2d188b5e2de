// Each subcommand lives in its own file and registers itself on the top-level CLI11 app: it only
// parses options and calls the library.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace forensight::app {

void register_data_command(CLI::App& app);
void register_train_command(CLI::App& app);
void register_eval_command(CLI::App& app);
void register_predict_command(CLI::App& app);
void register_quantize_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_launch_command(CLI::App& app);
void register_study_command(CLI::App& app);
void register_generalise_command(CLI::App& app);
void register_serve_command(CLI::App& app);
void register_import_command(CLI::App& app);
void register_export_command(CLI::App& app);

// --device, --precision and --threads, as every command that runs a trained detector takes them.
void add_inference_options(CLI::App& command, std::string& device, std::string& precision,
                           int& threads);

}  // namespace forensight::app

// One declarative table of options per command: name, help (the default is appended), the field it
// writes, valid choices, an environment override. The table binds to a CLI11 subcommand, reads a
// YAML or JSON config file, and resolves defaults < config file < environment < flags. CLI11 writes
// at parse time, so flags land in text buffers and reach the fields only in resolve().
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace CLI {
class App;
}

namespace forensight {

// The field an option writes. Its value when the table is bound (or resolved) is the default.
using OptionField = std::variant<int*, int64_t*, double*, bool*, std::string*, std::vector<int>*,
                                 std::vector<double>*>;

struct OptionSpec {
  std::string name;   // kebab-case: flag --batch-size; config key batch-size or batch_size
  OptionField field;  // where the resolved value goes
  std::string help;   // one line; the table appends the default, the choices and the env variable
  std::vector<std::string> choices = {};  // std::string fields only: the valid values
  std::string env = {};                   // environment variable overriding the config file
};

// Where an option's resolved value came from, lowest precedence first.
enum class OptionSource { kDefault, kConfig, kEnvironment, kCommandLine };
const char* to_string(OptionSource source);

// Reads a YAML (.yaml, .yml) or JSON (.json) file into JSON (an empty file is an empty object);
// YAML's plain scalars are typed as YAML 1.2's core schema types them. Throws Error naming the file
// and what is wrong with it.
nlohmann::json read_config_file(const std::filesystem::path& path);

class OptionTable {
 public:
  // `command` names the table in messages ("train"). Throws Error on a malformed table: duplicate
  // or non-kebab-case names, choices on a non-string field, a default outside its choices.
  OptionTable(std::string command, std::vector<OptionSpec> specs);
  ~OptionTable();
  // CLI11 keeps pointers into the table's buffers once bound: neither copied nor moved.
  OptionTable(const OptionTable&) = delete;
  OptionTable& operator=(const OptionTable&) = delete;

  // Adds --config FILE and one --name flag per option (--name/--no-name for booleans; lists take
  // several values or a comma-separated one) to `app`. Call once, before parsing. Unknown flags
  // are let through the parse and refused by resolve(), with the valid flags and a hint.
  void bind(CLI::App& app);
  // After parsing, and after the caller has applied any preset to the fields: applies the --config
  // file, then the environment variables, then the flags given. Throws Error naming the offending
  // key, flag or variable, what was expected and what came.
  void resolve();

  // Applies a YAML (.yaml, .yml) or JSON (.json) file of `name: value` pairs. Unknown keys are
  // refused with the valid keys and the closest match in the message.
  void apply_config_file(const std::filesystem::path& path);
  // Applies a JSON object of `name: value` pairs; `origin` names it in messages.
  void apply_json(const nlohmann::json& object, const std::string& origin);

  // The resolved values, keyed by option name; apply_json / a .json config file reads it back.
  nlohmann::json to_json() const;
  OptionSource source(std::string_view name) const;
  const std::string& command() const { return command_; }
  const std::string& config_path() const { return config_path_; }  // empty unless --config given

 private:
  struct Entry;
  Entry& find(std::string_view key, const std::string& origin);
  std::string unknown_name_hint(const std::string& name) const;  // closest option name or ""
  void refuse_extra_arguments() const;

  std::string command_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::string config_path_;
  CLI::App* app_ = nullptr;  // set by bind()
};

}  // namespace forensight

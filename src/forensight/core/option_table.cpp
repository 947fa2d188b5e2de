#include "forensight/core/option_table.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>

#include "forensight/core/error.h"

namespace forensight {

struct OptionTable::Entry {
  OptionSpec spec;
  OptionSource source = OptionSource::kDefault;
  // Parse-time buffers: CLI11 writes here, resolve() moves them to the field.
  std::string text;
  std::vector<std::string> items;
  bool flag = false;
  CLI::Option* cli = nullptr;
};

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Clang before 17 lacks C++20's deduction for aggregates: the fuzz build (clang 14) needs this.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// A config value quoted in an error message. A YAML or JSON string may hold bytes that are not
// UTF-8, on which a plain dump() throws json's type_error instead of our message (found by
// fuzz/fuzz_config.cpp): they are shown as U+FFFD.
std::string shown(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string normalized_key(std::string_view key) {
  std::string out(key);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// What a field accepts, for messages.
std::string expected_type(const OptionSpec& spec) {
  return std::visit(
      Overloaded{[](int*) -> std::string { return "an integer"; },
                 [](int64_t*) -> std::string { return "an integer (64-bit)"; },
                 [](double*) -> std::string { return "a number"; },
                 [](bool*) -> std::string { return "true or false"; },
                 [&](std::string*) -> std::string {
                   return spec.choices.empty() ? "a string" : "one of " + joined(spec.choices);
                 },
                 [](std::vector<int>*) -> std::string { return "a list of integers"; },
                 [](std::vector<double>*) -> std::string { return "a list of numbers"; }},
      spec.field);
}

std::string cli_type_name(const OptionSpec& spec) {
  return std::visit(
      Overloaded{
          [](int*) -> std::string { return "INT"; }, [](int64_t*) -> std::string { return "INT"; },
          [](double*) -> std::string { return "FLOAT"; }, [](bool*) -> std::string { return ""; },
          [&](std::string*) -> std::string {
            return spec.choices.empty() ? "TEXT" : "{" + joined(spec.choices, ",") + "}";
          },
          [](std::vector<int>*) -> std::string { return "INT,..."; },
          [](std::vector<double>*) -> std::string { return "FLOAT,..."; }},
      spec.field);
}

template <typename T>
std::string list_text(const std::vector<T>& values) {
  std::vector<std::string> items;
  for (const T& v : values) items.push_back(fmt::format("{}", v));
  return joined(items, ",");
}

std::string value_text(const OptionField& field) {
  return std::visit(Overloaded{[](bool* v) -> std::string { return *v ? "true" : "false"; },
                               [](std::string* v) -> std::string { return "\"" + *v + "\""; },
                               [](std::vector<int>* v) -> std::string { return list_text(*v); },
                               [](std::vector<double>* v) -> std::string { return list_text(*v); },
                               [](auto* v) -> std::string { return fmt::format("{}", *v); }},
                    field);
}

std::string trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\n\r");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\n\r");
  return std::string(text.substr(begin, end - begin + 1));
}

std::optional<int64_t> parse_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}

// Finite decimal numbers only: from_chars alone would also take "nan" and "inf".
std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.find_first_of("nNiI") != std::string_view::npos) return {};
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return {};
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return {};
}

[[noreturn]] void type_error(const OptionSpec& spec, const std::string& origin,
                             const std::string& got) {
  fail("{}: option '{}' expects {}, got {}", origin, spec.name, expected_type(spec), got);
}

// Text from a flag or an environment variable, typed by the field it is meant for.
nlohmann::json text_to_json(const OptionSpec& spec, const std::vector<std::string>& items,
                            const std::string& origin) {
  auto scalar = [&](const std::string& raw, bool integer) -> nlohmann::json {
    std::string text = trimmed(raw);
    if (integer) {
      if (auto v = parse_integer(text)) return *v;
    } else if (auto v = parse_number(text)) {
      return *v;
    }
    type_error(spec, origin, "'" + raw + "'");
  };
  auto list = [&](bool integer) {
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& item : items) {
      // Env values and single flag values may hold "a,b,c"; CLI11 has split flags already.
      size_t start = 0;
      while (start <= item.size()) {
        size_t comma = std::min(item.find(',', start), item.size());
        std::string piece = item.substr(start, comma - start);
        if (!trimmed(piece).empty() || item.find(',') != std::string::npos)
          out.push_back(scalar(piece, integer));
        start = comma + 1;
      }
    }
    return out;
  };
  const std::string& single = items.empty() ? std::string() : items.front();
  return std::visit(Overloaded{[&](int*) -> nlohmann::json { return scalar(single, true); },
                               [&](int64_t*) -> nlohmann::json { return scalar(single, true); },
                               [&](double*) -> nlohmann::json { return scalar(single, false); },
                               [&](bool*) -> nlohmann::json {
                                 if (auto v = parse_bool(trimmed(single))) return *v;
                                 type_error(spec, origin, "'" + single + "'");
                               },
                               [&](std::string*) -> nlohmann::json { return single; },
                               [&](std::vector<int>*) -> nlohmann::json { return list(true); },
                               [&](std::vector<double>*) -> nlohmann::json { return list(false); }},
                    spec.field);
}

// A JSON value into the field, with the type checked strictly: 32.0 is not an integer, "32" is
// not a number, and a string outside the choices is refused with the choices listed.
void json_to_field(const OptionSpec& spec, const nlohmann::json& value, const std::string& origin) {
  auto integer_in = [&](const nlohmann::json& v, int64_t lo, int64_t hi) -> int64_t {
    bool fits = v.is_number_integer() &&
                (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                        : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi);
    if (!fits) type_error(spec, origin, shown(v));
    return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
  };
  auto number = [&](const nlohmann::json& v) -> double {
    if (!v.is_number()) type_error(spec, origin, shown(v));
    return v.get<double>();
  };
  // A lone scalar where a list is expected is a list of one.
  auto as_list = [&](const nlohmann::json& v) {
    return v.is_array() ? v : nlohmann::json::array({v});
  };
  std::visit(
      Overloaded{[&](int* f) {
                   *f = static_cast<int>(integer_in(value, std::numeric_limits<int>::min(),
                                                    std::numeric_limits<int>::max()));
                 },
                 [&](int64_t* f) {
                   *f = integer_in(value, std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max());
                 },
                 [&](double* f) { *f = number(value); },
                 [&](bool* f) {
                   if (!value.is_boolean()) type_error(spec, origin, shown(value));
                   *f = value.get<bool>();
                 },
                 [&](std::string* f) {
                   if (!value.is_string()) type_error(spec, origin, shown(value));
                   std::string text = value.get<std::string>();
                   if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(),
                                                          text) == spec.choices.end())
                     fail(
                         "{}: option '{}' got '{}', which is not a valid choice; valid choices: {}",
                         origin, spec.name, text, joined(spec.choices));
                   *f = std::move(text);
                 },
                 [&](std::vector<int>* f) {
                   std::vector<int> out;
                   for (const auto& v : as_list(value))
                     out.push_back(static_cast<int>(integer_in(v, std::numeric_limits<int>::min(),
                                                               std::numeric_limits<int>::max())));
                   *f = std::move(out);
                 },
                 [&](std::vector<double>* f) {
                   std::vector<double> out;
                   for (const auto& v : as_list(value)) out.push_back(number(v));
                   *f = std::move(out);
                 }},
      spec.field);
}

nlohmann::json field_to_json(const OptionField& field) {
  return std::visit([](auto* v) { return nlohmann::json(*v); }, field);
}

// YAML's plain scalars typed as YAML 1.2's core schema types them (null, bool, int, float,
// string); quoted scalars stay strings, so `name: "50"` is the string 50.
// YAML text must be UTF-8, but yaml-cpp passes any bytes through; JSON's parser refuses them. A
// string that is not UTF-8 would reach the run's config.json, whose dump() then throws json's
// type_error mid-run (found by fuzz/fuzz_config.cpp), so it is refused here, naming the text.
const std::string& utf8_checked(const std::string& text, const std::string& origin) {
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    fail("{}: {} is not valid UTF-8 text", origin, shown(nlohmann::json(text)));
  }
  return text;
}

nlohmann::json yaml_to_json(const YAML::Node& node, const std::string& origin) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item, origin));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& pair : node) {
        FS_CHECK(pair.first.IsScalar(), "{}: keys must be plain names", origin);
        out[utf8_checked(pair.first.Scalar(), origin)] = yaml_to_json(pair.second, origin);
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& text = utf8_checked(node.Scalar(), origin);
  if (node.Tag() == "!") return text;  // quoted
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (auto v = parse_integer(text)) return *v;
  if (auto v = parse_number(text)) return *v;
  return text;
}

}  // namespace

nlohmann::json read_config_file(const std::filesystem::path& path) {
  FS_CHECK(std::filesystem::is_regular_file(path), "config file '{}' does not exist",
           path.string());
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  nlohmann::json object;
  if (extension == ".yaml" || extension == ".yml") {
    try {
      object = yaml_to_json(YAML::LoadFile(path.string()), path.string());
    } catch (const YAML::Exception& e) {
      fail("config file '{}' is not valid YAML: {}", path.string(), e.what());
    }
  } else if (extension == ".json") {
    std::ifstream in(path);
    FS_CHECK(in, "cannot open config file '{}'", path.string());
    try {
      object = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("config file '{}' is not valid JSON: {}", path.string(), e.what());
    }
  } else {
    fail("config file '{}': unknown format '{}'; use .yaml, .yml or .json", path.string(),
         extension);
  }
  if (object.is_null()) return nlohmann::json::object();  // an empty YAML file
  return object;
}

const char* to_string(OptionSource source) {
  switch (source) {
    case OptionSource::kDefault:
      return "default";
    case OptionSource::kConfig:
      return "config";
    case OptionSource::kEnvironment:
      return "environment";
    case OptionSource::kCommandLine:
      return "command line";
  }
  return "unknown";
}

OptionTable::OptionTable(std::string command, std::vector<OptionSpec> specs)
    : command_(std::move(command)) {
  std::set<std::string> names;
  for (OptionSpec& spec : specs) {
    const std::string& name = spec.name;
    FS_CHECK(!name.empty() &&
                 std::all_of(name.begin(), name.end(),
                             [](char c) {
                               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                             }) &&
                 name.front() != '-',
             "option name '{}' of '{}' must be kebab-case: a-z, 0-9 and inner dashes", name,
             command_);
    FS_CHECK(name != "config" && name != "help", "option name '{}' of '{}' is reserved", name,
             command_);
    FS_CHECK(names.insert(name).second, "option '{}' appears twice in the table of '{}'", name,
             command_);
    FS_CHECK(std::visit([](auto* p) { return p != nullptr; }, spec.field),
             "option '{}' of '{}' has no field to write", name, command_);
    if (!spec.choices.empty()) {
      auto* text = std::get_if<std::string*>(&spec.field);
      FS_CHECK(text, "option '{}' of '{}' has choices but is not a string", name, command_);
      FS_CHECK(std::find(spec.choices.begin(), spec.choices.end(), **text) != spec.choices.end(),
               "option '{}' of '{}' defaults to '{}', which is not among its choices {}", name,
               command_, **text, joined(spec.choices));
    }
    auto entry = std::make_unique<Entry>();
    entry->spec = std::move(spec);
    entries_.push_back(std::move(entry));
  }
}

OptionTable::~OptionTable() = default;

void OptionTable::bind(CLI::App& app) {
  FS_CHECK(app_ == nullptr, "the option table of '{}' is already bound", command_);
  app_ = &app;
  // Unknown arguments stay with this command, so that resolve() can refuse them the way unknown
  // config keys are refused: with the valid flags and the closest one.
  app.allow_extras();
  app.add_option("--config", config_path_,
                 "YAML or JSON file of options (keys as the flags, with - or _); flags and "
                 "environment variables override it");
  for (auto& entry : entries_) {
    const OptionSpec& spec = entry->spec;
    std::string help = spec.help + " (default: " + value_text(spec.field) + ")";
    if (!spec.choices.empty()) help += "; one of " + joined(spec.choices);
    if (!spec.env.empty()) help += "; env " + spec.env;
    std::string flag = "--" + spec.name;
    if (std::holds_alternative<bool*>(spec.field)) {
      entry->cli = app.add_flag(flag + ",!--no-" + spec.name, entry->flag, help);
    } else if (std::holds_alternative<std::vector<int>*>(spec.field) ||
               std::holds_alternative<std::vector<double>*>(spec.field)) {
      entry->cli = app.add_option(flag, entry->items, help)->delimiter(',');
    } else {
      entry->cli = app.add_option(flag, entry->text, help);
    }
    entry->cli->type_name(cli_type_name(spec));
  }
}

void OptionTable::resolve() {
  refuse_extra_arguments();
  if (!config_path_.empty()) apply_config_file(config_path_);
  for (auto& entry : entries_) {
    const OptionSpec& spec = entry->spec;
    if (spec.env.empty()) continue;
    const char* value = std::getenv(spec.env.c_str());
    if (value == nullptr || *value == '\0') continue;
    std::string origin = "environment variable " + spec.env;
    json_to_field(spec, text_to_json(spec, {value}, origin), origin);
    entry->source = OptionSource::kEnvironment;
  }
  for (auto& entry : entries_) {
    if (entry->cli == nullptr || entry->cli->count() == 0) continue;
    const OptionSpec& spec = entry->spec;
    std::string origin = "flag --" + spec.name;
    if (std::holds_alternative<bool*>(spec.field))
      json_to_field(spec, entry->flag, origin);
    else if (std::holds_alternative<std::vector<int>*>(spec.field) ||
             std::holds_alternative<std::vector<double>*>(spec.field))
      json_to_field(spec, text_to_json(spec, entry->items, origin), origin);
    else
      json_to_field(spec, text_to_json(spec, {entry->text}, origin), origin);
    entry->source = OptionSource::kCommandLine;
  }
}

void OptionTable::apply_config_file(const std::filesystem::path& path) {
  apply_json(read_config_file(path), "config file '" + path.string() + "'");
}

void OptionTable::apply_json(const nlohmann::json& object, const std::string& origin) {
  FS_CHECK(object.is_object(), "{}: expected a mapping of option names to values, got {}", origin,
           object.type_name());
  std::set<std::string> seen;
  for (const auto& [key, value] : object.items()) {
    Entry& entry = find(key, origin);
    FS_CHECK(seen.insert(entry.spec.name).second,
             "{}: option '{}' is given twice (as '{}' and another spelling)", origin,
             entry.spec.name, key);
    json_to_field(entry.spec, value, origin + ", key '" + key + "'");
    entry.source = OptionSource::kConfig;
  }
}

std::string OptionTable::unknown_name_hint(const std::string& name) const {
  std::string closest;
  size_t closest_distance = std::numeric_limits<size_t>::max();
  for (const auto& entry : entries_) {
    size_t distance = edit_distance(name, entry->spec.name);
    if (distance < closest_distance) {
      closest_distance = distance;
      closest = entry->spec.name;
    }
  }
  if (closest.empty() || closest_distance > std::max<size_t>(2, closest.size() / 3)) return "";
  return closest;
}

OptionTable::Entry& OptionTable::find(std::string_view key, const std::string& origin) {
  std::string name = normalized_key(key);
  for (auto& entry : entries_)
    if (entry->spec.name == name) return *entry;
  std::vector<std::string> valid;
  for (const auto& entry : entries_) valid.push_back(entry->spec.name);
  std::string closest = unknown_name_hint(name);
  fail("{}: unknown option '{}' for '{}'.{} Valid keys (- and _ are interchangeable): {}", origin,
       key, command_, closest.empty() ? "" : fmt::format(" Did you mean '{}'?", closest),
       joined(valid));
}

void OptionTable::refuse_extra_arguments() const {
  if (app_ == nullptr) return;
  std::vector<std::string> extras = app_->remaining();
  if (extras.empty()) return;
  auto flag = std::find_if(extras.begin(), extras.end(),
                           [](const std::string& arg) { return arg.size() > 1 && arg[0] == '-'; });
  if (flag == extras.end())
    fail("'{}' takes no positional arguments, got '{}'", command_, joined(extras, " "));
  std::string name = flag->substr(flag->find_first_not_of('-'));
  name = normalized_key(name.substr(0, name.find('=')));
  std::vector<std::string> valid = {"--config"};
  for (const auto& entry : entries_) valid.push_back("--" + entry->spec.name);
  std::string closest = unknown_name_hint(name);
  fail("unknown flag '{}' for '{}'.{} Valid flags: {}", *flag, command_,
       closest.empty() ? "" : fmt::format(" Did you mean '--{}'?", closest), joined(valid));
}

nlohmann::json OptionTable::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& entry : entries_) out[entry->spec.name] = field_to_json(entry->spec.field);
  return out;
}

OptionSource OptionTable::source(std::string_view name) const {
  std::string key = normalized_key(name);
  for (const auto& entry : entries_)
    if (entry->spec.name == key) return entry->source;
  fail("'{}' has no option '{}'", command_, name);
}

}  // namespace forensight

// core/option_table: flags, config files (YAML and JSON), environment, and their precedence;
// unknown names and wrong types refused with messages that say what is valid.
#include "forensight/core/option_table.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>

#include "forensight/core/error.h"

namespace forensight {
namespace {

struct TrainOptions {
  double lr = 1e-3;                      // peak learning rate
  int batch_size = 32;                   // images per step
  int64_t steps_total = 1000;            // optimiser steps
  bool amp = false;                      // mixed precision
  std::string precision = "fp32";        // fp32, bf16, fp16
  std::string run_dir = "runs/default";  // where the run lives
  std::vector<int> lr_milestones = {10, 20};
  std::vector<double> mean = {0.485, 0.456, 0.406};
};

// The table under test, as a command would declare it.
std::vector<OptionSpec> train_table(TrainOptions& o) {
  return {
      {"lr", &o.lr, "peak learning rate", {}, "FORENSIGHT_TEST_LR"},
      {"batch-size", &o.batch_size, "images per step", {}, "FORENSIGHT_TEST_BATCH_SIZE"},
      {"steps-total", &o.steps_total, "optimiser steps"},
      {"amp", &o.amp, "mixed precision", {}, "FORENSIGHT_TEST_AMP"},
      {"precision",
       &o.precision,
       "compute precision",
       {"fp32", "bf16", "fp16"},
       "FORENSIGHT_TEST_PRECISION"},
      {"run-dir", &o.run_dir, "run directory"},
      {"lr-milestones", &o.lr_milestones, "epochs where the learning rate drops"},
      {"mean", &o.mean, "per-channel normalisation mean"},
  };
}

class OptionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("forensight_options_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(folder_);
    for (const char* name : {"FORENSIGHT_TEST_LR", "FORENSIGHT_TEST_BATCH_SIZE",
                             "FORENSIGHT_TEST_AMP", "FORENSIGHT_TEST_PRECISION"})
      ::unsetenv(name);
  }
  void TearDown() override {
    std::filesystem::remove_all(folder_);
    for (const char* name : {"FORENSIGHT_TEST_LR", "FORENSIGHT_TEST_BATCH_SIZE",
                             "FORENSIGHT_TEST_AMP", "FORENSIGHT_TEST_PRECISION"})
      ::unsetenv(name);
  }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    auto path = folder_ / name;
    std::ofstream(path) << text;
    return path;
  }
  // Parses `args` (after the program and subcommand names) and resolves the table.
  void parse(OptionTable& table, std::vector<std::string> args) {
    CLI::App app{"test"};
    auto* sub = app.add_subcommand("train");
    table.bind(*sub);
    args.insert(args.begin(), "train");
    std::reverse(args.begin(), args.end());  // CLI11's vector overload takes them reversed
    app.parse(args);
    table.resolve();
  }
  static std::string message_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no forensight::Error thrown";
    return "";
  }
  std::filesystem::path folder_;
};

TEST_F(OptionTableTest, DefaultsStayWhenNothingIsGiven) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  parse(table, {});
  EXPECT_EQ(o.batch_size, 32);
  EXPECT_DOUBLE_EQ(o.lr, 1e-3);
  EXPECT_EQ(table.source("batch-size"), OptionSource::kDefault);
}

TEST_F(OptionTableTest, FlagsOfEveryTypeReachTheirFields) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  parse(table, {"--lr", "0.05", "--batch-size=64", "--steps-total", "5000000000", "--amp",
                "--precision", "bf16", "--run-dir", "runs/x", "--lr-milestones", "3,6,9", "--mean",
                "0.5", "0.25", "0.125"});
  EXPECT_DOUBLE_EQ(o.lr, 0.05);
  EXPECT_EQ(o.batch_size, 64);
  EXPECT_EQ(o.steps_total, 5000000000LL);
  EXPECT_TRUE(o.amp);
  EXPECT_EQ(o.precision, "bf16");
  EXPECT_EQ(o.run_dir, "runs/x");
  EXPECT_EQ(o.lr_milestones, (std::vector<int>{3, 6, 9}));
  EXPECT_EQ(o.mean, (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(table.source("lr"), OptionSource::kCommandLine);
}

TEST_F(OptionTableTest, NegatedBooleanFlag) {
  TrainOptions o;
  o.amp = true;
  OptionTable table("train", train_table(o));
  parse(table, {"--no-amp"});
  EXPECT_FALSE(o.amp);
  TrainOptions p;
  OptionTable explicit_value("train", train_table(p));
  parse(explicit_value, {"--amp=true"});
  EXPECT_TRUE(p.amp);
}

TEST_F(OptionTableTest, UnknownFlagListsValidFlagsAndClosestMatch) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] { parse(table, {"--batch_sise=8"}); });
  EXPECT_NE(message.find("unknown flag '--batch_sise=8' for 'train'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("Did you mean '--batch-size'?"), std::string::npos) << message;
  EXPECT_NE(message.find("Valid flags: --config, --lr, --batch-size"), std::string::npos)
      << message;
  EXPECT_EQ(o.batch_size, 32);  // nothing applied
}

TEST_F(OptionTableTest, StrayPositionalArgumentIsRefused) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] { parse(table, {"--lr", "0.1", "extra"}); });
  EXPECT_NE(message.find("no positional arguments, got 'extra'"), std::string::npos) << message;
}

TEST_F(OptionTableTest, FlagOfWrongTypeNamesFlagTypeAndValue) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] { parse(table, {"--batch-size", "3.5"}); });
  EXPECT_NE(message.find("--batch-size"), std::string::npos) << message;
  EXPECT_NE(message.find("an integer"), std::string::npos) << message;
  EXPECT_NE(message.find("'3.5'"), std::string::npos) << message;
}

TEST_F(OptionTableTest, ChoiceOutsideValidSetListsTheChoices) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] { parse(table, {"--precision", "fp8"}); });
  EXPECT_NE(message.find("'fp8'"), std::string::npos) << message;
  EXPECT_NE(message.find("valid choices: fp32, bf16, fp16"), std::string::npos) << message;
}

TEST_F(OptionTableTest, YamlConfigAcceptsBothKeySpellings) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  auto path = write("c.yaml",
                    "lr: 2.5e-4\nbatch_size: 128\nsteps-total: 77\namp: true\nprecision: fp16\n"
                    "run_dir: \"007\"\nlr_milestones: [1, 2]\nmean: [0.1, 1]\n");
  parse(table, {"--config", path.string()});
  EXPECT_DOUBLE_EQ(o.lr, 2.5e-4);
  EXPECT_EQ(o.batch_size, 128);
  EXPECT_EQ(o.steps_total, 77);
  EXPECT_TRUE(o.amp);
  EXPECT_EQ(o.precision, "fp16");
  EXPECT_EQ(o.run_dir, "007");  // quoted: stays a string
  EXPECT_EQ(o.lr_milestones, (std::vector<int>{1, 2}));
  EXPECT_EQ(o.mean, (std::vector<double>{0.1, 1.0}));
  EXPECT_EQ(table.source("batch_size"), OptionSource::kConfig);
  EXPECT_EQ(table.config_path(), path.string());
}

TEST_F(OptionTableTest, JsonConfig) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  auto path = write("c.json", R"({"lr": 0.1, "batch-size": 16, "precision": "bf16"})");
  parse(table, {"--config", path.string()});
  EXPECT_DOUBLE_EQ(o.lr, 0.1);
  EXPECT_EQ(o.batch_size, 16);
  EXPECT_EQ(o.precision, "bf16");
}

TEST_F(OptionTableTest, UnknownConfigKeyListsValidKeysAndClosestMatch) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  auto path = write("c.yaml", "batch_sise: 64\n");
  std::string message = message_of([&] { parse(table, {"--config", path.string()}); });
  EXPECT_NE(message.find("unknown option 'batch_sise'"), std::string::npos) << message;
  EXPECT_NE(message.find("Did you mean 'batch-size'?"), std::string::npos) << message;
  EXPECT_NE(message.find("lr, batch-size, steps-total, amp, precision"), std::string::npos)
      << message;
  EXPECT_NE(message.find("c.yaml"), std::string::npos) << message;
}

TEST_F(OptionTableTest, ConfigValueOfWrongTypeNamesKeyTypeAndValue) {
  struct Bad {
    const char* yaml;
    const char* expected;
    const char* got;
  };
  for (const Bad& bad :
       {Bad{"batch-size: 32.5\n", "an integer", "32.5"},
        Bad{"batch-size: \"32\"\n", "an integer", "\"32\""},
        Bad{"lr: fast\n", "a number", "\"fast\""}, Bad{"amp: 2\n", "true or false", "2"},
        Bad{"run-dir: 5\n", "a string", "5"},
        Bad{"lr-milestones: [1, x]\n", "a list of integers", "\"x\""},
        Bad{"batch-size: 99999999999\n", "an integer", "99999999999"}}) {
    SCOPED_TRACE(bad.yaml);
    TrainOptions o;
    OptionTable table("train", train_table(o));
    auto path = write("bad.yaml", bad.yaml);
    std::string message = message_of([&] { table.apply_config_file(path); });
    std::string key = std::string(bad.yaml).substr(0, std::string(bad.yaml).find(':'));
    EXPECT_NE(message.find("key '" + key + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(bad.expected), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("got ") + bad.got), std::string::npos) << message;
  }
}

TEST_F(OptionTableTest, ConfigChoiceOutsideValidSet) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] {
    table.apply_json({{"precision", "int4"}}, "test object");
  });
  EXPECT_NE(message.find("valid choices: fp32, bf16, fp16"), std::string::npos) << message;
}

TEST_F(OptionTableTest, MalformedConfigFilesAreRefused) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  EXPECT_NE(message_of([&] {
              table.apply_config_file(write("x.json", "{\"lr\": "));
            }).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              table.apply_config_file(write("x.yaml", "lr: [1, 2\n"));
            }).find("not valid YAML"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              table.apply_config_file(write("x.toml", "lr = 1"));
            }).find("use .yaml, .yml or .json"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              table.apply_config_file(write("list.yaml", "- 1\n- 2\n"));
            }).find("expected a mapping"),
            std::string::npos);
  EXPECT_NE(
      message_of([&] { table.apply_config_file(folder_ / "missing.yaml"); }).find("does not exist"),
      std::string::npos);
  EXPECT_NE(message_of([&] {
              table.apply_config_file(write("twice.yaml", "batch_size: 1\nbatch-size: 2\n"));
            }).find("given twice"),
            std::string::npos);
}

TEST_F(OptionTableTest, PrecedenceDefaultThenConfigThenEnvironmentThenFlag) {
  auto path = write("c.yaml", "lr: 0.2\nbatch-size: 64\nprecision: bf16\namp: true\n");
  ::setenv("FORENSIGHT_TEST_BATCH_SIZE", "96", 1);
  ::setenv("FORENSIGHT_TEST_PRECISION", "fp16", 1);
  TrainOptions o;
  o.steps_total = 42;  // a preset applied by the caller before resolving
  OptionTable table("train", train_table(o));
  parse(table, {"--config", path.string(), "--precision", "fp32"});
  EXPECT_EQ(o.steps_total, 42);  // preset kept: nothing overrides it
  EXPECT_DOUBLE_EQ(o.lr, 0.2);   // config over default
  EXPECT_TRUE(o.amp);
  EXPECT_EQ(o.batch_size, 96);     // environment over config
  EXPECT_EQ(o.precision, "fp32");  // flag over environment and config
  EXPECT_EQ(table.source("steps-total"), OptionSource::kDefault);
  EXPECT_EQ(table.source("lr"), OptionSource::kConfig);
  EXPECT_EQ(table.source("batch-size"), OptionSource::kEnvironment);
  EXPECT_EQ(table.source("precision"), OptionSource::kCommandLine);
}

TEST_F(OptionTableTest, EnvironmentOfWrongTypeNamesTheVariable) {
  ::setenv("FORENSIGHT_TEST_AMP", "maybe", 1);
  TrainOptions o;
  OptionTable table("train", train_table(o));
  std::string message = message_of([&] { parse(table, {}); });
  EXPECT_NE(message.find("FORENSIGHT_TEST_AMP"), std::string::npos) << message;
  EXPECT_NE(message.find("'maybe'"), std::string::npos) << message;
}

TEST_F(OptionTableTest, ResolvedValuesRoundTripThroughJson) {
  TrainOptions a;
  OptionTable first("train", train_table(a));
  parse(first, {"--lr", "0.1", "--batch-size", "7", "--steps-total", "9000000000", "--amp",
                "--precision", "fp16", "--run-dir", "runs/a b", "--lr-milestones", "4", "--mean",
                "0.1,0.2,0.30000000000000004"});
  auto saved = folder_ / "config.json";
  std::ofstream(saved) << first.to_json().dump(2);

  TrainOptions b;
  OptionTable second("train", train_table(b));
  second.apply_config_file(saved);
  EXPECT_EQ(second.to_json(), first.to_json());
  EXPECT_DOUBLE_EQ(b.lr, 0.1);
  EXPECT_EQ(b.steps_total, 9000000000LL);
  EXPECT_EQ(b.mean, a.mean);  // bit-exact doubles
  EXPECT_EQ(b.run_dir, "runs/a b");
  EXPECT_EQ(b.lr_milestones, (std::vector<int>{4}));
}

TEST_F(OptionTableTest, HelpShowsDefaultsChoicesAndEnvironment) {
  TrainOptions o;
  OptionTable table("train", train_table(o));
  CLI::App app{"test"};
  table.bind(app);
  std::string help = app.help();
  EXPECT_NE(help.find("peak learning rate (default: 0.001)"), std::string::npos) << help;
  EXPECT_NE(help.find("one of fp32, bf16, fp16"), std::string::npos) << help;
  EXPECT_NE(help.find("env FORENSIGHT_TEST_LR"), std::string::npos) << help;
  EXPECT_NE(help.find("--config"), std::string::npos) << help;
}

TEST_F(OptionTableTest, MalformedTableIsRefused) {
  TrainOptions o;
  EXPECT_THROW(OptionTable("t", {{"lr", &o.lr, "a"}, {"lr", &o.lr, "b"}}), Error);
  EXPECT_THROW(OptionTable("t", {{"Batch_Size", &o.batch_size, "a"}}), Error);
  EXPECT_THROW(OptionTable("t", {{"lr", &o.lr, "a", {"x"}}}), Error);
  EXPECT_THROW(OptionTable("t", {{"precision", &o.precision, "a", {"bf16"}}}), Error);
  EXPECT_THROW(OptionTable("t", {{"config", &o.run_dir, "a"}}), Error);
}

}  // namespace
}  // namespace forensight

// Reading the rank, world and master from torchrun's and Slurm's environment conventions.
#include "forensight/parallel/rendezvous.h"

#include <gtest/gtest.h>

#include <map>

#include "../support/error_of.h"

namespace forensight::parallel {
namespace {

GetEnv env_of(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RendezvousTest, NothingSetIsOneProcess) {
  const RendezvousInfo info = rendezvous_from_environment(env_of({}));
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.rank, 0);
  EXPECT_FALSE(info.distributed());
  EXPECT_EQ(info.source, "none");
}

TEST(RendezvousTest, ReadsTorchrunVariables) {
  const RendezvousInfo info = rendezvous_from_environment(
      env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
              {"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "29600"},
              {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 2);
  EXPECT_EQ(info.master_addr, "10.1.2.3");
  EXPECT_EQ(info.master_port, 29600);
  EXPECT_EQ(info.restart_count, 2);
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_TRUE(info.distributed());
}

TEST(RendezvousTest, ReadsSlurmVariablesAndTheFirstHost) {
  const RendezvousInfo info = rendezvous_from_environment(
      env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
              {"SLURM_NTASKS_PER_NODE", "4(x2)"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"},
              {"MASTER_PORT", "12345"}}));
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_world_size, 4);
  EXPECT_EQ(info.master_addr, "gpu07");
  EXPECT_EQ(info.master_port, 12345);
  EXPECT_EQ(info.source, "slurm");
}

TEST(RendezvousTest, TorchrunWinsOverSlurmAndMasterAddrOverTheNodeList) {
  const RendezvousInfo info = rendezvous_from_environment(
      env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"},
              {"MASTER_ADDR", "head"}}));
  EXPECT_EQ(info.source, "torchrun");
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.master_addr, "head");
}

TEST(RendezvousTest, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node1"), "node1");
  EXPECT_EQ(first_slurm_host("a,b,c"), "a");
  EXPECT_EQ(first_slurm_host("node[01-04,07],gpu5"), "node01");
  EXPECT_EQ(first_slurm_host("rack[3,5]-n[1-2]"), "rack3-n1");
  EXPECT_NE(testing::error_of([] { first_slurm_host(""); }).find("SLURM_JOB_NODELIST"),
            std::string::npos);
}

TEST(RendezvousTest, RefusesMalformedValuesNamingTheVariable) {
  const auto error = [](std::map<std::string, std::string> values) {
    return testing::error_of([&] { rendezvous_from_environment(env_of(values)); });
  };
  EXPECT_NE(error({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("RANK=2 is out of range"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x' is not an integer"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "0"}}).find("RANK and WORLD_SIZE must be set together"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT=70000"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"},
                   {"LOCAL_WORLD_SIZE", "2"}})
                .find("local rank 2"),
            std::string::npos);
}

}  // namespace
}  // namespace forensight::parallel

// `forensight serve`, the real binary: it serves until SIGTERM, then drains and exits 0; and it
// refuses to listen beyond loopback without an API key.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/build_paths.h"
#include "../support/processes.h"
#include "serve_support.h"

namespace forensight {
namespace {

using testing::ServeFixture;

// Starts `argv` with its output in `log_path`; returns the child's pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log);
  return pid;
}

// The child's exit status (128 + N when killed by signal N), or -1 if it is still running after
// `timeout_s` (it is then killed).
int wait_for_exit(pid_t pid, double timeout_s) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST(ServeCommandIntegration, ServesUntilSigtermThenDrainsAndExitsZero) {
  const auto& f = ServeFixture::get();
  const int port = testing::free_port();
  const std::string log = f.dir + "/serve.log";
  const pid_t pid =
      spawn({forensight::testing::forensight_binary(), "serve", "--checkpoint", f.checkpoints[0],
             "--checkpoint", f.checkpoints[1], "--port", std::to_string(port), "--keep-alive-s",
             "1", "--grace-s", "5", "--threads", "1"},
            log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(testing::wait_until_ready(port, 120)) << tail_of_file(log);
  auto client = testing::client_of(port);
  auto res = client.Post("/v1/detect", f.images[6], "image/jpeg");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto answer = nlohmann::json::parse(res->body);
  EXPECT_NEAR(answer["models"][0]["probability_fake"].get<double>(), f.reference.at("resnet18")[6],
              1e-5);
  EXPECT_NEAR(answer["models"][1]["probability_fake"].get<double>(), f.reference.at("vit-tiny")[6],
              1e-5);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(wait_for_exit(pid, 30), 0) << tail_of_file(log);
  EXPECT_NE(tail_of_file(log, 100000).find("draining"), std::string::npos) << tail_of_file(log);
  auto after = testing::client_of(port);
  after.set_connection_timeout(1);
  EXPECT_FALSE(after.Get("/healthz"));
}

TEST(ServeCommandIntegration, NonLoopbackHostWithoutApiKeyIsRefused) {
  const auto& f = ServeFixture::get();
  std::string output;
  const int status = testing::run_command(
      std::string("env -u FORENSIGHT_API_KEY ") + forensight::testing::forensight_binary() +
          " serve --checkpoint " + f.checkpoints[0] + " --host 0.0.0.0 --port " +
          std::to_string(testing::free_port()),
      &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("--api-key"), std::string::npos) << output;
}

}  // namespace
}  // namespace forensight

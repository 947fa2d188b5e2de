#include "forensight/serve/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>

#include <fmt/format.h>

namespace forensight::serve {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Bad Request";
  }
}

// After a refusal the client may still be sending the request's rest: closing with unread bytes
// makes the kernel reset the connection, and a reset can destroy the answer before the client reads
// it. So the write side is shut first and what still comes is read and dropped, for a moment.
void close_lingering(int fd) {
  constexpr auto kLinger = std::chrono::milliseconds(500);
  constexpr size_t kLingerBytes = 4 << 20;
  ::shutdown(fd, SHUT_WR);
  const auto until = std::chrono::steady_clock::now() + kLinger;
  char sink[16384];
  size_t drained = 0;
  while (drained < kLingerBytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, sink, sizeof(sink), 0);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace

bool HttpServer::serve(LimitedStream& stream, const std::function<bool()>& keep_waiting) {
  LimitedStream::set_current(&stream);
  bool clean = true;
  for (int left = limits_.keep_alive_max_requests; left > 0; --left) {
    if (!stream.wait_for_request(keep_waiting)) break;
    stream.begin_request();
    bool closed = false;
    const bool ok = process_request(stream, /*close_connection=*/left == 1, closed, nullptr);
    if (stream.exceeded() != StreamLimit::kNone) {
      // httplib gives up without a word when the request line is what passed the limit.
      if (stream.written() == 0) answer_limit(stream);
      clean = false;
      break;
    }
    if (!ok || closed) {  // a refusal may have left the request's rest unread
      clean = false;
      break;
    }
  }
  LimitedStream::set_current(nullptr);
  return clean;
}

void HttpServer::answer_limit(LimitedStream& stream) {
  const int status = limit_status(stream.exceeded());
  const std::string body =
      nlohmann::json{{"error", limit_message(stream.exceeded(), limits_)}}.dump();
  const std::string answer = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n{}",
      status, reason_phrase(status), body.size(), body);
  size_t offset = 0;
  while (offset < answer.size()) {
    const ssize_t n = stream.write(answer.data() + offset, answer.size() - offset);
    if (n <= 0) break;
    offset += static_cast<size_t>(n);
  }
  if (record_) record_(status);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  SocketStream stream(sock, limits_);
  const bool clean = serve(stream, [this] { return svr_sock_ != INVALID_SOCKET; });
  if (clean) {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  } else {
    close_lingering(sock);
  }
  return true;
}

}  // namespace forensight::serve

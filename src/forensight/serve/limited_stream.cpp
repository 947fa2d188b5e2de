#include "forensight/serve/limited_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace forensight::serve {
namespace {

thread_local LimitedStream* t_current = nullptr;

// Milliseconds from now until `deadline` for poll(), rounded up so that a wait never ends early.
int poll_timeout_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

bool poll_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n >= 0) return n > 0;  // POLLHUP and POLLERR count: the next call will not block
    if (errno != EINTR) return false;
  }
}

void address_of(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
    port = ntohs(a.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text));
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

}  // namespace

int limit_status(StreamLimit limit) {
  switch (limit) {
    case StreamLimit::kHeadTooLarge:
      return 431;
    case StreamLimit::kHeadTimeout:
    case StreamLimit::kBodyTimeout:
      return 408;
    case StreamLimit::kBodyTooLarge:
      return 413;
    case StreamLimit::kNone:
      break;
  }
  return 400;
}

std::string limit_message(StreamLimit limit, const ConnectionLimits& limits) {
  switch (limit) {
    case StreamLimit::kHeadTooLarge:
      return fmt::format(
          "the request line and headers are larger than the limit of {} KiB (--max-header-kb)",
          limits.max_head_bytes >> 10);
    case StreamLimit::kHeadTimeout:
      return fmt::format(
          "the request line and headers did not arrive within {} s (--head-timeout-s) or a read "
          "waited longer than {} s (--io-timeout-s)",
          limits.head_timeout_s, limits.io_timeout_s);
    case StreamLimit::kBodyTimeout:
      return fmt::format(
          "the body did not arrive within {} s (--body-timeout-s) or a read waited longer than "
          "{} s (--io-timeout-s)",
          limits.body_timeout_s, limits.io_timeout_s);
    case StreamLimit::kBodyTooLarge:
      return fmt::format(
          "the body is more than {} bytes on the wire, over the limit that --max-body-mb sets "
          "with room for its framing",
          limits.max_body_wire_bytes);
    case StreamLimit::kNone:
      break;
  }
  return "no limit was passed";
}

LimitedStream* LimitedStream::current() {
  return t_current;
}

void LimitedStream::set_current(LimitedStream* stream) {
  t_current = stream;
}

LimitedStream::Clock::time_point LimitedStream::io_deadline() const {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(limits_.io_timeout_s));
}

bool LimitedStream::wait_for_request(const std::function<bool()>& keep_waiting) {
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(limits_.keep_alive_s));
  // In slices, so that a stopping server closes its idle connections within one.
  constexpr auto kSlice = std::chrono::milliseconds(50);
  for (;;) {
    if (keep_waiting && !keep_waiting()) return false;
    const auto now = Clock::now();
    if (now >= until) return false;
    if (readable_before(std::min(until, now + kSlice))) return true;
  }
}

void LimitedStream::begin_request() {
  exceeded_ = StreamLimit::kNone;
  head_complete_ = false;
  head_bytes_ = 0;
  line_bytes_ = 0;
  head_lines_ = 0;
  body_bytes_ = 0;
  written_ = 0;
  head_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(limits_.head_timeout_s));
  body_deadline_ = head_deadline_;
}

bool LimitedStream::account(const char* ptr, size_t n) {
  size_t i = 0;
  // The head ends at its first empty line after the request line ("\r\n", or a bare "\n", which
  // some parsers take: ending the count early only moves bytes under the body's limits).
  for (; i < n && !head_complete_; ++i) {
    ++head_bytes_;
    const char c = ptr[i];
    if (c == '\n') {
      if (line_bytes_ == 0 && head_lines_ > 0) {
        head_complete_ = true;
        body_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(limits_.body_timeout_s));
      }
      ++head_lines_;
      line_bytes_ = 0;
    } else if (c != '\r') {
      ++line_bytes_;
    }
  }
  if (!head_complete_ && head_bytes_ > limits_.max_head_bytes) {
    exceeded_ = StreamLimit::kHeadTooLarge;
    return false;
  }
  body_bytes_ += n - i;
  if (limits_.max_body_wire_bytes > 0 && body_bytes_ > limits_.max_body_wire_bytes) {
    exceeded_ = StreamLimit::kBodyTooLarge;
    return false;
  }
  return true;
}

ssize_t LimitedStream::read(char* ptr, size_t size) {
  if (exceeded_ != StreamLimit::kNone) return -1;
  if (size == 0) return 0;
  const Clock::time_point phase_deadline = head_complete_ ? body_deadline_ : head_deadline_;
  const ssize_t n = read_some(ptr, size, std::min(io_deadline(), phase_deadline));
  if (n == kTimedOut) {
    exceeded_ = head_complete_ ? StreamLimit::kBodyTimeout : StreamLimit::kHeadTimeout;
    return -1;
  }
  if (n <= 0) return n < 0 ? -1 : 0;
  return account(ptr, static_cast<size_t>(n)) ? n : -1;
}

ssize_t LimitedStream::write(const char* ptr, size_t size) {
  if (size == 0) return 0;
  // Never 0 for a non-empty write: httplib's write loop would spin on it.
  const ssize_t n = write_some(ptr, size, io_deadline());
  if (n <= 0) return -1;
  written_ += static_cast<size_t>(n);
  return n;
}

bool LimitedStream::is_readable() const {
  if (exceeded_ != StreamLimit::kNone) return false;
  const Clock::time_point phase_deadline = head_complete_ ? body_deadline_ : head_deadline_;
  return readable_before(std::min(io_deadline(), phase_deadline));
}

bool LimitedStream::is_writable() const {
  return writable_before(io_deadline());
}

ssize_t SocketStream::read_some(char* ptr, size_t size, Clock::time_point deadline) {
  if (buffer_begin_ == buffer_end_) {
    if (!readable_before(deadline)) return kTimedOut;
    // A large read (a body) goes straight to the caller; a small one (the head) through the buffer.
    char* target = size >= sizeof(buffer_) ? ptr : buffer_;
    const size_t capacity = size >= sizeof(buffer_) ? size : sizeof(buffer_);
    ssize_t n;
    do {
      n = ::recv(fd_, target, capacity, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0 || target == ptr) return n;
    buffer_begin_ = 0;
    buffer_end_ = static_cast<size_t>(n);
  }
  const size_t n = std::min(size, buffer_end_ - buffer_begin_);
  std::memcpy(ptr, buffer_ + buffer_begin_, n);
  buffer_begin_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t SocketStream::write_some(const char* ptr, size_t size, Clock::time_point deadline) {
  if (!writable_before(deadline)) return -1;
  ssize_t n;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

bool SocketStream::readable_before(Clock::time_point deadline) const {
  return buffer_begin_ < buffer_end_ || poll_for(fd_, POLLIN, deadline);
}

bool SocketStream::writable_before(Clock::time_point deadline) const {
  return poll_for(fd_, POLLOUT, deadline);
}

void SocketStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    address_of(address, ip, port);
}

void SocketStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    address_of(address, ip, port);
}

ssize_t MemoryStream::read_some(char* ptr, size_t size, Clock::time_point) {
  const size_t n = std::min(size, input_.size() - position_);
  std::memcpy(ptr, input_.data() + position_, n);
  position_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t MemoryStream::write_some(const char* ptr, size_t size, Clock::time_point) {
  output_.append(ptr, size);
  return static_cast<ssize_t>(size);
}

void MemoryStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = "127.0.0.1";
  port = 0;
}

void MemoryStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = "127.0.0.1";
  port = 0;
}

}  // namespace forensight::serve

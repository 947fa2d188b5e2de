// The bytes of one HTTP connection as httplib's request parser reads them, with the limits that
// Debian's cpp-httplib 0.11.4 lacks: its line reader grows a request line or header without bound,
// counts no headers, and restarts its read timeout on every byte (a client sending one byte a
// second held a thread for ever). Here the request head (request line and headers) is bounded in
// bytes and in time, and the body in time and in bytes on the wire, whatever httplib does with
// them.
#pragma once
#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace forensight::serve {

struct ConnectionLimits {
  size_t max_head_bytes = 32 << 10;   // request line + headers; beyond: 431
  double head_timeout_s = 10;         // the head must arrive within this of its first byte: 408
  double body_timeout_s = 60;         // the body must arrive within this of the head's end: 408
  size_t max_body_wire_bytes = 0;     // body bytes read per request, framing included; 0 = no limit
  double io_timeout_s = 10;           // one read or write on the socket
  double keep_alive_s = 5;            // an idle connection (none of a request's bytes) closes
  int keep_alive_max_requests = 100;  // requests per connection
};

// Which limit a request passed; kNone while it passed none.
enum class StreamLimit { kNone, kHeadTooLarge, kHeadTimeout, kBodyTimeout, kBodyTooLarge };

// The HTTP status for a passed limit (431, 408 or 413) and the reason, naming the server option.
int limit_status(StreamLimit limit);
std::string limit_message(StreamLimit limit, const ConnectionLimits& limits);

// A connection's stream: accounts for every byte httplib reads of a request and fails the read
// (-1) once a limit is passed, remembering which (exceeded()). Subclasses say where bytes come
// from.
class LimitedStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LimitedStream(ConnectionLimits limits) : limits_(limits) {}

  // Waits until a request's first byte (or the end of the stream) can be read, for at most
  // keep_alive_s; false when none came, or `keep_waiting` said stop (checked every 50 ms).
  bool wait_for_request(const std::function<bool()>& keep_waiting);
  // A new request on the connection: the head's byte count and deadline start again.
  void begin_request();

  StreamLimit exceeded() const { return exceeded_; }
  bool head_complete() const { return head_complete_; }
  size_t written() const { return written_; }  // bytes written since begin_request()
  const ConnectionLimits& limits() const { return limits_; }

  using httplib::Stream::write;  // and its overloads for strings
  ssize_t read(char* ptr, size_t size) final;
  ssize_t write(const char* ptr, size_t size) final;
  bool is_readable() const final;
  bool is_writable() const final;

  // The stream of the connection this thread is serving (httplib serves one per thread), so that
  // the handlers can tell a timed-out body from a malformed one; null outside serve().
  static LimitedStream* current();
  static void set_current(LimitedStream* stream);

 protected:
  // Up to `size` bytes, waiting at most until `deadline`: > 0 bytes read, 0 at the end of the
  // stream, -1 on an error, kTimedOut when the deadline passed first.
  static constexpr ssize_t kTimedOut = -2;
  virtual ssize_t read_some(char* ptr, size_t size, Clock::time_point deadline) = 0;
  virtual ssize_t write_some(const char* ptr, size_t size, Clock::time_point deadline) = 0;
  // Whether a byte (or the end) can be read before `deadline`.
  virtual bool readable_before(Clock::time_point deadline) const = 0;
  virtual bool writable_before(Clock::time_point deadline) const = 0;

 private:
  Clock::time_point io_deadline() const;
  // Counts the bytes httplib took, finds the head's end (an empty line) and passes the limits.
  bool account(const char* ptr, size_t n);

  ConnectionLimits limits_;
  StreamLimit exceeded_ = StreamLimit::kNone;
  bool head_complete_ = false;
  size_t head_bytes_ = 0;
  size_t line_bytes_ = 0;  // bytes of the head's current line so far, its '\r' not counted
  int head_lines_ = 0;
  size_t body_bytes_ = 0;
  size_t written_ = 0;
  Clock::time_point head_deadline_{};
  Clock::time_point body_deadline_{};
};

// A TCP connection: reads through a 4 KiB buffer (httplib reads the head a byte at a time), each
// read and write waits with poll() until its deadline. Does not own the socket.
class SocketStream final : public LimitedStream {
 public:
  SocketStream(int fd, ConnectionLimits limits) : LimitedStream(limits), fd_(fd) {}

  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 protected:
  ssize_t read_some(char* ptr, size_t size, Clock::time_point deadline) override;
  ssize_t write_some(const char* ptr, size_t size, Clock::time_point deadline) override;
  bool readable_before(Clock::time_point deadline) const override;
  bool writable_before(Clock::time_point deadline) const override;

 private:
  int fd_;
  char buffer_[4096];
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
};

// A connection whose client sent `input` and then closed its side: what the fuzz target and the
// tests hand the server without a socket. What the server writes back collects in output().
// `input` is read in place: it must outlive the stream.
class MemoryStream final : public LimitedStream {
 public:
  MemoryStream(std::string_view input, ConnectionLimits limits)
      : LimitedStream(limits), input_(input) {}

  const std::string& output() const { return output_; }

  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return INVALID_SOCKET; }

 protected:
  ssize_t read_some(char* ptr, size_t size, Clock::time_point deadline) override;
  ssize_t write_some(const char* ptr, size_t size, Clock::time_point deadline) override;
  bool readable_before(Clock::time_point) const override { return true; }
  bool writable_before(Clock::time_point) const override { return true; }

 private:
  std::string_view input_;
  size_t position_ = 0;
  std::string output_;
};

}  // namespace forensight::serve

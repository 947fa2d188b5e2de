// httplib's Server with a connection loop of our own: httplib still parses every request and
// routes it to the handlers, but from a LimitedStream (serve/limited_stream.h), so that the head
// and body limits hold, a limit passed before httplib could answer is answered here (431, 408,
// 413 with a JSON error), and a connection with its request refused is closed lingering, so that
// the client reads the refusal instead of a reset. The same loop serves a socket or, for the fuzz
// target, bytes in memory.
#pragma once
#include <httplib.h>

#include <functional>

#include "forensight/serve/limited_stream.h"

namespace forensight::serve {

class HttpServer : public httplib::Server {
 public:
  // Before start: the limits every connection gets.
  void set_connection_limits(const ConnectionLimits& limits) { limits_ = limits; }
  const ConnectionLimits& connection_limits() const { return limits_; }
  // Called with the status of each refusal this loop answers itself (httplib's logger never sees
  // them).
  void set_refusal_recorder(std::function<void(int status)> record) { record_ = std::move(record); }

  // Serves the requests on `stream` until the client closes, a request fails or passes a limit,
  // keep-alive ends (keep_alive_s idle, or keep_alive_max_requests), or `keep_waiting` says stop.
  // Returns true when the connection ended between requests (nothing left unread).
  bool serve(LimitedStream& stream, const std::function<bool()>& keep_waiting);

 private:
  bool process_and_close_socket(socket_t sock) override;
  void answer_limit(LimitedStream& stream);

  ConnectionLimits limits_;
  std::function<void(int)> record_;
};

}  // namespace forensight::serve

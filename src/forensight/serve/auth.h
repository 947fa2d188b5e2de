// Bearer-token checks for the API when the server listens beyond loopback. The comparison takes
// the same time wherever the token differs from the key, so that response times cannot recover
// the key byte by byte (std::string's == stops at the first difference).
#pragma once
#include <string>
#include <string_view>

namespace forensight::serve {

// True when a and b are equal. Time depends on the lengths only, never on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// True when `authorization` (an Authorization header's value) is "Bearer <api_key>" (the scheme
// in any case, spaces around the token ignored). An empty api_key authorizes nothing.
bool bearer_authorized(std::string_view authorization, std::string_view api_key);

// True for addresses that only this machine can reach: 127.0.0.0/8, ::1, "localhost".
bool is_loopback_host(const std::string& host);

}  // namespace forensight::serve

// serve/limited_stream: the byte accounting httplib's parser reads through — where a request's head
// ends, and which limit a request passes (head bytes, body bytes on the wire) — on MemoryStream.
#include "forensight/serve/limited_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace forensight::serve {
namespace {

// Reads `stream` a byte at a time, as httplib reads a head; returns the bytes read before a
// failure.
std::string read_bytewise(LimitedStream& stream, size_t at_most) {
  std::string got;
  char c;
  while (got.size() < at_most && stream.read(&c, 1) == 1) got += c;
  return got;
}

TEST(ServeLimitedStreamTest, HeadEndsAtTheFirstEmptyLineAfterTheRequestLine) {
  for (const std::string head : {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\n\n"}) {
    const std::string input = head + "BODY";  // the stream reads it in place: it must outlive it
    MemoryStream stream(input, {});
    stream.begin_request();
    EXPECT_EQ(read_bytewise(stream, head.size() - 1), head.substr(0, head.size() - 1));
    EXPECT_FALSE(stream.head_complete()) << head;
    EXPECT_EQ(read_bytewise(stream, 1), "\n");
    EXPECT_TRUE(stream.head_complete()) << head;
    EXPECT_EQ(stream.exceeded(), StreamLimit::kNone);
  }
  // An empty first line is not the end of a head: there was no request line.
  MemoryStream leading("\r\nGET / HTTP/1.1\r\n", {});
  leading.begin_request();
  read_bytewise(leading, 100);
  EXPECT_FALSE(leading.head_complete());
}

TEST(ServeLimitedStreamTest, AHeadOverTheLimitFailsTheReadAndSaysSo) {
  ConnectionLimits limits;
  limits.max_head_bytes = 64;
  const std::string request = "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n";
  MemoryStream stream(request, limits);
  stream.begin_request();
  EXPECT_EQ(read_bytewise(stream, request.size()).size(), 64u);
  EXPECT_EQ(stream.exceeded(), StreamLimit::kHeadTooLarge);
  char c;
  EXPECT_EQ(stream.read(&c, 1), -1) << "a stream past a limit stays failed";
  EXPECT_EQ(limit_status(stream.exceeded()), 431);
  EXPECT_NE(limit_message(stream.exceeded(), limits).find("--max-header-kb"), std::string::npos);
  // The next request on the connection starts counting again.
  stream.begin_request();
  EXPECT_EQ(stream.exceeded(), StreamLimit::kNone);
}

TEST(ServeLimitedStreamTest, BodyBytesOnTheWireAreCappedAfterTheHead) {
  ConnectionLimits limits;
  limits.max_head_bytes = 64;
  limits.max_body_wire_bytes = 1000;
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string input = head + std::string(5000, 'x');
  MemoryStream stream(input, limits);
  stream.begin_request();
  read_bytewise(stream, head.size());
  ASSERT_TRUE(stream.head_complete());
  char buffer[4096];
  EXPECT_EQ(stream.read(buffer, 600), 600);  // bodies are read in blocks; the head's limit is over
  EXPECT_EQ(stream.read(buffer, 600), -1);
  EXPECT_EQ(stream.exceeded(), StreamLimit::kBodyTooLarge);
  EXPECT_EQ(limit_status(stream.exceeded()), 413);
}

TEST(ServeLimitedStreamTest, MemoryStreamCollectsWhatIsWritten) {
  MemoryStream stream("", {});
  stream.begin_request();
  EXPECT_EQ(stream.write("HTTP/1.1 200 OK\r\n", 17), 17);
  EXPECT_EQ(stream.written(), 17u);
  EXPECT_EQ(stream.output(), "HTTP/1.1 200 OK\r\n");
  char c;
  EXPECT_EQ(stream.read(&c, 1), 0) << "the client's side is closed: end of stream";
}

}  // namespace
}  // namespace forensight::serve

#!/usr/bin/env python3
"""Writes fuzz/corpus/http_request/: connections' bytes as clients send them to `forensight serve`
(the probes, a raw and a multipart upload, a batch, a chunked body, the PDF report, pipelined and
HEAD/OPTIONS requests), built around the image seeds in fuzz/corpus/image_decode/. Standard
library only; run from anywhere: python3 fuzz/make_http_seeds.py"""
import base64
import json
import pathlib

here = pathlib.Path(__file__).resolve().parent
images = here / "corpus" / "image_decode"
out = here / "corpus" / "http_request"
out.mkdir(parents=True, exist_ok=True)
png = (images / "rgb.png").read_bytes()
jpeg = (images / "rgb.jpg").read_bytes()
webp = (images / "lossy.webp").read_bytes()


def request(method, path, body=b"", headers=()):
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:8080", *headers]
    if body or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def multipart(parts, boundary="----forensight7MA4YWxkTrZu0gW"):
    body = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"Content-Type: multipart/form-data; boundary={boundary}"


def chunked(data, size=200):
    body = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        body += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return body + b"0\r\n\r\n"


seeds = {}
seeds["get-healthz"] = request("GET", "/healthz")
seeds["probes-pipelined"] = (request("GET", "/readyz") + request("GET", "/v1/models") +
                             request("GET", "/metrics", headers=["Connection: close"]))
seeds["detect-raw-png"] = request("POST", "/v1/detect", png, ["Content-Type: image/png"])
seeds["detect-raw-jpeg-models"] = request(
    "POST", "/v1/detect?models=resnet18", jpeg,
    ["Content-Type: image/jpeg", "Authorization: Bearer key"])
body, content_type = multipart([("note", "", "", b"hello"), ("image", "a.png", "image/png", png)])
seeds["detect-multipart-png"] = request("POST", "/v1/detect", body, [content_type])
body, content_type = multipart([("images", "a.jpg", "image/jpeg", jpeg),
                                ("images", "b.webp", "image/webp", webp),
                                ("images", "c.txt", "text/plain", b"not an image")])
seeds["batch-multipart"] = request("POST", "/v1/detect/batch", body, [content_type])
seeds["detect-chunked-webp"] = (
    "POST /v1/detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    "Content-Type: image/webp\r\n\r\n").encode() + chunked(webp)
seeds["detect-expect-continue"] = request(
    "POST", "/v1/detect", png, ["Content-Type: image/png", "Expect: 100-continue"])
thumbnail = "data:image/png;base64," + base64.b64encode(png).decode()
report = json.dumps({"title": "seed", "analyses": [
    {"file_name": "a.png", "label": "real", "p_ai": 0.25, "total_ms": 3.5, "thumbnail": thumbnail,
     "results": [{"model": "resnet18", "precision": "fp32", "label": "real", "p_ai": 0.25}]}]})
seeds["report-json"] = request("POST", "/v1/report", report.encode(),
                               ["Content-Type: application/json"])
seeds["head-options-404-405"] = (request("HEAD", "/") + request("OPTIONS", "/v1/detect") +
                                 request("GET", "/nope") + request("DELETE", "/healthz"))
for name, data in seeds.items():
    (out / name).write_bytes(data)
print(f"wrote {len(seeds)} seeds to {out}")

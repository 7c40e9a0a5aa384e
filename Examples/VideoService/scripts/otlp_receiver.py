#!/usr/bin/env python3
"""A minimal OTLP/HTTP (JSON) receiver for the load test: it stores every
export it is sent (traces and metrics) as one JSON file in --out, so the
test can check what the instances exported. Loopback only."""
import argparse
import gzip
import http.server
import itertools
import json
import os

counter = itertools.count()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        signal = self.path.rstrip("/").split("/")[-1]  # traces, metrics, logs
        try:
            json.loads(body)
            name = f"{signal}-{next(counter):06d}.json"
        except ValueError:
            name = f"{signal}-{next(counter):06d}.unparsed"
        with open(os.path.join(self.server.out, name), "wb") as f:
            f.write(body)
        reply = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.out = args.out
    server.serve_forever()


if __name__ == "__main__":
    main()

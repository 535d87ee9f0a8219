"""The load generator for benchmark 5, run as a second process (``python -m benchmarks.load``).

It reads ``{"port", "connections", "requests": [base64 raw HTTP/1.1 request, …]}`` as JSON
on stdin, opens ``connections`` kept-alive connections to ``127.0.0.1:port``, sends the
requests (each connection its share, one after another), reads every response, and
prints ``{"requests", "seconds", "statuses"}`` as JSON.  The requests arrive signed and
serialized, so this process spends almost nothing per request and the server is the
bottleneck.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections import Counter


async def read_response(reader: asyncio.StreamReader) -> int:
    """One HTTP/1.1 response with a ``Content-Length``; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        (int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0
    )
    await reader.readexactly(length)
    return status


async def connection(port: int, requests: list[bytes], statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            statuses[await read_response(reader)] += 1
    finally:
        writer.close()
        await writer.wait_closed()


async def load(port: int, connections: int, requests: list[bytes]) -> dict:
    statuses: Counter = Counter()
    shares = [requests[i::connections] for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(connection(port, share, statuses) for share in shares if share))
    return {
        "requests": len(requests),
        "seconds": time.perf_counter() - started,
        "statuses": {str(code): count for code, count in statuses.items()},
    }


def main() -> None:
    spec = json.load(sys.stdin)
    requests = [base64.b64decode(r) for r in spec["requests"]]
    print(json.dumps(asyncio.run(load(spec["port"], spec["connections"], requests))))


if __name__ == "__main__":
    main()

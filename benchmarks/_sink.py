"""A minimal loopback HTTP sink for the delivery benchmarks: accepts any POST, answers 202 with a fixed body.

Runs in its own process (``python benchmarks/_sink.py``; it prints its port) so the client under test does not
share a GIL with it. Keep-alive HTTP/1.1, Content-Length bodies only: just enough for httpx, nothing to measure.
"""

from __future__ import annotations

import asyncio
import sys

REPLY_BODY = b'{"accepted":100,"rejected":0,"results":[]}'
REPLY = (
    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(REPLY_BODY)).encode()
    + b"\r\n\r\n"
    + REPLY_BODY
)


async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve_one, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await asyncio.wait_for(server.serve_forever(), timeout=float(sys.argv[1]) if len(sys.argv) > 1 else 600)


if __name__ == "__main__":
    asyncio.run(main())

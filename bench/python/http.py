"""HTTP/1.1 server for the HTTP benchmark: a Protocol answering every
request head with one fixed response, connections kept alive.

It buffers what arrives and answers each complete head (up to the blank
line, several in one chunk or one split across chunks). GET only: a body is
not looked for. Prints `listening on HOST:PORT`, serves until killed.

Usage: http.py asyncio|uvloop [HOST:PORT]   (default 127.0.0.1:0)
"""
import asyncio
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!"
END_OF_HEAD = b"\r\n\r\n"


class Hello(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        heads = buf.count(END_OF_HEAD)
        if heads:
            # One write per chunk, however many requests it finished.
            self.transport.write(RESPONSE * heads)
            buf = buf[buf.rindex(END_OF_HEAD) + len(END_OF_HEAD):]
        self.buf = buf


async def main(host, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Hello, host, port, backlog=1024)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    host, _, port = (sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:0").rpartition(":")
    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.run(main(host, int(port)))
    else:
        asyncio.run(main(host, int(port)))

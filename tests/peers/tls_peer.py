"""Real TLS peers for the host's TLS tests: Python's own asyncio and ssl.

    tls_peer.py server CERT KEY [ALPN,...]   TLS line-echo server on 127.0.0.1:0
    tls_peer.py silent                       accepts TCP and never answers
    tls_peer.py starttls CERT KEY            plain greeting, then TLS on STARTTLS
    tls_peer.py https CERT KEY               HTTP/1.1 over TLS: 200 and a short body
    tls_peer.py client PORT CA [NAME]        sends "hello", prints the echo
    tls_peer.py starttls-client PORT CA      STARTTLS after the greeting, then as client

A server prints its port on the first line of stdout, then serves until
stdin closes (the test's end), so that it never outlives the test. The
client prints "version cipher" and the echoed line.
"""

import asyncio
import ssl
import sys


def server_context(cert, key, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn.split(","))
    return ctx


async def echo(reader, writer):
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def silent(reader, writer):
    await reader.read()
    writer.close()


async def starttls(reader, writer):
    writer.write(b"220 ready\n")
    await writer.drain()
    if (await reader.readline()).strip() != b"STARTTLS":
        writer.close()
        return
    writer.write(b"220 go ahead\n")
    await writer.drain()
    await writer.start_tls(server_context(sys.argv[2], sys.argv[3]))
    await echo(reader, writer)


async def https(reader, writer):
    request = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    path = request.split()[1].decode() if len(request.split()) > 1 else "?"
    body = f"hello over https, you asked for {path}\n".encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


async def serve(handler, ctx=None):
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    # Until the test closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


async def client(port, ca, name="localhost"):
    ctx = ssl.create_default_context(cafile=ca)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", int(port), ssl=ctx, server_hostname=name
    )
    obj = writer.get_extra_info("ssl_object")
    print(obj.version(), obj.cipher()[0], flush=True)
    writer.write(b"hello\n")
    await writer.drain()
    print((await reader.readline()).decode().strip(), flush=True)
    writer.close()
    await writer.wait_closed()


async def starttls_client(port, ca):
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
    print((await reader.readline()).decode().strip(), flush=True)
    writer.write(b"STARTTLS\n")
    await writer.drain()
    print((await reader.readline()).decode().strip(), flush=True)
    # The TLS handshake at once: the server must not lose it.
    ctx = ssl.create_default_context(cafile=ca)
    await writer.start_tls(ctx, server_hostname="localhost")
    obj = writer.get_extra_info("ssl_object")
    print(obj.version(), flush=True)
    writer.write(b"hello\n")
    await writer.drain()
    print((await reader.readline()).decode().strip(), flush=True)
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass


def main():
    mode = sys.argv[1]
    if mode == "server":
        alpn = sys.argv[4] if len(sys.argv) > 4 else None
        asyncio.run(serve(echo, server_context(sys.argv[2], sys.argv[3], alpn)))
    elif mode == "https":
        ctx = server_context(sys.argv[2], sys.argv[3], "http/1.1")
        asyncio.run(serve(https, ctx))
    elif mode == "silent":
        asyncio.run(serve(silent))
    elif mode == "starttls":
        asyncio.run(serve(starttls))
    elif mode == "client":
        asyncio.run(client(*sys.argv[2:]))
    elif mode == "starttls-client":
        asyncio.run(starttls_client(*sys.argv[2:]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()

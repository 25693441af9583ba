"""Python asyncio's own Unix sockets, as a peer for the host's Unix tests.

    unix_peer.py server PATH     an echo server that uppercases each line;
                                 prints "ready" once listening, runs until
                                 stdin closes
    unix_peer.py client PATH N   N clients in turn: each sends two lines and
                                 prints what comes back
"""
import asyncio
import sys


async def serve(path):
    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_unix_server(handle, path)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    # Until the test closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


async def clients(path, n):
    for i in range(n):
        reader, writer = await asyncio.open_unix_connection(path)
        for line in (f"python {i}\n", "bye\n"):
            writer.write(line.encode())
            await writer.drain()
            print((await reader.readline()).decode(), end="", flush=True)
        writer.close()
        await writer.wait_closed()


async def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "server":
        await asyncio.wait_for(serve(path), 60)
    else:
        await asyncio.wait_for(clients(path, int(sys.argv[3])), 30)


asyncio.run(main())

"""Queue ping-pong between two tasks, 1,000,000 round trips (asyncio or uvloop)."""
import asyncio, json, sys, time

async def echo(ping, pong, n):
    for _ in range(n):
        v = await ping.get()
        await pong.put(v + 1)

async def main(n):
    ping, pong = asyncio.Queue(), asyncio.Queue()
    start = time.perf_counter()
    task = asyncio.create_task(echo(ping, pong, n))
    total = 0
    for i in range(n):
        await ping.put(i)
        total += await pong.get()
    await task
    secs = time.perf_counter() - start
    assert total == n * (n + 1) // 2
    print(json.dumps({"round_trips": n, "seconds": round(secs, 6),
                      "round_trips_per_s": round(n / secs)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(n))
    else:
        asyncio.run(main(n))

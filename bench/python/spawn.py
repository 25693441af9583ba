"""Spawn rate: /bin/true run 2,000 times, 4 at once, stdio to /dev/null (asyncio or uvloop)."""
import asyncio, json, sys, time
from asyncio.subprocess import DEVNULL

async def worker(count):
    for _ in range(count):
        proc = await asyncio.create_subprocess_exec(
            "/bin/true", stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, env={})
        assert await proc.wait() == 0

async def main(n):
    at_once = 4
    start = time.perf_counter()
    await asyncio.gather(*(worker(len(range(w, n, at_once))) for w in range(at_once)))
    secs = time.perf_counter() - start
    print(json.dumps({"spawns": n, "seconds": round(secs, 6), "spawns_per_s": round(n / secs)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(n))
    else:
        asyncio.run(main(n))

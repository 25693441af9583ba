"""Pipe throughput: 100 MB read from a child's stdout (head -c ... /dev/zero) in 64 KiB reads."""
import asyncio, json, sys, time
from asyncio.subprocess import DEVNULL, PIPE

async def main(total):
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "head", "-c", str(total), "/dev/zero", stdin=DEVNULL, stdout=PIPE)
    n = 0
    while True:
        chunk = await proc.stdout.read(64 << 10)
        if not chunk:
            break
        n += len(chunk)
    assert await proc.wait() == 0
    secs = time.perf_counter() - start
    assert n == total
    print(json.dumps({"bytes": n, "seconds": round(secs, 6), "mb_per_s": round(n / 1e6 / secs, 1)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(total))
    else:
        asyncio.run(main(total))

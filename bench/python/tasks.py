"""1,000,000 trivial tasks created, then awaited (asyncio or uvloop)."""
import asyncio, json, sys, time

async def job(i):
    return i

async def main(n):
    start = time.perf_counter()
    tasks = [asyncio.create_task(job(i)) for i in range(n)]
    total = 0
    for t in tasks:
        total += await t
    secs = time.perf_counter() - start
    assert total == n * (n - 1) // 2
    print(json.dumps({"tasks": n, "seconds": round(secs, 6), "tasks_per_s": round(n / secs)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(n))
    else:
        asyncio.run(main(n))

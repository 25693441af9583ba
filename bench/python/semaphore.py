"""1,000 tasks each acquiring a Semaphore(10) a hundred times, holding it
across a yield (asyncio or uvloop)."""
import asyncio, json, sys, time

ROUNDS = 100

async def worker(sem):
    for _ in range(ROUNDS):
        async with sem:
            await asyncio.sleep(0)

async def main(n):
    sem = asyncio.Semaphore(10)
    start = time.perf_counter()
    await asyncio.gather(*(worker(sem) for _ in range(n)))
    secs = time.perf_counter() - start
    acquires = n * ROUNDS
    print(json.dumps({"acquires": acquires, "seconds": round(secs, 6),
                      "acquires_per_s": round(acquires / secs)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(n))
    else:
        asyncio.run(main(n))

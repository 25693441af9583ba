"""100,000 concurrent sleeps of random 0-100 ms (asyncio or uvloop)."""
import asyncio, json, sys, time

MASK = (1 << 64) - 1

async def sleeper(deadline):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, deadline - loop.time()))
    return loop.time() - deadline

async def main(n):
    loop = asyncio.get_running_loop()
    start = loop.time()
    seed = 0x2545F4914F6CDD1D
    tasks = []
    for _ in range(n):
        seed ^= (seed << 13) & MASK
        seed ^= seed >> 7
        seed ^= (seed << 17) & MASK
        tasks.append(asyncio.create_task(sleeper(start + (seed % 100_000) / 1e6)))
    late = [await t for t in tasks]
    wall = loop.time() - start
    print(json.dumps({"sleeps": n, "wall_ms": round(wall * 1e3, 3),
                      "mean_late_ms": round(sum(late) / n * 1e3, 3),
                      "max_late_ms": round(max(late) * 1e3, 3)}))

if __name__ == "__main__":
    loop = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    if loop == "uvloop":
        import uvloop
        uvloop.run(main(n))
    else:
        asyncio.run(main(n))

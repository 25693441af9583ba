"""bench/run's plugin benchmarks (`bench/run --only plugins`).

Three programs, one run, one table (docs/PERFORMANCE.md, "Plugins"):
  target/release/bench-plugins      raw wasmtime (sync and async: the floor)
                                    and aio-host's plugin Instance
  target/bench-extism/release/bench-extism
                                    Extism 1.30.0 (its own crate and wasmtime)
Each prints one JSON line; every figure keeps its best over the N runs
(lowest latency, highest rate or density), as the other tables keep the
best run.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_PLUGINS = os.path.join(ROOT, "target", "release", "bench-plugins")
BENCH_EXTISM = os.path.join(ROOT, "target", "bench-extism", "release", "bench-extism")
BENCH_PLUGIN_WASM = os.path.join(ROOT, "target", "wasm32-wasip2", "release", "bench_plugin.wasm")
EXTISM_MANIFEST = os.path.join(ROOT, "bench", "extism", "Cargo.toml")

# The targets for aio-host's Instance.
INSTANTIATE_P50_US = 5.0
CYCLE_US = 20.0
SLEEP_CALLS_PER_S = 200_000
TRIVIAL_VS_RAW = 1.5

# Lower is better for these keys; higher for the rest.
LOWER = ("_us",)


def build(sh):
    sh("cargo", "build", "--quiet", "--release", "-p", "bench-plugins")
    sh("cargo", "build", "--quiet", "--release", "-p", "bench-plugin", "--target", "wasm32-wasip2")
    # Its own workspace, lock file and target dir. (Cargo reads
    # bench/extism/.cargo/config.toml only when run from that directory,
    # so the target dir is given here too.)
    sh("cargo", "build", "--quiet", "--release", "--manifest-path", EXTISM_MANIFEST,
       "--target-dir", os.path.join(ROOT, "target", "bench-extism"))


def merge_best(runs):
    """One dict per runtime: each key's best value over the runs."""
    best = {}
    for rows in runs:
        for row in rows:
            into = best.setdefault(row["runtime"], dict(row))
            for key, value in row.items():
                if not isinstance(value, (int, float)) or value is None:
                    continue
                old = into.get(key)
                if old is None:
                    into[key] = value
                elif key.endswith(LOWER):
                    into[key] = min(old, value)
                else:
                    into[key] = max(old, value)
    return best


def collect(repeat, measure):
    """Runs both programs `repeat` times, alternating; returns merged rows."""
    plugins_cmd = [BENCH_PLUGINS, "--plugin", BENCH_PLUGIN_WASM]
    runs = []
    for _ in range(repeat):
        runs.append(measure(plugins_cmd)["rows"])
        runs.append([measure([BENCH_EXTISM])])
    return merge_best(runs)


def fmt_rate(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_us(v):
    return "—" if v is None else f"{v:,.1f}"


def verdict(ok):
    return "met" if ok else "not met"


def targets(row, floor):
    """The issue's targets, judged on one row; None where it has no figure."""
    out = []
    if row.get("instantiate_p50_us") is not None:
        out.append(("instantiate p50 ≤ 5 µs", row["instantiate_p50_us"] <= INSTANTIATE_P50_US))
    if row.get("cycle_p50_us") is not None:
        out.append(("cycle ≤ 20 µs", row["cycle_p50_us"] <= CYCLE_US))
    if row.get("trivial_calls_per_s") and floor:
        out.append((f"call ≤ {TRIVIAL_VS_RAW}x raw", floor / row["trivial_calls_per_s"] <= TRIVIAL_VS_RAW))
    if row.get("sleep_calls_per_s") is not None:
        out.append(("sleep ≥ 200k/s", row["sleep_calls_per_s"] >= SLEEP_CALLS_PER_S))
    return out


def print_tables(best):
    order = ["aio-host Instance", "extism", "raw wasmtime (async)", "raw wasmtime (sync)"]
    rows = [(name, best[name]) for name in order if name in best]
    raw_async = best.get("raw wasmtime (async)", {}).get("trivial_calls_per_s")
    raw_sync = best.get("raw wasmtime (sync)", {}).get("trivial_calls_per_s")

    print("\n### Plugins: instantiate, call, sleep, idle (one instance per store)\n")
    print("| runtime | instantiate p50 (µs) | p99 (µs) | create-call-drop p50 (µs) | p99 (µs) "
          "| trivial calls/s | call time ÷ raw async | ÷ raw sync | 1 ms sleeping calls/s "
          "| in flight | idle instances per GiB | targets |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in rows:
        calls = r.get("trivial_calls_per_s")
        vs_async = f"{raw_async / calls:.2f}x" if calls and raw_async else "—"
        vs_sync = f"{raw_sync / calls:.2f}x" if calls and raw_sync else "—"
        floor = raw_sync if name == "extism" else raw_async
        judged = targets(r, floor) if not name.startswith("raw") else []
        marks = "; ".join(f"{what}: {verdict(ok)}" for what, ok in judged) or "—"
        in_flight = r.get("sleep_in_flight")
        print(f"| {name} | {fmt_us(r.get('instantiate_p50_us'))} | {fmt_us(r.get('instantiate_p99_us'))} "
              f"| {fmt_us(r.get('cycle_p50_us'))} | {fmt_us(r.get('cycle_p99_us'))} | {fmt_rate(calls)} "
              f"| {vs_async} | {vs_sync} | {fmt_rate(r.get('sleep_calls_per_s'))} "
              f"| {'—' if in_flight is None else f'{in_flight:,.0f}'} | {fmt_rate(r.get('idle_per_gib'))} | {marks} |")

    extra = []
    for name, r in rows:
        for key, label in (("call_async_per_s", "call_async calls/s"),
                           ("dynamic_calls_per_s", "`call` by name calls/s"),
                           ("trivial_in_flight_calls_per_s", "trivial calls/s, 1,000 in flight"),
                           ("idle_bytes_each", "RSS per idle instance (KiB)")):
            if r.get(key) is not None:
                value = r[key] / 1024 if key == "idle_bytes_each" else r[key]
                extra.append((name, label, value))
    if extra:
        print("\n| runtime | also measured | value |")
        print("|---|---|---:|")
        for name, label, value in extra:
            print(f"| {name} | {label} | {value:,.0f} |")


def bench(repeat, measure):
    print_tables(collect(repeat, measure))


if __name__ == "__main__":
    # `python3 bench/plugins_table.py FILE`: the tables from saved JSON lines.
    import sys
    lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print_tables(merge_best([line.get("rows", [line]) for line in lines]))

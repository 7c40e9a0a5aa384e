#!/usr/bin/env python3
"""The seed's pool, SQLAlchemy's QueuePool, with mock DBAPI connections: the
baseline for ScaleKit's ConnectionPool benchmark (same shape: one thread, or
64 threads over 8 connections, each holding its connection across a yield).

usage: queuepool_bench.py --threads T --size S --ops N
Prints one JSON line in bench_seed.py's format (impl, bench, threads, ops_per_s).
"""
import argparse
import json
import threading
import time

from sqlalchemy.pool import QueuePool


class MockConnection:
    """What QueuePool needs from a DBAPI connection, doing nothing."""

    def rollback(self):
        pass

    def close(self):
        pass

    def cursor(self):
        raise NotImplementedError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--ops", type=int, default=10240)
    ap.add_argument("--repeat", type=int, default=7, help="median of this many batches")
    a = ap.parse_args()
    pool = QueuePool(MockConnection, pool_size=a.size, max_overflow=0, timeout=30)
    per_thread = a.ops // a.threads
    hold = a.threads > 1  # contended: hold the connection across a thread switch

    def worker(barrier):
        barrier.wait()
        for _ in range(per_thread):
            c = pool.connect()
            if hold:
                time.sleep(0)
            c.close()

    times = []
    for _ in range(a.repeat + 1):
        barrier = threading.Barrier(a.threads + 1)
        ts = [threading.Thread(target=worker, args=(barrier,)) for _ in range(a.threads)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        times.append(dt)
    times = sorted(times[1:])  # the first batch warmed the pool up
    median = times[len(times) // 2]
    ops = per_thread * a.threads
    print(json.dumps({"impl": "seed-python", "bench": "pool-checkout", "threads": a.threads,
                      "pool_size": a.size, "ops": ops, "seconds": round(median, 6),
                      "ops_per_s": round(ops / median, 1), "ok": True}))


if __name__ == "__main__":
    main()

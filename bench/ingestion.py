"""Ingestion and loading of 1 000 000 documents against bare pymongo `insert_many` and `find`
(the embedded server, or a real `mongod` when MONGODB_URL is set). `python -m bench.ingestion`."""

import os
import time

from bench.common import database, frame_of, synthetic
from bench.report import Report, run_alone
from core.ingest import documents_from_frame, write_documents
from core.mongo import read_series, to_arrays
from core.series import SeriesSpec
from core.settings import get_settings

MILLION = "bench_million"


def points() -> int:
    return int(os.environ.get("BENCH_INGEST_POINTS", "1000000"))


def run(report: Report) -> None:
    n = points()
    db = database()
    frame = frame_of(synthetic(n, seed=2))
    db.drop_collection(MILLION)
    db.drop_collection("bench_bare")
    started = time.perf_counter()
    documents, _ = documents_from_frame(frame, "timestamp", ["value"], "additional_features")
    write_documents(db, MILLION, documents, "timestamp", 5000)
    seed_rate = n / (time.perf_counter() - started)
    bare = [dict(d) for d in documents]
    started = time.perf_counter()
    for begin in range(0, n, 5000):
        db.bench_bare.insert_many(bare[begin : begin + 5000], ordered=False)
    insert_rate = n / (time.perf_counter() - started)
    load_rate, find_rate = _reads(db, n)
    db.drop_collection("bench_bare")
    where = "MONGODB_URL" if get_settings().mongo_url else "embedded nx-27017"
    report.target(
        "mlts seed vs bare insert_many", ">= 80 %", f"{seed_rate / insert_rate:.0%}", seed_rate >= 0.8 * insert_rate
    )
    report.target("series load vs bare find", ">= 80 %", f"{load_rate / find_rate:.0%}", load_rate >= 0.8 * find_rate)
    report.table(
        "ingestion",
        f"4. Ingestion and loading ({n:,} documents, {where})",
        ["operation", "documents/s", "driver ceiling documents/s", "share of ceiling"],
        [
            [
                "mlts seed (parse, normalise, insert_many)",
                f"{seed_rate:,.0f}",
                f"{insert_rate:,.0f}",
                f"{seed_rate / insert_rate:.0%}",
            ],
            [
                "load as a series (find_raw_batches → numpy)",
                f"{load_rate:,.0f}",
                f"{find_rate:,.0f}",
                f"{load_rate / find_rate:.0%}",
            ],
        ],
        "Ceilings: a bare pymongo insert_many of the same prepared dicts, and a bare projected find into a list "
        "(the load and the find each timed twice, in the order load, find, find, load). Target: >= 80 %.",
    )


def _reads(db, n: int) -> tuple[float, float]:
    """Documents/s of the series load and of a bare projected `find`, each timed twice in the
    order load, find, find, load: the first read of a collection warms the server's cache and the
    machine drifts, so one of each, one after the other, measures their order as much as them."""

    def load() -> int:
        return len(to_arrays(read_series(db, SeriesSpec(MILLION))).values)

    def find() -> int:
        return len(list(db[MILLION].find({}, {"_id": 0, "timestamp": 1, "value": 1}, batch_size=10_000)))

    took = {load: 0.0, find: 0.0}
    for read in (load, find, find, load):
        started = time.perf_counter()
        assert read() == n
        took[read] += time.perf_counter() - started
    return 2 * n / took[load], 2 * n / took[find]


if __name__ == "__main__":
    run_alone(run)

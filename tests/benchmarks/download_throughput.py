"""Cutout download throughput against a local server with 50 ms latency per request.

The ideal is concurrency / latency images per second, or the rate cap if that is
lower; the last line is the achieved fraction of it, ``ratio=<value>``.

    python tests/benchmarks/download_throughput.py [--images 300] [--concurrency 8] [--rate-limit 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from servers import FakeSkyServer, fake_catalog, position_key  # noqa: E402

from galcnn import cutouts  # noqa: E402
from galcnn.sdss import download

LATENCY = 0.05


def serve(conn, galaxies, size: int) -> None:
    with FakeSkyServer(latency=LATENCY) as server:
        for key in zip(galaxies["ra"], galaxies["dec"]):
            server.image(position_key(*key), size)  # encode the JPEGs before the clock starts
        conn.send(server.url)
        conn.recv()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=1000.0,
        help="requests/s cap (default: far above the ideal)",
    )
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()

    galaxies = fake_catalog(args.images, seed=1)
    # The server runs in its own process so that it does not compete with the client for the GIL.
    parent, child = mp.Pipe()
    server = mp.get_context("fork").Process(
        target=serve, args=(child, galaxies, args.size), daemon=True
    )
    server.start()
    url = parent.recv()
    with tempfile.TemporaryDirectory() as root:
        service = download.CutoutService(url=url, data_release=14, size=args.size)
        start = time.perf_counter()
        manifest = download.download_shard(
            galaxies,
            root,
            0,
            1,
            service,
            concurrency=args.concurrency,
            rate_limit=args.rate_limit,
            retries=3,
            timeout=10.0,
        )
        elapsed = time.perf_counter() - start
    parent.send("stop")
    server.join(timeout=10)
    ok = int((manifest["status"] == cutouts.OK).sum())
    achieved = ok / elapsed
    ideal = min(args.concurrency / LATENCY, args.rate_limit)
    print(
        f"images={ok}/{args.images} concurrency={args.concurrency} "
        f"rate_limit={args.rate_limit:g}/s latency={LATENCY * 1000:.0f} ms"
    )
    print(f"elapsed={elapsed:.2f} s achieved={achieved:.1f} img/s ideal={ideal:.1f} img/s")
    print(f"ratio={achieved / ideal:.3f}")


if __name__ == "__main__":
    main()

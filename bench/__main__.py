"""Run every benchmark and print each figure beside its target: ``python -m bench``.

See ``bench/README.md`` for what each figure measures and the latest results.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

from bench.live import LiveResult, LiveSettings, run_live
from bench.measure import (
    memory_per_conversation,
    naive_cpu_rate,
    naive_rate,
    ours_rates,
    reference_rate,
)
from bench.traffic import Stream, callback_stream

HERE = Path(__file__).parent


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=10.0,
        help="Simulated latency of each store call, in milliseconds.",
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="Offered rate for the latency run, frames/s."
    )
    parser.add_argument(
        "--flush-interval", type=float, default=0.1, help="SinkActor flush interval, in seconds."
    )
    parser.add_argument(
        "--write-concurrency",
        type=int,
        default=16,
        help="State writes the SinkActor runs at a time.",
    )
    parser.add_argument("--runs", type=int, default=5, help="Timed runs per CPU figure.")
    parser.add_argument(
        "--sweep",
        default="250,500,1000,2000,4000,0",
        help="Offered rates for the plot, frames/s, comma-separated; 0 offers as fast as possible.",
    )
    parser.add_argument(
        "--plot", type=Path, default=HERE / "throughput.png", help="Where to write the plot."
    )
    parser.add_argument("--no-plot", action="store_true", help="Skip the sweep and the plot.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    latency = args.latency_ms / 1000
    rows: list[tuple[str, str, str]] = []

    def row(name: str, measured: str, target: str) -> None:
        rows.append((name, measured, target))
        print(f"{name}: {measured} (target: {target})", flush=True)

    # CPU: one thread, in-memory stores without latency.
    stream = callback_stream(conversations=60, changes=40)
    frames = stream.frames
    ours_runs = ours_rates(frames, args.runs, flush_every=100)
    ours = statistics.median(ours_runs)
    naive = naive_cpu_rate(frames[:4000], args.runs)
    reference = reference_rate(frames, args.runs)
    row(
        "Ours, one core, frames per CPU second (median; lowest to highest run)",
        f"{ours:,.0f} ({min(ours_runs):,.0f} to {max(ours_runs):,.0f})",
        ">= 10,000",
    )
    row("Naive baseline, one core, frames per CPU second", f"{naive:,.0f}", "-")
    row("Ours / naive, one core", f"{ours / naive:.1f}x", "-")
    row("orjson parse + serialize alone, frames per CPU second", f"{reference:,.0f}", "-")
    row("Ours / orjson alone", f"{ours / reference:.2f}", "-")

    # With the simulated latency per store call.
    # About four seconds of the baseline: it makes two blocking calls per frame.
    naive_frames = int(4 / (2 * latency)) if latency > 0 else 4000
    naive_slow = naive_rate(frames[: max(20, naive_frames)], latency)
    saturated = run_live(frames, _settings(args, rate=0.0))
    row(
        f"Naive baseline, {args.latency_ms:g} ms per call, frames/s",
        f"{naive_slow:,.0f}",
        "-",
    )
    row(
        f"Ours, actors, {args.latency_ms:g} ms per call, frames/s",
        f"{saturated.throughput:,.0f}",
        "-",
    )
    row(
        f"Ours / naive, {args.latency_ms:g} ms per call",
        f"{saturated.throughput / naive_slow:,.0f}x",
        ">= 10x",
    )

    # Latency, writes and requests at the offered rate.
    steady = callback_stream(conversations=int(20 * args.rate / 160), changes=40)
    live = run_live(steady.frames, _settings(args, rate=args.rate))
    row(
        f"Frame to SQS accepted at {args.rate:,.0f} frames/s, p50 / p99, ms",
        f"{live.percentile(0.5) * 1000:.0f} / {live.percentile(0.99) * 1000:.0f}",
        "p99 < 250",
    )
    row("DynamoDB writes per frame", f"{live.writes / live.frames:.3f}", "<= 0.3")
    row(
        "DynamoDB writes per change",
        f"{live.writes / (steady.conversations * steady.changes):.3f}",
        "-",
    )
    row("SQS requests per forwarded event", f"{live.requests / live.forwarded:.3f}", "<= 0.15")

    busy = callback_stream(conversations=int(20 * args.rate / 160), changes=40, active=15)
    coalesced = run_live(busy.frames, _settings(args, rate=args.rate))
    row(
        "Writes per frame, each conversation changing 17 times/s",
        f"{coalesced.writes / coalesced.frames:.3f}",
        "<= 0.3",
    )
    row(
        "SQS requests per forwarded event, same traffic",
        f"{coalesced.requests / coalesced.forwarded:.3f}",
        "<= 0.15",
    )

    cached, per_conversation = memory_per_conversation(callback_stream(1000, 12).frames)
    row(
        f"Memory per cached conversation ({cached:,} cached, 5 participants), KB",
        f"{per_conversation / 1000:.1f}",
        "<= 30",
    )

    print()
    _print_table(rows, args, stream)
    if not args.no_plot:
        sweep = [float(rate) for rate in args.sweep.split(",")]
        # About five seconds per offered rate, and every frame when offered as fast as possible.
        points = [
            (rate, run_live(frames[: int(rate * 5)] if rate > 0 else frames, _settings(args, rate)))
            for rate in sweep
        ]
        _plot(points, args)
        print()
        print("| offered frames/s | processed frames/s | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|")
        for _, result in points:
            print(
                f"| {result.offered_rate:,.0f} | {result.throughput:,.0f} "
                f"| {result.percentile(0.5) * 1000:.0f} | {result.percentile(0.99) * 1000:.0f} |"
            )
        print(f"\nPlot written to {args.plot}")


def _settings(args: argparse.Namespace, rate: float) -> LiveSettings:
    return LiveSettings(
        rate=rate,
        latency=args.latency_ms / 1000,
        flush_interval=args.flush_interval,
        write_concurrency=args.write_concurrency,
    )


def _print_table(
    rows: list[tuple[str, str, str]], args: argparse.Namespace, stream: Stream
) -> None:
    print(f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Machine: {_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"Load average at the end (1, 5, 15 min): {load}")
    print(
        f"Frames: callback sample, {stream.mean_frame_bytes:,.0f} bytes each; "
        f"flush interval {args.flush_interval:g} s; write concurrency {args.write_concurrency}"
    )
    print()
    print("| figure | measured | target |")
    print("|---|---:|---|")
    for name, measured, target in rows:
        print(f"| {name} | {measured} | {target} |")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _plot(points: list[tuple[float, LiveResult]], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, throughput_axis = plt.subplots(figsize=(7, 4.5))
    offered = [result.offered_rate for _, result in points]
    achieved = [result.throughput for _, result in points]
    p99 = [result.percentile(0.99) * 1000 for _, result in points]
    throughput_axis.plot(offered, achieved, "o-", label="processed frames/s")
    throughput_axis.plot(offered, offered, ":", color="grey", label="offered = processed")
    throughput_axis.set_xlabel("offered frames/s")
    throughput_axis.set_ylabel("processed frames/s")
    latency_axis = throughput_axis.twinx()
    latency_axis.plot(offered, p99, "s--", color="tab:red", label="p99 frame to SQS, ms")
    latency_axis.set_ylabel("p99 latency, ms")
    lines = throughput_axis.get_lines() + latency_axis.get_lines()
    throughput_axis.legend(lines, [str(line.get_label()) for line in lines], loc="upper left")
    throughput_axis.set_title(
        f"Actors, {args.latency_ms:g} ms per store call, flush {args.flush_interval:g} s"
    )
    figure.tight_layout()
    figure.savefig(args.plot, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()

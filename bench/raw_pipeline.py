"""The raw Kafka floor: sender → echo → … → sink, one process per echo stage, no application logic.

It has the same shape as a prediction's path (gateway → runner → rendezvous → gateway: three topic
hops, two processes in between), uses the same adapter and client library and the same producer and
consumer settings, so the ratio against it is the cost of Rendezvous itself.

    python -m bench.raw_pipeline --rate 200 --seconds 10 --warmup 3 --stages 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from bench.stats import summary
from contracts.kafka import KafkaSettings, TopicSpec, make_admin, make_consumer, make_producer

PARTITIONS = 4
PAD = "x" * 150


def echo(settings: KafkaSettings, source: str, target: str, group: str) -> None:
    """One echo stage: every record read is written to the same partition of the next topic."""
    consumer = make_consumer(settings, group_id=group, auto_offset_reset="latest")
    producer = make_producer(settings)
    consumer.subscribe([source])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.is_set():
        record = consumer.poll(0.05)
        while record is not None:
            producer.produce(target, record.value, key=record.key, partition=record.partition)
            record = consumer.poll(0)
        producer.poll(0)
    consumer.close()
    producer.close()


def run(settings: KafkaSettings, *, rate: float, seconds: float, warmup: float, stages: int) -> dict:
    run_id = uuid.uuid4().hex[:8]
    topics = [f"bench.raw.{run_id}.hop{i}" for i in range(stages + 1)]
    admin = make_admin(settings)
    admin.ensure_topics([TopicSpec(t, PARTITIONS) for t in topics])
    env = {**os.environ, "RDV_KAFKA_CLIENT": settings.client, "RDV_KAFKA_BOOTSTRAP": settings.bootstrap_servers}
    echoes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.raw_pipeline", "--echo", topics[i], topics[i + 1], f"bench-{run_id}-{i}"],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        for i in range(stages)
    ]
    latencies: list[float] = []
    try:
        for process in echoes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        sink = make_consumer(settings, group_id=f"bench-{run_id}-sink", auto_offset_reset="latest")
        sink.subscribe([topics[-1]])
        received: dict[int, float] = {}
        done = threading.Event()

        def drain() -> None:
            while not done.is_set():
                record = sink.poll(0.05)
                while record is not None:
                    received[json.loads(record.value)["seq"]] = time.time()
                    record = sink.poll(0)

        sink_thread = threading.Thread(target=drain, daemon=True)
        sink_thread.start()
        time.sleep(3.0)  # let every group settle before the clock starts
        producer = make_producer(settings)
        sent: dict[int, float] = {}
        start = time.time()
        total = int(rate * (seconds + warmup))
        for seq in range(total):
            due = start + seq / rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            now = time.time()
            sent[seq] = now
            payload = json.dumps({"seq": seq, "sent": now, "pad": PAD}).encode()
            producer.produce(topics[0], payload, key=str(seq).encode())
            producer.poll(0)
        producer.flush(10)
        time.sleep(2.0)
        done.set()
        sink_thread.join(5)
        sink.close()
        warm = int(rate * warmup)
        latencies = [(received[s] - sent[s]) * 1000 for s in range(warm, total) if s in received]
        lost = sum(1 for s in range(warm, total) if s not in received)
    finally:
        for process in echoes:
            process.terminate()
        for process in echoes:
            process.wait(10)
        admin.delete_topics(topics)
        admin.close()
    return {"client": settings.client, "rate": rate, "stages": stages, "lost": lost, **summary(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--echo", nargs=3, metavar=("SOURCE", "TARGET", "GROUP"), help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200.0, help="offered load, messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--stages", type=int, default=2, help="echo processes between sender and sink")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    if args.echo:
        echo(settings, *args.echo)
        return 0
    print(json.dumps(run(settings, rate=args.rate, seconds=args.seconds, warmup=args.warmup, stages=args.stages)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

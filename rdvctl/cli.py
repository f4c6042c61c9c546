"""``python -m rdvctl``: push, stage, promote, roll back, wait for readiness and inspect from a CI pipeline.

Exit codes: 0 ok, 2 usage error, 3 the server refused (4xx) or the version failed validation,
4 server or network error (5xx, connection refused), 5 ``push`` gave up waiting while the version was
still validating (it may still become ready: ask again with ``GET …/versions/<n>``); rollouts add
6 rolled back, 7 aborted, 8 still running when ``--wait`` ran out (see ``rdvctl.rollout``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from rdvctl import rollout
from rdvctl.client import PENDING_STATUSES, ApiError, RendezvousClient, ServerError

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_SERVER = 4
EXIT_PENDING = 5
EXIT_ROLLED_BACK = rollout.EXIT_ROLLED_BACK
EXIT_ABORTED = rollout.EXIT_ABORTED
EXIT_STILL_RUNNING = rollout.EXIT_STILL_RUNNING
# How long ``push`` waits for validation by default: a cold validation worker loads scikit-learn first.
DEFAULT_WAIT_S = 600.0
# ``push`` reports progress at least this often while it waits.
PROGRESS_EVERY_S = 10.0

EXIT_CODES_HELP = """\
exit codes:
  0  ok (a rollout: promoted)
  2  usage error
  3  refused by the server (4xx), or the pushed version failed validation
  4  server or network error (5xx, connection refused)
  5  push: still validating when --wait ran out
  6  rollout rolled back automatically by the analysis
  7  rollout aborted
  8  rollout still running when --wait ran out
"""


UsageError = rollout.UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdvctl",
        description="Rendezvous command-line client for CI pipelines.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("RDV_URL"), help="control plane URL (env RDV_URL)")
    parser.add_argument("--token", default=os.environ.get("RDV_TOKEN"), help="API token (env RDV_TOKEN)")
    parser.add_argument("--tenant", default=os.environ.get("RDV_TENANT"), help="tenant slug (env RDV_TENANT)")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default 30)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    push = commands.add_parser(
        "push", help="upload a model version and wait for its validation; exit 0 if ready, 3 if failed"
    )
    push.add_argument("model")
    push.add_argument("artifact", type=Path)
    push.add_argument("--format", required=True, dest="fmt", help="onnx or skops (joblib, pickle, python: trusted)")
    push.add_argument("--metadata", default="{}", help="a JSON object, or a path to a JSON file")
    waiting = push.add_mutually_exclusive_group()
    waiting.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=DEFAULT_WAIT_S,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"wait until the version is ready or failed, at most SECONDS (default {DEFAULT_WAIT_S:g}); "
        "exit 5 if it is still validating then",
    )
    waiting.add_argument(
        "--no-wait", dest="wait", action="store_const", const=0.0, help="answer right after the upload"
    )

    stage = commands.add_parser("stage", help="add or replace a version as challenger")
    stage.add_argument("service")
    stage.add_argument("model")
    stage.add_argument("version", type=int)

    promote = commands.add_parser("promote", help="blue-green switch to a version")
    promote.add_argument("service")
    promote.add_argument("model")
    promote.add_argument("version", type=int)

    rollback = commands.add_parser("rollback", help="back to the previous (or given) routing revision")
    rollback.add_argument("service")
    rollback.add_argument("--revision", type=int)

    status = commands.add_parser("status", help="print the live config (revision and deployments)")
    status.add_argument("service")

    ready = commands.add_parser(
        "ready", help="wait until a routing revision is live on the workers; exit 3 if rolled back or stuck"
    )
    ready.add_argument("service")
    ready.add_argument("--revision", type=int, help="default: the live revision")
    ready.add_argument("--wait", type=float, default=120.0, help="seconds to wait (default 120)")
    rollout.add_rollout_parser(commands)
    return parser


def load_metadata(value: str) -> dict[str, Any]:
    text = value
    if not value.lstrip().startswith(("{", "[")):
        path = Path(value)
        if not path.is_file():
            raise UsageError(f"--metadata: {value!r} is neither a JSON object nor a readable file")
        text = path.read_text(encoding="utf-8")
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--metadata: invalid JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise UsageError("--metadata: must be a JSON object")
    return metadata


def staged(deployments: list[dict[str, Any]], model: str, version: int) -> list[dict[str, Any]]:
    """The table with ``model``/``version`` as a challenger, replacing any entry of that version."""
    kept = [d for d in deployments if not (d.get("model") == model and int(d.get("version", 0)) == version)]
    return [*kept, {"model": model, "version": version, "role": "challenger"}]


def _print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, sort_keys=True), file=out)


class _Progress:
    """Writes ``model vN: status (Ns)`` to stderr when the status changes and every PROGRESS_EVERY_S."""

    def __init__(self, model: str, err: TextIO) -> None:
        self._model = model
        self._err = err
        self._last: tuple[Any, float] | None = None

    def __call__(self, version: dict[str, Any], elapsed: float) -> None:
        status = version.get("status")
        if self._last is None or status != self._last[0] or elapsed - self._last[1] >= PROGRESS_EVERY_S:
            print(f"rdvctl: {self._model} v{version.get('version')}: {status} ({elapsed:.0f} s)", file=self._err,
                  flush=True)
            self._last = (status, elapsed)


def push(args: argparse.Namespace, client: RendezvousClient, out: TextIO, err: TextIO) -> int:
    """Upload, then (unless ``--no-wait``) poll until validation decides; the report goes to stderr."""
    if not args.artifact.is_file():
        raise UsageError(f"artifact {str(args.artifact)!r} is not a file")
    metadata = load_metadata(args.metadata)
    version = client.upload_version(args.model, args.artifact, args.fmt, metadata)
    if args.wait > 0 and version.get("status") in PENDING_STATUSES:
        progress = _Progress(args.model, err)
        progress(version, 0.0)
        version = client.wait_version(args.model, version, timeout=args.wait, on_progress=progress)
    _print_json({"version": version.get("version"), "status": version.get("status")}, out)
    status = version.get("status")
    if status == "ready" or (args.wait == 0 and status in PENDING_STATUSES):
        return EXIT_OK
    if status == "failed":
        print(f"version {version.get('version')} failed validation:", file=err)
        report = version.get("report")
        print(report if isinstance(report, str) else json.dumps(report, indent=2, sort_keys=True), file=err)
        return EXIT_REFUSED
    print(f"version {version.get('version')} still {status} after {args.wait:g}s", file=err)
    return EXIT_PENDING


def run(args: argparse.Namespace, client: RendezvousClient, out: TextIO, err: TextIO) -> int:
    if args.command == "push":
        return push(args, client, out, err)
    if args.command == "stage":
        table = client.get_deployments(args.service).get("deployments") or []
        print(client.put_deployments(args.service, staged(table, args.model, args.version)), file=out)
        return EXIT_OK
    if args.command == "promote":
        print(client.promote(args.service, args.model, args.version), file=out)
        return EXIT_OK
    if args.command == "rollback":
        print(client.rollback(args.service, args.revision)["revision"], file=out)
        return EXIT_OK
    if args.command == "status":
        _print_json(client.get_config(args.service), out)
        return EXIT_OK
    if args.command == "ready":
        readiness = client.wait_ready(args.service, args.revision, timeout=args.wait)
        _print_json(readiness, out)
        if readiness.get("state") == "ready":
            return EXIT_OK
        print(f"revision {readiness.get('revision')} is {readiness.get('state')}: {readiness.get('detail')}", file=err)
        return EXIT_REFUSED
    if args.command == "rollout":
        return rollout.run_rollout(args, client, out, err)
    raise UsageError(f"unknown command {args.command!r}")  # argparse makes this unreachable


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message; --help exits 0
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    missing = [name for name in ("url", "token", "tenant") if not getattr(args, name)]
    if missing:
        parser.print_usage(err)
        print(f"rdvctl: error: missing {', '.join('--' + m for m in missing)} (or env RDV_*)", file=err)
        return EXIT_USAGE
    try:
        with RendezvousClient(args.url, args.token, args.tenant, timeout=args.timeout, transport=transport) as client:
            return run(args, client, out, err)
    except UsageError as exc:
        print(f"rdvctl: error: {exc}", file=err)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"rdvctl: refused: {exc}", file=err)
        return EXIT_REFUSED
    except ServerError as exc:
        print(f"rdvctl: server error: {exc}", file=err)
        return EXIT_SERVER

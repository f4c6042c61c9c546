"""``python -m rdvctl``: push, stage, promote, roll back and inspect from a CI pipeline.

Exit codes: 0 ok, 2 usage error, 3 the server refused (4xx) or the version failed validation,
4 server or network error (5xx, connection refused); rollouts add 5 rolled back, 6 aborted,
7 still running when ``--wait`` ran out (see ``rdvctl.rollout``).
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
from rdvctl.client import ApiError, RendezvousClient, ServerError

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_SERVER = 4
EXIT_ROLLED_BACK = rollout.EXIT_ROLLED_BACK
EXIT_ABORTED = rollout.EXIT_ABORTED
EXIT_STILL_RUNNING = rollout.EXIT_STILL_RUNNING

EXIT_CODES_HELP = """\
exit codes:
  0  ok (a rollout: promoted)
  2  usage error
  3  refused by the server (4xx), or the pushed version failed validation
  4  server or network error (5xx, connection refused)
  5  rollout rolled back automatically by the analysis
  6  rollout aborted
  7  rollout still running when --wait ran out
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

    push = commands.add_parser("push", help="upload a model version; exit 0 if ready, 3 if failed")
    push.add_argument("model")
    push.add_argument("artifact", type=Path)
    push.add_argument("--format", required=True, dest="fmt", help="onnx, skops, joblib, python")
    push.add_argument("--metadata", default="{}", help="a JSON object, or a path to a JSON file")
    push.add_argument("--wait", type=float, default=60.0, help="seconds to wait for validation (default 60)")

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


def run(args: argparse.Namespace, client: RendezvousClient, out: TextIO, err: TextIO) -> int:
    if args.command == "push":
        if not args.artifact.is_file():
            raise UsageError(f"artifact {str(args.artifact)!r} is not a file")
        metadata = load_metadata(args.metadata)
        version = client.upload_version(args.model, args.artifact, args.fmt, metadata)
        version = client.wait_version(args.model, version, timeout=args.wait)
        _print_json({"version": version.get("version"), "status": version.get("status")}, out)
        if version.get("status") == "ready":
            return EXIT_OK
        if version.get("status") == "failed":
            print(f"version {version.get('version')} failed validation:", file=err)
        else:
            print(f"version {version.get('version')} still {version.get('status')} after {args.wait:g}s", file=err)
        _print_json(version.get("report"), err)
        return EXIT_REFUSED
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

"""``rdvctl rollout start|status|pause|resume|abort``: progressive rollouts from a CI job.

``start --wait`` (and ``status --wait``) follow the rollout until it ends and exit with a code the job
can act on: 0 promoted, 6 rolled back by the analysis, 7 aborted, 8 still running when the wait ran out
(5 is ``push``'s: still validating).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from rdvctl.client import RendezvousClient, ServerError

EXIT_OK = 0
EXIT_ROLLED_BACK = 6
EXIT_ABORTED = 7
EXIT_STILL_RUNNING = 8

FINAL = frozenset({"promoted", "rolled_back", "aborted"})
EXIT_BY_STATUS = {"promoted": EXIT_OK, "rolled_back": EXIT_ROLLED_BACK, "aborted": EXIT_ABORTED}
# Between changes, a line this often at most: a long step must not flood the CI log.
QUIET_PROGRESS_S = 30.0

EXIT_CODES_HELP = """\
exit codes of rollout commands:
  0  promoted (start --wait / status --wait), or the request was accepted
  2  usage error
  3  refused by the server (4xx: invalid steps, unknown or not-ready version, scope, one rollout at a time)
  4  server or network error
  6  rolled back automatically by the analysis (the reason is printed)
  7  aborted (by a user, or because the routing was changed by hand)
  8  --wait ran out while the rollout was still running or paused
"""


class UsageError(Exception):
    pass


def add_rollout_parser(commands: Any) -> None:
    rollout = commands.add_parser(
        "rollout",
        help="start a canary or blue-green rollout and follow it; pause, resume, abort",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = rollout.add_subparsers(dest="rollout_command", required=True, metavar="ACTION")

    start = actions.add_parser(
        "start", help="start a rollout", epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    start.add_argument("service")
    start.add_argument("--model", required=True)
    start.add_argument("--version", required=True, type=int)
    start.add_argument("--strategy", choices=["canary", "blue-green"], default="canary")
    start.add_argument("--steps", type=steps_arg, help="canary traffic shares in percent, e.g. 10,50,100 (default)")
    start.add_argument("--step-seconds", type=float, required=True, help="how long each step runs healthy")
    start.add_argument("--analysis", help="thresholds as a JSON object, e.g. '{\"max_error_rate\": 0.01}'")
    _wait_arguments(start)

    status = actions.add_parser("status", help="print a rollout (default: the latest of the service)")
    status.add_argument("service")
    status.add_argument("id", nargs="?", type=int)
    _wait_arguments(status)

    for name, text in (("pause", "freeze the step clock"), ("resume", "continue"), ("abort", "restore the baseline")):
        action = actions.add_parser(name, help=f"{text} (default: the service's active rollout)")
        action.add_argument("service")
        action.add_argument("id", nargs="?", type=int)


def _wait_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow the rollout until it ends; exit by its outcome")
    parser.add_argument(
        "--wait-timeout", type=float, default=3600.0, help="give up after this many seconds and exit 8 (default 3600)"
    )
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls while waiting (default 2)")


def steps_arg(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"steps are whole percentages separated by commas, not {value!r}") from None


def _analysis(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        analysis = json.loads(value)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--analysis: invalid JSON: {exc}") from exc
    if not isinstance(analysis, dict):
        raise UsageError("--analysis: must be a JSON object")
    return analysis


def progress_line(rollout: dict[str, Any]) -> str:
    """One line per change CI logs show: status, step, and what the analysis said last."""
    state = rollout.get("state") or {}
    line = f"rollout {rollout.get('id')}: {rollout.get('status')} at step {rollout.get('step')}%"
    numbers = state.get("numbers") or {}
    if numbers:
        line += (
            f" ({numbers.get('requests', 0)} requests, error rate {_rate(numbers.get('error_rate'))}, "
            f"timeout rate {_rate(numbers.get('timeout_rate'))})"
        )
    detail = rollout.get("reason") or state.get("note")
    return f"{line}: {detail}" if detail else line


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def follow(
    client: RendezvousClient,
    service: str,
    rollout: dict[str, Any],
    *,
    timeout: float,
    interval: float,
    out: TextIO,
    err: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until the rollout ends, printing each change; a server hiccup is reported and retried."""
    deadline = time.monotonic() + timeout
    print(progress_line(rollout), file=out, flush=True)
    last_key, last_printed = _progress_key(rollout), time.monotonic()
    while rollout.get("status") not in FINAL:
        if time.monotonic() >= deadline:
            print(f"rollout {rollout.get('id')} still {rollout.get('status')} after {timeout:g}s", file=err)
            return EXIT_STILL_RUNNING
        sleep(interval)
        try:
            rollout = client.get_rollout(service, int(rollout["id"]))
        except ServerError as exc:
            print(f"rdvctl: retrying after a server error: {exc}", file=err, flush=True)
            continue
        key = _progress_key(rollout)
        if key != last_key or time.monotonic() - last_printed >= QUIET_PROGRESS_S:
            print(progress_line(rollout), file=out, flush=True)
            last_key, last_printed = key, time.monotonic()
    return EXIT_BY_STATUS[str(rollout["status"])]


def _progress_key(rollout: dict[str, Any]) -> tuple[Any, ...]:
    """What is worth a new line at once: status, step, the analysis's verdict or the reason changed."""
    return (rollout.get("status"), rollout.get("step"), (rollout.get("state") or {}).get("verdict"),
            rollout.get("reason"))


def _target(client: RendezvousClient, service: str, rollout_id: int | None, *, active: bool) -> int:
    if rollout_id is not None:
        return rollout_id
    rollouts = client.list_rollouts(service).get("results") or []
    if active:
        rollouts = [r for r in rollouts if r.get("status") in ("running", "paused")]
    if not rollouts:
        raise UsageError(f"service {service!r} has no {'active ' if active else ''}rollout; give its id")
    return int(rollouts[0]["id"])


def run_rollout(args: argparse.Namespace, client: RendezvousClient, out: TextIO, err: TextIO) -> int:
    command = args.rollout_command
    if command == "start":
        body: dict[str, Any] = {
            "model": args.model,
            "version": args.version,
            "strategy": args.strategy,
            "step_seconds": args.step_seconds,
        }
        if args.steps is not None:
            body["steps"] = args.steps
        analysis = _analysis(args.analysis)
        if analysis is not None:
            body["analysis"] = analysis
        rollout = client.start_rollout(args.service, body)
        if not args.wait:
            print(json.dumps(rollout, indent=2, sort_keys=True), file=out)
            return EXIT_OK
        return follow(client, args.service, rollout, timeout=args.wait_timeout, interval=args.poll, out=out, err=err)
    if command == "status":
        rollout = client.get_rollout(args.service, _target(client, args.service, args.id, active=False))
        if args.wait:
            return follow(
                client, args.service, rollout, timeout=args.wait_timeout, interval=args.poll, out=out, err=err
            )
        print(json.dumps(rollout, indent=2, sort_keys=True), file=out)
        return EXIT_BY_STATUS.get(str(rollout.get("status")), EXIT_OK)
    rollout = client.rollout_action(args.service, _target(client, args.service, args.id, active=True), command)
    print(progress_line(rollout), file=out)
    return EXIT_OK

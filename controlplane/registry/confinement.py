"""How the validation child is confined (``RDV_VALIDATION_SANDBOX``, DESIGN.md §5): the bubblewrap command line.

bubblewrap (``bwrap``, Debian package ``bubblewrap``) builds the child's world from namespaces: no network,
its own PID namespace and session, a private ``/tmp``, no environment but what is passed here, and a filesystem
holding only what Python needs read-only (``/usr``, the interpreter and its virtualenv, the ``model_runner`` and
``contracts`` packages) plus the one artifact under validation at a fixed path. The artifact store, the rest
of the repository, the database's socket and every other file of the host are simply not there. We chose it
over our own namespace code because it is small, widely reviewed (Flatpak's sandbox), packaged by Debian, and
needs no setuid helper of ours.

Run as root (a Celery worker in a VM), bwrap mounts what the child needs and the child then drops to
``nobody`` (uid 65534) with no capabilities and ``no_new_privs`` (``setpriv``), so it is an unprivileged user
outside the sandbox too. Run as any other user (the Docker image), bwrap uses an unprivileged user namespace
in which the child is uid 65534, mapped to the worker's own uid outside. Killing the ``bwrap`` process kills
the PID namespace, so nothing the model forks outlives the timeout.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BWRAP = "bwrap"
NONE = "none"
MODES = (BWRAP, NONE)
# ``nobody``: owns no file the child could reach.
SANDBOX_UID = 65534
# Where the child finds its artifact, the platform's code and (tests only) the probe module.
ARTIFACT_PATH = "/rdv/artifact/model"
CODE_ROOT = "/rdv/code"
PROBE_ROOT = "/rdv/probe"
# The only packages of this repository the smoke test imports: nothing of the control plane.
CODE_PACKAGES = ("model_runner", "contracts", "streaming")
_MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_SYSTEM_FILES = ("/etc/ld.so.cache",)
# Name resolution and TLS roots, for a confined process that keeps the network (a model runner).
_NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
                  "/etc/ssl/certs")
_SETPRIV = "/usr/bin/setpriv"


@dataclass(frozen=True, slots=True)
class Confinement:
    """How one validation child is started; ``from_settings`` reads the ``RDV_VALIDATION_*`` settings."""

    mode: str = BWRAP
    # RLIMIT_NPROC inside the sandbox (threads count too): a fork bomb stops there.
    max_processes: int = 128
    # Test settings only: a directory whose modules a ``python`` artifact may name (the sandbox probe).
    probe_dir: Path | None = None
    # The artifact store (MEDIA_ROOT): no mount may contain it.
    store: Path | None = None

    @classmethod
    def from_settings(cls) -> Confinement:
        from django.conf import settings

        return cls(
            mode=settings.RDV_VALIDATION_SANDBOX,
            max_processes=int(settings.RDV_VALIDATION_MAX_PROCESSES),
            probe_dir=settings.RDV_VALIDATION_TEST_PROBE_DIR,
            store=Path(settings.MEDIA_ROOT),
        )


def bwrap_executable() -> str | None:
    return shutil.which(BWRAP)


def sandbox_problem(mode: str) -> str | None:
    """Why validations cannot run confined as configured, or None; said at start-up and in each report."""
    if mode not in MODES:
        return f"RDV_VALIDATION_SANDBOX must be one of {', '.join(MODES)}, not {mode!r}"
    if mode == BWRAP and bwrap_executable() is None:
        return (
            "the validation sandbox is not available: bwrap (Debian package bubblewrap) is not installed on the "
            "validation worker, so no model is loaded; install it (apt-get install bubblewrap)"
        )
    if mode == BWRAP and os.geteuid() == 0 and not Path(_SETPRIV).exists():
        return f"the validation sandbox is not available: {_SETPRIV} (Debian package util-linux) is missing"
    return None


def exposed(argv: Sequence[str], store: Path) -> str | None:
    """The mount of ``argv`` that would show ``store`` (e.g. a virtualenv or Python installed above it), or None."""
    real_store = Path(os.path.realpath(store))
    for i, arg in enumerate(argv):
        if arg in ("--ro-bind", "--bind") and i + 1 < len(argv):
            source = Path(os.path.realpath(argv[i + 1]))
            if real_store == source or source in real_store.parents:
                return argv[i + 1]
    return None


def interpreter() -> Path:
    """This Python as a path that exists inside the sandbox: the virtualenv's real directory, not a symlink to it."""
    candidate = Path(os.path.realpath(sys.prefix)) / "bin" / Path(sys.executable).name
    return candidate if candidate.exists() else Path(os.path.realpath(sys.executable))


def _python_mounts() -> list[str]:
    """The interpreter's installation and the virtualenv, read-only at their own paths (``/usr`` is bound anyway)."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    args: list[str] = []
    for root in sorted(roots):
        if root == "/usr" or root.startswith("/usr/"):
            continue
        args += ["--ro-bind", root, root]
    return args


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for link in _MERGED_USR_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for path in _SYSTEM_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _parent_dirs(mounts: Sequence[str]) -> list[str]:
    """``--dir`` for every parent of a mount point, world-searchable: bwrap would create them mode 0700 (root's)."""
    destinations = [mounts[i + 2] for i, arg in enumerate(mounts) if arg in ("--ro-bind", "--bind")]
    parents = sorted({str(parent) for dest in destinations for parent in Path(dest).parents}
                     - {"/", "/tmp", "/proc", "/dev"})
    args: list[str] = []
    for parent in parents:
        args += ["--perms", "0755", "--dir", parent]
    return args


def bwrap_argv(
    *,
    bwrap: str,
    artifact: Path | None,
    code_root: Path,
    env: Mapping[str, str],
    command: Sequence[str],
    probe_dir: Path | None = None,
    as_root: bool,
    network: bool = False,
    writable: Sequence[Path] = (),
) -> list[str]:
    """The full command line: ``command`` runs confined, reading ``artifact`` at ``ARTIFACT_PATH``.

    ``network`` and ``writable`` (directories bound read/write at their own paths) are for a confined model
    runner (scripts/runner_confined.py), which needs the broker and its artifact cache; validation has neither.
    """
    mounts = [*_system_mounts(), *_python_mounts()]
    for package in CODE_PACKAGES:
        mounts += ["--ro-bind", str(code_root / package), f"{CODE_ROOT}/{package}"]
    if probe_dir is not None:
        mounts += ["--ro-bind", str(probe_dir), PROBE_ROOT]
    if artifact is not None:
        mounts += ["--ro-bind", str(artifact), ARTIFACT_PATH]
    for directory in writable:
        mounts += ["--bind", str(directory), str(directory)]
    if network:
        mounts += [arg for path in _NETWORK_FILES if os.path.exists(path) for arg in ("--ro-bind", path, path)]
    argv = [
        bwrap,
        # First, so that a bind below /tmp (a runner's cache there) lands on this tmpfs instead of under it.
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "01777", "--tmpfs", "/tmp",  # writable by the sandbox's user, as a /tmp is
        *_parent_dirs(mounts),
        *mounts,
        "--chdir", "/tmp",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    if as_root:
        # No user namespace: the child becomes a real unprivileged uid, which needs two capabilities for one
        # exec; setpriv drops them, and every other one, before Python starts.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
                 *([] if network else ["--unshare-net"]),
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 _SETPRIV, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        argv += ["--unshare-all", *(["--share-net"] if network else []), "--unshare-user", "--disable-userns",
                 "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--"]
    return argv + list(command)

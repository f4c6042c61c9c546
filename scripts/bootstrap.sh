#!/usr/bin/env bash
# Create the project virtualenv (.venv in the repo root) and install requirements-dev.txt
# (which includes requirements.txt). Re-installs only when a requirements file, or the
# python the venv was made with, changed since the last successful install.
#
#   scripts/bootstrap.sh            then: source .venv/bin/activate  (or use .venv/bin/python)
#
# Environment:
#   RDV_PYTHON   interpreter to create the venv with (default: python3)
#   RDV_VENV     venv path (default: <repo>/.venv)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RDV_VENV:-$REPO_ROOT/.venv}"
PY="${RDV_PYTHON:-python3}"
STAMP="$VENV/.rdv-requirements.sha256"
REQS=("$REPO_ROOT/requirements.txt" "$REPO_ROOT/requirements-dev.txt")

log() { echo "[bootstrap] $*" >&2; }
die() { echo "[bootstrap] ERROR: $*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed() {
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100))
}

for f in "${REQS[@]}"; do
  [[ -f "$f" ]] || die "missing $f"
done

# A venv whose interpreter no longer runs (python removed/upgraded) is rebuilt.
if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "$VENV is broken (its python does not run); recreating"
  rm -rf "$VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  command -v "$PY" >/dev/null 2>&1 || die "$PY not found"
  log "creating $VENV with $("$PY" --version 2>&1) ..."
  "$PY" -m venv "$VENV"
fi

# Stamp = sha256 over the requirements files plus the venv's python version.
want="$(
  {
    for f in "${REQS[@]}"; do
      echo "== $(basename "$f")"
      cat "$f"
    done
    "$VENV/bin/python" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  log "requirements unchanged; $VENV is up to date"
  exit 0
fi

t0=$(now_ms)
log "installing requirements-dev.txt into $VENV (pip install -q) ..."
rm -f "$STAMP"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REPO_ROOT/requirements-dev.txt"
echo "$want" >"$STAMP"
log "installed in $(elapsed "$t0")s; activate with: source ${VENV#"$REPO_ROOT"/}/bin/activate"

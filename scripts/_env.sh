# Sourced by the other scripts: make a virtualenv and install pinned requirements into
# it, again only when its requirements changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# ensure_venv REQUIREMENTS [FOLDER]: FOLDER defaults to .venv. The tests' MLflow lives in
# .venv-mlflow (requirements-mlflow.txt): its pins conflict with the service's.
ensure_venv() {
  local requirements="$1"
  local venv="${2:-.venv}"
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mlservice needs Python 3.11 or newer (tried: $python)" >&2
    exit 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv"
    "$python" -m venv "$venv"
  fi
  # The file and the files it includes with "-r": a change in any reinstalls.
  local sources=("$requirements")
  local included
  while read -r included; do
    sources+=("$included")
  done < <(sed -n 's/^-r[[:space:]]*//p' "$requirements")
  local stamp="$venv/.installed-$(basename "$requirements")"
  local digest
  digest="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing $requirements into $venv (first run takes a few minutes)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" > "$stamp"
  fi
}

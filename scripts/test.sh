#!/usr/bin/env bash
# The README's test command: the whole suite (or pytest's arguments: `-m "not slow"`, a folder, -k ...)
# in a virtual environment, under Xvfb.
#
# Which Python: $PYTHON if set; else the active virtual environment; else ./.venv (made here, and said
# so, when missing). It never installs into a Python that is not a virtual environment unless $PYTHON
# names it, and then it says so. The test extras are installed when pyproject.toml changed since the
# last install into that environment (a stamp in it), so the loop stays quick.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/system_deps.sh

if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x .venv/bin/python ]; then
    echo "test.sh: no virtual environment active: making one in $ROOT/.venv (python3 -m venv)"
    python3 -m venv .venv
  fi
  PY="$ROOT/.venv/bin/python"
fi
PREFIX=$("$PY" -c 'import sys; print(sys.prefix)')
# as an activated environment would: its console scripts (npe2, dcmqi's segimage2itkimage) first
export PATH="$(dirname "$PY"):$PATH"
if [ "$("$PY" -c 'import sys; print(sys.prefix != sys.base_prefix)')" != True ]; then
  echo "test.sh: $PY is not a virtual environment: the test extras go into $PREFIX"
fi

STAMP="$PREFIX/.samlabel-test-install"
WANT="$ROOT $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "test.sh: installing this checkout with the qt, sam and testing extras into $PREFIX"
  "$PY" -m pip install -q --disable-pip-version-check -e ".[qt,sam,testing]"
  # panopticapi-lite pins an old numpy it does not need: without its dependencies
  "$PY" -m pip install -q --disable-pip-version-check --no-deps panopticapi-lite
  echo "$WANT" > "$STAMP"
fi

# The shape of the code before the tests (either failing fails the run): nothing imports upward
# (the layers in pyproject's [tool.importlinter]; --no-cache: a stale cache once hid a broken
# import) and ruff's rules ([tool.ruff]).
"$PY" -c 'from importlinter.cli import lint_imports_command; lint_imports_command()' --no-cache
"$PY" -m ruff check --no-cache src tests

# -a: pick a free display number; the screen needs depth 24 for napari's GL canvas.
REPORT=$(mktemp -t samlabel-junit.XXXXXX.xml)
trap 'rm -f "$REPORT"' EXIT
set +e
xvfb-run -a -s "-screen 0 1920x1080x24" "$PY" -m pytest --junitxml="$REPORT" "$@"
rc=$?
set -e
# How many ran, from pytest's own report; a run that ran none (a collection error, a selection that
# matches nothing) fails whatever pytest said.
"$PY" - "$REPORT" "$rc" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET

path, rc = sys.argv[1], int(sys.argv[2])
try:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
except (OSError, ET.ParseError, AttributeError):
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
ran = n["tests"] - n["skipped"]
passed = ran - n["failures"] - n["errors"]
print(f"test.sh: {n['tests']} tests collected, {ran} ran: {passed} passed, {n['failures']} failed, "
      f"{n['errors']} errors, {n['skipped']} skipped (pytest exit {rc})")
if ran == 0:
    print("test.sh: no test ran: that is a failure", file=sys.stderr)
    sys.exit(rc or 1)
PYEOF
exit $rc

#!/usr/bin/env bash
# Install what the tests need on a fresh Debian/Ubuntu machine, then run the whole suite.
# napari needs an X server with OpenGL: Xvfb plus Mesa and Qt's xcb libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    xvfb xauth openbox libgl1-mesa-dri libegl1 libgl1 libglx-mesa0 libxkbcommon-x11-0 libxcb-icccm4 \
    libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 \
    libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 dicom3tools >/dev/null
fi

PY="${PYTHON:-python3}"
"$PY" -m pip install -q --disable-pip-version-check -e ".[qt,sam,testing]"
"$PY" -m pip install -q --disable-pip-version-check --no-deps panopticapi-lite

# The shape of the code before the tests (either failing fails the run): nothing imports upward
# (the layers in pyproject's [tool.importlinter]; --no-cache: a stale cache once hid a broken
# import) and ruff's rules ([tool.ruff]).
"$PY" -c 'from importlinter.cli import lint_imports_command; lint_imports_command()' --no-cache
"$PY" -m ruff check --no-cache src tests

# -a: pick a free display number; the screen needs depth 24 for napari's GL canvas.
exec xvfb-run -a -s "-screen 0 1920x1080x24" "$PY" -m pytest "$@"

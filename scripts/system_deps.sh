#!/usr/bin/env bash
# What napari needs from the system to open a window without a screen (Xvfb, Mesa's OpenGL, Qt's
# xcb libraries, openbox so maximise is real) and dciodvfy (a DICOM judge in the tests).
# Installs through apt-get only what is missing (sudo when not root); silent when all is there.
set -euo pipefail

PACKAGES=(xvfb xauth openbox libgl1-mesa-dri libegl1 libgl1 libglx-mesa0 libxkbcommon-x11-0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0
  libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 dicom3tools xdotool)

if ! command -v apt-get >/dev/null 2>&1; then
  command -v xvfb-run >/dev/null 2>&1 || echo "system_deps: no apt-get here; install Xvfb, Mesa and Qt's xcb libraries yourself" >&2
  exit 0
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system_deps: apt-get install ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

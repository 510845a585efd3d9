#!/usr/bin/env bash
# A new user's first hour, as a script: a clean clone of this repository's HEAD, a new virtual
# environment, the README's set-up command (install and launch), the README's test command.
# Prints how many tests ran and passed, what pip fetched and how big the environment is.
# CI (.ci/run) runs exactly this. Usage: bash scripts/fresh_machine.sh [pytest arguments...]
# Uncommitted changes are not in the clone: commit first. SAMLABEL_FRESH_KEEP=1 keeps the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

WORK=$(mktemp -d -t samlabel-fresh.XXXXXX)
[ "${SAMLABEL_FRESH_KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
git clone -q --no-hardlinks "$REPO" "$WORK/clone"
cd "$WORK/clone"
echo "fresh_machine: clean clone of $(git rev-parse --short HEAD) in $WORK/clone"

# The README's two commands, read from the README itself (the first two bash blocks of the set-up):
# what this runs is what a reader is told to type.
mapfile -t COMMANDS < <(python3 - <<'PYEOF'
import re
text = open("README.md", encoding="utf-8").read()
setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```bash\n(.*?)```", setup, flags=re.S)[:2]:
    print(" ".join(line.strip() for line in block.strip().splitlines() if not line.strip().startswith("#")))
PYEOF
)
[ ${#COMMANDS[@]} -eq 2 ] || { echo "fresh_machine: the README's set-up does not hold two bash commands" >&2; exit 1; }
INSTALL=${COMMANDS[0]}
TEST=${COMMANDS[1]}

# Nothing of this machine's Python may leak in.
unset PYTHON PYTHONPATH PYTHONHOME VIRTUAL_ENV PYTHONSTARTUP || true
# The launch needs a display: the same system packages the test command installs.
bash scripts/system_deps.sh
# `samlabel` as typed opens the window and waits for the user; here it opens it, waits until the
# window answers, reports how long that took, and closes.
samlabel() { timeout 300 xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb samlabel --quit-when-ready "$@"; }

echo "fresh_machine: \$ $INSTALL"
start=$(date +%s)
# eval in this shell (not a pipeline's subshell): the environment it activates stays active
if ! eval "$INSTALL" > >(tee "$WORK/install.log" | grep -E "^(Successfully|ERROR|samlabel)") 2>&1; then
  echo "fresh_machine: the set-up command failed" >&2; exit 1
fi
sleep 1  # let the log's reader finish
installed=$(( $(date +%s) - start ))
[ -n "${VIRTUAL_ENV:-}" ] || { echo "fresh_machine: the set-up command made no virtual environment" >&2; exit 1; }

python3 - "$WORK/install.log" "$VIRTUAL_ENV" "$installed" <<'PYEOF'
import os
import re
import subprocess
import sys

log, venv, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
units = {"kB": 1e3, "MB": 1e6, "GB": 1e9, "B": 1}
fetched = 0.0
for line in open(log, encoding="utf-8", errors="replace"):
    m = re.search(r"(?:Downloading|Using cached) \S+ \(([\d.]+) (kB|MB|GB|B)\)", line)
    if m:
        fetched += float(m.group(1)) * units[m.group(2)]
        continue
    m = re.search(r"Processing (/\S+\.whl)", line)  # a wheel already on this machine (--find-links)
    if m and os.path.exists(m.group(1)):
        fetched += os.path.getsize(m.group(1))
size = int(subprocess.run(["du", "-sb", venv], capture_output=True, text=True).stdout.split()[0])
print(f"fresh_machine: set-up took {seconds} s; wheels fetched {fetched / 1e9:.2f} GB; "
      f"the environment is {size / 1e9:.2f} GB")
PYEOF

echo "fresh_machine: \$ $TEST $*"
eval "$TEST" '"$@"'

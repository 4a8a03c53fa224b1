#!/bin/sh
# 安居 anju {{VERSION}}: offline install on Linux or macOS from this folder alone.
# Usage: sh install.sh [TARGET_DIR]   (default: $HOME/anju)
# Creates TARGET_DIR/venv with Python 3.11 and installs anju and its dependencies from ./wheels
# with pip's index switched off: nothing is downloaded.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=${1:-"$HOME/anju"}

is311() { "$@" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && is311 "$candidate"; then PY=$candidate; break; fi
  done
fi
if [ -z "$PY" ] || ! is311 "$PY"; then
  echo "需要 Python 3.11 / Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

# Only this folder: no index, and no pip.conf of the machine adding other sources.
PIP_NO_INDEX=1
PIP_CONFIG_FILE=/dev/null
PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INDEX PIP_CONFIG_FILE PIP_DISABLE_PIP_VERSION_CHECK
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL

mkdir -p "$TARGET"
if [ ! -x "$TARGET/venv/bin/python" ]; then
  "$PY" -m venv "$TARGET/venv"
fi
"$TARGET/venv/bin/python" -m pip install --no-index --find-links "$HERE/wheels" "anju=={{VERSION}}"
"$TARGET/venv/bin/anju" --version

echo
echo "安装完成 / installed: $TARGET/venv/bin/anju"
echo "下一步 / next:  $TARGET/venv/bin/anju init $TARGET/laptop.db --enroll anju-enrol-笔记本名称.json"
echo "               $TARGET/venv/bin/anju collect $TARGET/laptop.db"

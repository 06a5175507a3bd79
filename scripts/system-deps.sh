#!/usr/bin/env bash
# Debian packages gridkit needs beyond Python: headless Chromium (notice-board PDF/PNG
# rendering and the browser tests), CJK fonts (Chinese text in PDFs, PNGs and maps) and
# poppler-utils (pdfinfo, used by the tests to check page sizes). Installs only what is
# missing; needs root (or sudo) when something is missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
command -v pdfinfo >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo_cmd=(sudo)
    else
        echo "gridkit needs the Debian packages: ${need[*]} (run as root: apt-get install ${need[*]})" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"

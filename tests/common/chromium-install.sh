#!/usr/bin/env bash
# Debian's chromium and chromium-driver for the browser tests. One script for both users,
# so they cannot drift apart: tests/common/browser.rs runs it before its first browser,
# and .ci/chromium runs it once for a whole CI run. See docs/testing.md.
#
#   chromium-install.sh   exit 0 when /usr/bin/chromium and /usr/bin/chromedriver are
#                         there, installing both packages first (as root only) when
#                         either is missing; otherwise exit 1 and say why on stderr
#
# Both binaries come from one source package, so they always have the same version, as
# chromedriver demands. Everything goes to stderr.
set -euo pipefail

die() {
  printf 'chromium-install: %s\n' "$*" >&2
  exit 1
}

installed() {
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
}

installed && exit 0
if [ "$(id -u)" -ne 0 ]; then
  die "no /usr/bin/chromium or no /usr/bin/chromedriver, and only root may install" \
    "them: install Debian's packages 'chromium' and 'chromium-driver'" \
    "(apt-get install chromium chromium-driver)"
fi
# Test binaries may get here at the same time; dpkg allows one install at a time.
exec 9>/tmp/cronq-chromium-install.lock
flock 9
if ! installed; then
  echo "chromium-install: installing Debian's chromium and chromium-driver" \
    "(needed by the browser tests)" >&2
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver; } </dev/null >&2 ||
    die "apt-get failed (output above); install Debian's packages 'chromium' and" \
      "'chromium-driver' by hand"
  installed || die "chromium and chromium-driver are installed but /usr/bin/chromium" \
    "or /usr/bin/chromedriver is still missing"
fi

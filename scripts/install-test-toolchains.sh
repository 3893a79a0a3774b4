#!/usr/bin/env bash
# Toolchains the `tests.run` tests drive (tests/assist/test_run_go_junit.py): Go, a JDK and the
# JUnit 5 console launcher, from Debian. Idempotent: does nothing when all three are there.
set -euo pipefail
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
ls /usr/share/java/junit-platform-console-standalone*.jar /usr/share/java/junit-platform-console.jar >/dev/null 2>&1 \
  || missing+=(junit5)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-toolchains: missing ${missing[*]}; run as root (apt-get) or install them." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

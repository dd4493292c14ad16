#!/usr/bin/env bash
# Fuzzes token and cookie parsing with libFuzzer through cargo fuzz.
#
#   scripts/fuzz.sh [SECONDS]     # default 30 (CI); a full run: scripts/fuzz.sh 3600
#
# Runs on the stable toolchain: `--sanitizer none` needs no nightly flags; the
# target's own assertions (no forged token accepted) and Rust's panics are what
# it checks. The corpus grows in fuzz/corpus (ignored); fuzz/seeds is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-30}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/parse_tokens
cargo fuzz run --sanitizer none parse_tokens fuzz/corpus/parse_tokens fuzz/seeds/parse_tokens \
    -- -max_total_time="${seconds}" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 25

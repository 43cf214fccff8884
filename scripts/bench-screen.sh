#!/usr/bin/env bash
# leuko screen against DuckDB on the same Parquet extract, in one run: rows per second and
# peak memory (max RSS from /usr/bin/time), and whether the worklists agree on
# (patient_id, rule, level). DuckDB runs leuko's own SQL (`leuko screen --print-sql`), with
# leuko's functions as SQL macros (bench/screen_duckdb.py).
# Usage: scripts/bench-screen.sh [ROWS…]   (default 10000000 100000000)
# Needs: a release leuko with the warehouse feature
#   (cargo build --release -p leuko-cli --features warehouse), python3 with duckdb (pip).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${LEUKO_BIN:-${CARGO_TARGET_DIR:-target}/release/leuko}"
threads="${THREADS:-2}"
out="bench/out"
mkdir -p "$out"
python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb==2.0.0
asof="2026-06-30T00:00:00Z"
"$bin" screen --print-sql --asof "$asof" > "$out/screen.sql"
printf '| rows | engine | seconds | rows/s | peak RSS (MiB) | worklist rows |\n|---|---|---|---|---|---|\n' > "$out/results.md"
for rows in "${@:-10000000 100000000}"; do
  for n in $rows; do
    dir="$out/w$n"
    [ -f "$dir/labs.parquet" ] || "$bin" synth --rows "$n" --seed 1 --out "$dir" --format parquet
    actual=$(python3 -c "import duckdb,sys; print(duckdb.connect().execute(\"select count(*) from read_parquet('$dir/labs.parquet')\").fetchone()[0])")
    /usr/bin/time -f '%e %M' -o "$out/leuko.time" "$bin" screen --labs "$dir/labs.parquet" \
      --medications "$dir/medications.parquet" --patients "$dir/patients.parquet" \
      --asof "$asof" --out "$dir/leuko.csv" --threads "$threads" --quiet > /dev/null
    /usr/bin/time -f '%e %M' -o "$out/duckdb.time" python3 bench/screen_duckdb.py \
      "$out/screen.sql" "$dir" "$dir/duckdb.csv" "$threads" > /dev/null
    for engine in leuko duckdb; do
      read -r secs kb < "$out/$engine.time"
      lines=$(($(wc -l < "$dir/$engine.csv") - 1))
      python3 -c "print(f'| $actual | $engine | $secs | {$actual/$secs:,.0f} | {$kb/1024:,.0f} | $lines |')" >> "$out/results.md"
    done
    if diff <(cut -d, -f1-3 "$dir/leuko.csv" | tail -n +2 | sort) <(tail -n +2 "$dir/duckdb.csv" | sort) > "$out/diff$n.txt"; then
      echo "| $actual | identical worklists (patient_id, rule, level) | | | | |" >> "$out/results.md"
    else
      echo "| $actual | DIFFERENT worklists: see $out/diff$n.txt | | | | |" >> "$out/results.md"
    fi
  done
done
cat "$out/results.md"

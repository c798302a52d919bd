#!/usr/bin/env bash
# sqlite3: a scripted workload on a database of about 260 MB (2 M rows and an
# index; 400 k rows with MMAPIO_BENCH_QUICK=1): indexed point lookups, rowid
# lookups, range scans on the index and on the rowid, and 20 k inserts in a
# transaction (deleted again at the end, so every run starts alike). Without
# the shim (A), under it with MMAPIO_MODE=always and auto (B), and with
# SQLite's own "PRAGMA mmap_size" as the reference. The query output must be
# identical, and "PRAGMA integrity_check" must say ok under the shim.
set -u
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_need_pkgs sqlite3:sqlite3 python3:python3 || exit 2
bx_setup

if [ "$QUICK" = 1 ]; then ROWS_N=400000 LOOKUPS=20000; else ROWS_N=2000000 LOOKUPS=100000; fi
DB=$DATA/bench-$ROWS_N.db
SQL=$DATA/workload-$ROWS_N.sql
KMOD=$((ROWS_N * 2 + 37))

if [ ! -f "$DB" ]; then
	bx_log "sqlite3: creating $DB ($ROWS_N rows)"
	rm -f "$DB.tmp"
	sqlite3 "$DB.tmp" <<EOF || exit 1
PRAGMA journal_mode=DELETE;
PRAGMA page_size=4096;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$ROWS_N)
INSERT INTO t(id, k, v)
SELECT x, (x*2654435761) % $KMOD,
       printf('%08x-%s', x*40503 % 4294967291,
              substr(hex(zeroblob(60)) || 'abcdefghijklmnopqrstuvwxyz0123456789', 1 + x % 50, 96))
FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
CREATE TABLE w(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
EOF
	mv "$DB.tmp" "$DB"
fi

cat >"$SQL" <<EOF
-- point lookups through the secondary index
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$LOOKUPS)
SELECT 'index lookups', count(*), sum(length(v)) FROM c JOIN t ON t.k = (x*7919) % $KMOD;
-- point lookups by rowid
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<$LOOKUPS)
SELECT 'rowid lookups', count(*), sum(t.k % 1000) FROM c JOIN t ON t.id = 1 + (x*104729) % $ROWS_N;
-- range scans: on the index (table pages in random order) and on the rowid
SELECT 'index range', count(*), sum(length(v)) FROM t WHERE k BETWEEN $((KMOD / 4)) AND $((KMOD / 4 + KMOD / 100));
SELECT 'rowid range', count(*), max(v) FROM t WHERE id BETWEEN $((ROWS_N / 4)) AND $((ROWS_N / 4 + ROWS_N / 10));
-- inserts in one transaction; deleted again so that the next run starts alike
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000)
INSERT INTO w(k, v) SELECT (x*31) % 7919, printf('%0100d', x) FROM c;
COMMIT;
SELECT 'inserted', count(*), sum(k) FROM w;
DELETE FROM w;
EOF

size=$(stat -c %s "$DB")
ref="sqlite3 $(printf %q "$DB") '.output /dev/null' 'PRAGMA mmap_size=4294967296' '.output' $(printf %q ".read $SQL")"
bx_ab sqlite sqlite3 "lookups+scans+inserts, $((size >> 20)) MiB db" -- \
	--sweep MMAPIO_MODE=always,auto --ref "$ref" -- sqlite3 "$DB" ".read $SQL"

for m in always auto; do
	bx_check "sqlite3 PRAGMA integrity_check under the shim (MMAPIO_MODE=$m)" "ok" -- \
		"$RUN" --mode $m -- sqlite3 "$DB" "PRAGMA integrity_check"
done

bx_finish

-- Scripted sqlite3 workload for run.sh (rollback-journal mode), run as:
--   sqlite3 -bail test.db < sqlite_workload.sql
PRAGMA page_size=4096;
PRAGMA journal_mode=DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v TEXT NOT NULL);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000)
INSERT INTO t(id, k, v)
  SELECT x, (x * 7919) % 100003, printf('%d-%040d', x, (x * 2654435761) % 1000000007) FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(k), max(length(v)) FROM t;
SELECT * FROM t WHERE id IN (1, 777, 31337, 59999);
SELECT id, v FROM t WHERE k = 12345;
SELECT id, v FROM t WHERE k = 99999;
SELECT count(*), sum(id) FROM t WHERE k BETWEEN 1000 AND 5000;
SELECT group_concat(id) FROM t WHERE id BETWEEN 30000 AND 30010;
SELECT group_concat(k) FROM (SELECT k FROM t ORDER BY k LIMIT 20);
BEGIN;
UPDATE t SET v = v || '-updated' WHERE id % 100 = 0;
DELETE FROM t WHERE id % 1000 = 1;
INSERT INTO t(k, v) SELECT k + 1, v || '-copy' FROM t WHERE id % 997 = 0;
COMMIT;
BEGIN;
DELETE FROM t WHERE id < 1000;
ROLLBACK;
SELECT count(*), sum(length(v)), sum(k) FROM t;
PRAGMA integrity_check;
PRAGMA page_count;
PRAGMA freelist_count;

-- Scripted sqlite3 workload in WAL mode (the -wal and -shm files are mapped too).
PRAGMA page_size=4096;
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=200;
CREATE TABLE w(id INTEGER PRIMARY KEY, a INTEGER, b BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO w(id, a, b) SELECT x, x % 977, CAST(printf('%0100d', x) AS BLOB) FROM c;
CREATE INDEX w_a ON w(a);
SELECT count(*), sum(a), sum(length(b)) FROM w;
UPDATE w SET a = a + 1 WHERE id % 7 = 0;
SELECT a, count(*) FROM w WHERE a BETWEEN 10 AND 14 GROUP BY a;
PRAGMA wal_checkpoint(TRUNCATE);
DELETE FROM w WHERE id > 15000;
SELECT count(*), max(id) FROM w;
PRAGMA integrity_check;
PRAGMA journal_mode=DELETE;

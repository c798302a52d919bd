-- Second run of sqlite3 on the database sqlite_workload.sql made: reads an existing file.
SELECT count(*), sum(k) FROM t;
SELECT id, k, v FROM t WHERE k BETWEEN 50000 AND 50050 ORDER BY k, id;
SELECT count(*) FROM t WHERE v LIKE '%-updated';
DELETE FROM t WHERE id % 3 = 0;
VACUUM;
PRAGMA integrity_check;
SELECT count(*), sum(id) FROM t;
PRAGMA page_count;

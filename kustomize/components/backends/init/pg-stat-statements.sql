-- Run once by the postgres image's entrypoint when it initialises PGDATA (/docker-entrypoint-initdb.d,
-- as POSTGRES_USER in POSTGRES_DB = orders): the statistics the SQL dashboard's backend panels,
-- postgres-exporter's statement metrics and the sql-* scenario probes read. The library itself is
-- preloaded by the StatefulSet's `-c shared_preload_libraries=pg_stat_statements`.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

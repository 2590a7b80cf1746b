# shellcheck shell=bash
# The benchmark schema the restore benchmarks share: three tables of ROWS rows each with
# primary keys, a secondary index, a foreign key and a materialized view (integer,
# timestamptz, numeric and text columns), as real schemas have, so that COPY, index builds,
# key validation and the refresh all take their share.

# bench::load_data BINDIR ROWS: creates schema trading in the current PGDATABASE.
bench::load_data() {
  local bin="$1" rows="$2"
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SCHEMA trading;
CREATE TABLE trading.orders AS SELECT g AS id, now() - g * interval '1 second' AS placed_at,
  md5(g::text) AS client, md5((g+1)::text) || ' ' || md5((g+2)::text) AS note,
  (g % 1000) * 1.25 AS px, 'note with' || chr(9) || 'tab ' || g AS memo FROM generate_series(1, $rows) g;
ALTER TABLE trading.orders ADD PRIMARY KEY (id);
CREATE INDEX orders_placed_at ON trading.orders (placed_at);
CREATE TABLE trading.fills AS SELECT g AS id, 1 + (g * 7) % $rows AS order_id, (g % 50) AS qty,
  md5(g::text) AS venue FROM generate_series(1, $rows) g;
ALTER TABLE trading.fills ADD PRIMARY KEY (id);
ALTER TABLE trading.fills ADD FOREIGN KEY (order_id) REFERENCES trading.orders (id);
CREATE TABLE trading.quotes AS SELECT g AS id, 'SYM' || (g % 500) AS symbol, g / 7.0 AS px,
  now() - g * interval '1 minute' AS at, md5(g::text) || md5((g*3)::text) AS source FROM generate_series(1, $rows) g;
ALTER TABLE trading.quotes ADD PRIMARY KEY (id);
CREATE MATERIALIZED VIEW trading.daily_volume AS
  SELECT date_trunc('day', placed_at) AS day, count(*) AS orders, sum(px) AS px FROM trading.orders GROUP BY 1;
SQL
}

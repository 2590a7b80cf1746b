# shellcheck shell=bash
# The demo schema: what scripts/demo and the end-to-end tests restore. Shaped like the
# runbook's trading schema (bots, runs, equity, orders, fills, positions, a view), owned by an
# application role and readable by a read-only one, so a restore needs roles, keys, indexes,
# grants and data.
#
# demo::schema_sql SCALE prints the SQL. SCALE 22 makes a seed-sized dump (about 4 MiB with
# pg_dump -Fc); 1 keeps tests quick.
# demo::roles prints the roles the schema needs, one a line.

demo::roles() {
  printf '%s\n' gordon_app gordon_readonly
}

demo::schema_sql() {
  local scale="${1:-22}"
  [[ "$scale" =~ ^[1-9][0-9]*$ ]] || die "demo::schema_sql: SCALE must be a positive integer, got '$scale'"
  # Row counts grow with SCALE; md5() text keeps the dump from compressing to nothing, as real
  # order ids and notes do not.
  local bots=$((12 * scale)) runs=$((40 * scale)) points=400
  cat <<SQL
SET client_min_messages = warning;
CREATE SCHEMA trading AUTHORIZATION gordon_app;
SET ROLE gordon_app;
CREATE TABLE trading.bots (
  id integer PRIMARY KEY,
  name text NOT NULL UNIQUE,
  strategy text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE trading.runs (
  id integer PRIMARY KEY,
  bot_id integer NOT NULL REFERENCES trading.bots (id),
  started_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'finished', 'failed'))
);
CREATE TABLE trading.equity (
  run_id integer NOT NULL REFERENCES trading.runs (id),
  ts timestamptz NOT NULL,
  equity numeric(14, 2) NOT NULL,
  PRIMARY KEY (run_id, ts)
);
CREATE TABLE trading.orders (
  id bigserial PRIMARY KEY,
  run_id integer NOT NULL REFERENCES trading.runs (id),
  client_order_id text NOT NULL,
  side text NOT NULL,
  qty integer NOT NULL,
  px numeric(12, 4) NOT NULL,
  placed_at timestamptz NOT NULL
);
CREATE INDEX orders_run_id ON trading.orders (run_id);
CREATE TABLE trading.fills (
  id bigserial PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES trading.orders (id),
  qty integer NOT NULL,
  venue text NOT NULL
);
CREATE TABLE trading.positions (
  bot_id integer NOT NULL REFERENCES trading.bots (id),
  symbol text NOT NULL,
  qty integer NOT NULL,
  PRIMARY KEY (bot_id, symbol)
);
CREATE VIEW trading.bot_summary AS
  SELECT b.id, b.name, count(r.id) AS runs FROM trading.bots b LEFT JOIN trading.runs r ON r.bot_id = b.id GROUP BY b.id, b.name;
COMMENT ON TABLE trading.equity IS 'Equity curve of every run, one point per bar.';

INSERT INTO trading.bots
  SELECT g, 'bot-' || g, (ARRAY['momentum', 'mean-revert', 'pairs', 'grid'])[1 + g % 4], timestamptz '2026-01-01' + g * interval '1 day'
  FROM generate_series(1, $bots) g;
INSERT INTO trading.runs
  SELECT g, 1 + g % $bots, timestamptz '2026-02-01' + g * interval '1 hour', CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'finished' END
  FROM generate_series(1, $runs) g;
INSERT INTO trading.equity
  SELECT r, timestamptz '2026-02-01' + p * interval '1 minute', round((10000 + 500 * sin(r + p / 30.0) + (r * p) % 97)::numeric, 2)
  FROM generate_series(1, $runs) r, generate_series(1, $points) p;
INSERT INTO trading.orders (run_id, client_order_id, side, qty, px, placed_at)
  SELECT 1 + g % $runs, md5(g::text), CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, 1 + g % 50, round((100 + (g % 1000) / 7.0)::numeric, 4), timestamptz '2026-02-01' + g * interval '7 seconds'
  FROM generate_series(1, $((runs * 50))) g;
INSERT INTO trading.fills (order_id, qty, venue)
  SELECT 1 + (g * 7) % $((runs * 50)), 1 + g % 25, (ARRAY['XNAS', 'XNYS', 'BATS'])[1 + g % 3]
  FROM generate_series(1, $((runs * 40))) g;
INSERT INTO trading.positions
  SELECT b, 'SYM' || s, (b * s) % 300 - 150 FROM generate_series(1, $bots) b, generate_series(1, 8) s;
RESET ROLE;
GRANT USAGE ON SCHEMA trading TO gordon_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA trading TO gordon_readonly;
ANALYZE;
SQL
}

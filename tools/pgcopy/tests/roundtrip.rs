//! The encoder against real servers: a table with a column of every kind, full of edge values
//! and random rows, is copied out as text the way pg_dump does, then loaded twice, once as
//! text and once through the encoder as binary. Both copies must be identical, in their text
//! forms, to each other and to the original, and every line must have been encoded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // in tests a panic is a failed test with a line number; a scenario reads top to bottom

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use pgcopy::{EncodeError, HEADER, Kind, RowEncoder, TRAILER};
use testkit::PgCluster;
use tokio_postgres::{Client, NoTls};

/// Random rows on top of the edge values.
const RANDOM_ROWS: u32 = 100_000;
/// The ids of the rows re-copied under other settings (all edge rows, some random ones).
const SUBSET_IDS: u32 = 10_000;

const SCHEMA: &str = r"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE SEQUENCE ids;
CREATE TABLE src (
    id int PRIMARY KEY DEFAULT nextval('ids'),
    b bool, i2 int2, i4 int4, i8 int8, o oid,
    f4 float4, f8 float8,
    n numeric, n2 numeric(12,3),
    t text, vc varchar(20), bp char(5),
    by bytea,
    d date, tm time, tm3 time(3), ts timestamp, ts0 timestamp(0), tz timestamptz,
    u uuid, j json, jb jsonb,
    e mood, dom posint
);
CREATE TABLE via_text (LIKE src);
CREATE TABLE via_binary (LIKE src);
";

/// Edge values, one row per value with the other columns NULL (and one row of all NULLs).
const EDGE_VALUES: &str = r#"
INSERT INTO src (id) VALUES (DEFAULT);
INSERT INTO src (b) VALUES (true), (false);
INSERT INTO src (i2) VALUES (-32768), (32767), (0), (-1);
INSERT INTO src (i4) VALUES (-2147483648), (2147483647), (0);
INSERT INTO src (i8) VALUES (-9223372036854775808), (9223372036854775807), (0);
INSERT INTO src (o) VALUES (0), (4294967295), (1);
INSERT INTO src (f4) VALUES ('NaN'), ('Infinity'), ('-Infinity'), ('-0'), ('0'), ('1.4e-45'),
    ('1.1754942e-38'), ('1.17549435e-38'), ('3.4028235e38'), ('-3.4028235e38'), ('0.1'),
    ('16777216'), ('16777218'), ('1e-40'), ('123456.7'), ('1e10'), ('1e-5'), ('1e15'), ('1e16');
INSERT INTO src (f8) VALUES ('NaN'), ('Infinity'), ('-Infinity'), ('-0'), ('0'), ('5e-324'),
    ('2.225073858507201e-308'), ('2.2250738585072014e-308'), ('1.7976931348623157e308'),
    ('-1.7976931348623157e308'), ('1e308'), ('0.1'), ('1e-310'), ('1e22'), ('1e23'),
    ('9007199254740993'), ('0.30000000000000004'), ('1e-5'), ('123456789012345680000'),
    ('1e15'), ('1e16'), ('-1.2345678901234567e-100');
INSERT INTO src (n) VALUES ('NaN'), ('Infinity'), ('-Infinity'), ('0'), ('-0'), ('0.00'),
    ('-0.000'), ('1.50'), ('-1.5'), ('0.0000000001'), ('100000000'), ('99999999.9999'),
    ('123456789012345678901234567890.123456789012345678901234567890'), ('1e1000'),
    ('-1e-1000'), ('1e131071'), ('-9.999e131071'), ('1e-16383'), ('-1.5e-16380'), ('9999'),
    ('10000'), ('0.0001'), ('0.00001'), ('1000000000000000000000000.0000000000000000000000001'),
    ('-0.00000000000000000000000000000000000001000');
INSERT INTO src (n2) VALUES ('123456789.123'), ('-0.001'), ('0.000'), ('0'), ('NaN'),
    ('999999999.999'), ('-999999999.999'), ('1.5');
INSERT INTO src (t) VALUES (''), (' '), (E'tab\there'), (E'new\nline'), (E'cr\rhere'),
    (E'back\\slash'), (E'\\N'), ('N'), (E'\\.'), (E'\\.\n'), (E'\\'), (E'\\\\'), (E'a\\tb'),
    ((SELECT string_agg(chr(c), '') FROM generate_series(1, 127) c)),
    ('unicode ☃ 𝄞 é 中文 ﻿'), (repeat('long ', 20000)), (E'\b\f\v'), (E'\t'), (E'\t\t');
INSERT INTO src (vc) VALUES (''), ('abc'), ('12345678901234567890'), (E'\t\\');
INSERT INTO src (bp) VALUES (''), ('ab'), ('abcde'), (E'a\tb');
INSERT INTO src (by) VALUES ('\x'), ('\x00'), ('\x00ff10'), ('\x5c'), ('\x5c4e'),
    (decode(repeat('ab', 50000), 'hex')), (decode('090a0d5c2e', 'hex'));
INSERT INTO src (d) VALUES ('infinity'), ('-infinity'), ('4714-11-24 BC'), ('5874897-12-31'),
    ('0001-01-01'), ('0001-12-31 BC'), ('0001-02-29 BC'), ('0005-02-29 BC'), ('2000-02-29'),
    ('1900-02-28'), ('9999-12-31'), ('10000-01-01'), ('1582-10-10'), ('2000-01-01'),
    ('1000000-06-15');
INSERT INTO src (tm) VALUES ('00:00:00'), ('24:00:00'), ('23:59:59.999999'), ('12:34:56.5'),
    ('00:00:00.000001'), ('23:59:59.9999999');
INSERT INTO src (tm3) VALUES ('12:34:56.789'), ('23:59:59.999'), ('23:59:59.9999');
INSERT INTO src (ts) VALUES ('infinity'), ('-infinity'), ('4714-11-24 00:00:00 BC'),
    ('294276-12-31 23:59:59.999999'), ('2000-01-01 00:00:00'), ('1999-12-31 23:59:59.999999'),
    ('0001-01-01 00:00:00'), ('0001-12-31 23:59:59.999999 BC'), ('1900-01-01 00:00:00'),
    ('10000-01-01 00:00:00'), ('0001-02-29 12:00:00 BC');
INSERT INTO src (ts0) VALUES ('2000-01-01 12:00:00.5'), ('294276-12-31 23:59:59'),
    ('4714-11-24 00:00:00 BC');
INSERT INTO src (tz) VALUES ('infinity'), ('-infinity'), ('4714-11-24 00:00:00+00 BC'),
    ('4714-11-24 12:00:00+00 BC'), ('294276-12-31 23:59:59.999999+00'),
    ('294276-12-31 12:00:00+00'), ('1850-06-01 12:00:00+00'), ('1900-01-01 00:00:00+00'),
    ('1920-07-01 12:00:00+00'), ('1935-03-30 12:00:00+00'), ('1937-06-30 12:00:00+00'),
    ('2000-01-01 00:00:00+00'), ('2024-03-10 12:00:00+00'), ('0001-01-01 00:00:00+00'),
    ('0001-01-01 00:00:00+00 BC'), ('1900-01-01 00:00:00.123456+00');
INSERT INTO src (u) VALUES ('00000000-0000-0000-0000-000000000000'),
    ('ffffffff-ffff-ffff-ffff-ffffffffffff'), ('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11');
INSERT INTO src (j) VALUES ('{}'), ('[]'), ('"str"'), ('null'),
    ('{"a": [1, 2.50, "x\ty"], "b": null}'), (E'{"tab":"a\\tb", "nl": "\\n"}'),
    (E'"\\u0000"'), ('  {"spaces" : 1 }  '), ('1e400'), (E'{\n"a": 1\n}'), ('{"a":1,"a":2}');
INSERT INTO src (jb) VALUES ('{}'), ('[]'), ('{"b": 1, "a": [1.50, true, null, "é"]}'),
    ('"str"'), ('1e400'), ('{"a":{"b":{"c":[1,2,3]}}}'), (E'"\\u00e9"'), (E'"tab\\there"'),
    ('{"a":1,"a":2}');
INSERT INTO src (e) VALUES ('sad'), ('happy');
INSERT INTO src (dom) VALUES (1), (2147483647);
"#;

/// One random row per g; each column NULL now and then.
fn random_rows_sql() -> String {
    let sign = "(CASE WHEN random() < 0.5 THEN -1 ELSE 1 END)";
    let columns: [(&str, String); 24] = [
        ("b", "random() < 0.5".into()),
        ("i2", "floor(random() * 65536 - 32768)::int2".into()),
        ("i4", "floor(random() * 4294967296 - 2147483648)::int4".into()),
        ("i8", "floor((random() - 0.5) * 1.8e19)::int8".into()),
        ("o", "floor(random() * 4294967296)::int8::oid".into()),
        (
            "f4",
            format!(
                "CASE g % 3 WHEN 0 THEN random()::float4 ELSE \
                 ({sign} * (1 + random()) * power(10::float8, floor(random() * 82) - 44))::float4 END"
            ),
        ),
        (
            "f8",
            format!(
                "CASE g % 3 WHEN 0 THEN random() ELSE \
                 {sign} * (1 + random()) * power(10::float8, floor(random() * 600) - 300) END"
            ),
        ),
        (
            "n",
            "CASE g % 3 \
             WHEN 0 THEN round(((random() - 0.5) * power(10::float8, floor(random() * 30)))::numeric, \
                               floor(random() * 20)::int) \
             WHEN 1 THEN (floor(random() * 1e15)::int8::text || '.' \
                          || lpad(floor(random() * 1e6)::int8::text, 6, '0'))::numeric \
             ELSE (floor((random() - 0.5) * 1e18)::int8::numeric * power(10::numeric, (g % 40) - 20)) END"
                .into(),
        ),
        ("n2", "round((random() * 1e8)::numeric, 3)".into()),
        (
            "t",
            "CASE g % 5 WHEN 0 THEN md5(g::text) \
             WHEN 1 THEN repeat(E'\\t\\\\\\n\\rx', g % 4) \
             WHEN 2 THEN chr(1 + g % 126) || chr(160 + g % 10000) \
             WHEN 3 THEN '' \
             ELSE md5(g::text) || chr(128 + g % 50000) END"
                .into(),
        ),
        ("vc", "left(md5(g::text), g % 21)".into()),
        ("bp", "left(md5(g::text), g % 6)".into()),
        ("by", "decode(repeat(md5(g::text), g % 4), 'hex')".into()),
        (
            "d",
            "'2000-01-01'::date + (CASE WHEN g % 10 = 0 \
             THEN floor(random() * 2147483000::float8) ELSE floor(random() * 4000000) END \
             - 2451545)::int"
                .into(),
        ),
        (
            "tm",
            "'00:00'::time + floor(random() * 86400e6)::int8 * interval '1 microsecond'".into(),
        ),
        (
            "tm3",
            "'00:00'::time + floor(random() * 86400e6)::int8 * interval '1 microsecond'".into(),
        ),
        (
            "ts",
            "CASE WHEN g % 10 = 0 \
             THEN '2000-01-01'::timestamp + random() * 9.2e12 * interval '1 second' \
             ELSE 'epoch'::timestamp + (random() - 0.5) * 3e11 * interval '1 second' END"
                .into(),
        ),
        (
            "ts0",
            "'epoch'::timestamp + (random() - 0.5) * 3e11 * interval '1 second'".into(),
        ),
        (
            "tz",
            "CASE WHEN g % 10 = 0 \
             THEN '2000-01-01'::timestamptz + random() * 9.2e12 * interval '1 second' \
             ELSE 'epoch'::timestamptz + (random() - 0.5) * 3e11 * interval '1 second' END"
                .into(),
        ),
        ("u", "md5(g::text || 'u')::uuid".into()),
        (
            "j",
            "json_build_object('g', g, 'r', random(), 's', md5(g::text), \
             'a', json_build_array(1, 'two', null, true, E'\\t'))"
                .into(),
        ),
        (
            "jb",
            "jsonb_build_object('g', g, 'r', random(), 's', md5(g::text), \
             'n', (random() * 1e6)::numeric(12, 4), 'o', jsonb_build_object('x', E'a\\nb'))"
                .into(),
        ),
        ("e", "(enum_range(NULL::mood))[1 + g % 3]".into()),
        ("dom", "1 + g".into()),
    ];
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut values = String::new();
    for (i, (_, expr)) in columns.iter().enumerate() {
        if i > 0 {
            values.push_str(",\n    ");
        }
        write!(
            values,
            "CASE WHEN random() < 0.03 THEN NULL ELSE {expr} END"
        )
        .unwrap();
    }
    format!(
        "INSERT INTO src ({}) SELECT\n    {values}\nFROM generate_series(1, {RANDOM_ROWS}) g;\nANALYZE src;\n",
        names.join(", ")
    )
}

async fn connect(cluster: &PgCluster, database: &str) -> Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(cluster.socket_dir())
        .port(cluster.port)
        .user("postgres")
        .dbname(database);
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(async move { connection.await.unwrap() });
    client
}

/// The kinds of a table's columns, from the catalog: domains by their base type, enums as
/// text, as schema-swap resolves them.
async fn column_kinds(client: &Client, table: &str) -> Vec<Kind> {
    let rows = client
        .query(
            "SELECT CASE t.typtype WHEN 'd' THEN t.typbasetype WHEN 'e' THEN 25::oid ELSE t.oid END \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&table],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let oid: u32 = row.get(0);
            Kind::from_type_oid(oid).unwrap_or_else(|| panic!("type {oid} has no kind"))
        })
        .collect()
}

async fn copy_out(client: &Client, sql: &str) -> Vec<u8> {
    let stream = client.copy_out(sql).await.unwrap();
    let mut stream = std::pin::pin!(stream);
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    data
}

async fn copy_in(client: &Client, sql: &str, data: &[u8]) -> u64 {
    let sink = client.copy_in::<_, Bytes>(sql).await.unwrap();
    let mut sink = std::pin::pin!(sink);
    for chunk in data.chunks(1 << 20) {
        sink.send(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    sink.as_mut().finish().await.unwrap()
}

/// Row count and md5 of the rows' text forms, in id order.
async fn fingerprint(client: &Client, table: &str, condition: &str) -> (i64, String) {
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(md5(string_agg(x::text, E'\\n' ORDER BY id)), '') \
                 FROM {table} x WHERE {condition}"
            ),
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The COPY text's lines (without their line feeds).
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.strip_suffix(b"\n")
        .unwrap_or(text)
        .split(|&b| b == b'\n')
        .filter(|_| !text.is_empty())
}

/// What encoding a COPY text produced.
struct Encoded {
    data: Vec<u8>,
    rows: usize,
    errors: Vec<EncodeError>,
    elapsed: Duration,
}

fn encode_all(kinds: &[Kind], text: &[u8]) -> Encoded {
    let mut encoder = RowEncoder::new(kinds.to_vec());
    let mut data = Vec::with_capacity(text.len() + HEADER.len());
    data.extend_from_slice(HEADER);
    let mut errors = Vec::new();
    let mut rows = 0;
    let started = Instant::now();
    for line in lines(text) {
        rows += 1;
        if let Err(error) = encoder.encode_line(line, &mut data) {
            errors.push(error);
        }
    }
    let elapsed = started.elapsed();
    data.extend_from_slice(TRAILER);
    Encoded {
        data,
        rows,
        errors,
        elapsed,
    }
}

fn error_summary(errors: &[EncodeError]) -> BTreeMap<String, usize> {
    let mut summary = BTreeMap::new();
    for error in errors {
        *summary.entry(error.to_string()).or_insert(0) += 1;
    }
    summary
}

/// One COPY out under given settings, loaded both ways, compared.
struct Pass {
    zone: &'static str,
    float_digits: i32,
    /// Only rows with id up to this; None for all.
    max_id: Option<u32>,
    /// Only rows where this holds.
    filter: &'static str,
    /// A numeric offset the COPY text must contain (so the pass covers what it claims).
    must_contain: &'static str,
}

async fn run_pass(client: &Client, kinds: &[Kind], pass: &Pass, major: u32) {
    client
        .batch_execute(&format!(
            "SET DateStyle = ISO; SET IntervalStyle = postgres; SET bytea_output = hex; \
             SET extra_float_digits = {}; SET TimeZone = '{}'; TRUNCATE via_text, via_binary",
            pass.float_digits, pass.zone
        ))
        .await
        .unwrap();
    let condition = format!(
        "id <= {} AND {}",
        pass.max_id.unwrap_or(u32::MAX),
        pass.filter
    );
    let text = copy_out(
        client,
        &format!("COPY (SELECT * FROM src WHERE {condition} ORDER BY id) TO STDOUT"),
    )
    .await;
    let needle = pass.must_contain.as_bytes();
    assert!(
        text.windows(needle.len()).any(|w| w == needle),
        "PostgreSQL {major}, {}: the COPY text has no {needle:?} offset",
        pass.zone
    );

    let encoded = encode_all(kinds, &text);
    assert!(
        encoded.errors.is_empty(),
        "PostgreSQL {major}, {}: {} of {} lines not encoded: {:?}",
        pass.zone,
        encoded.errors.len(),
        encoded.rows,
        error_summary(&encoded.errors)
    );
    let text_rows = copy_in(client, "COPY via_text FROM STDIN", &text).await;
    let binary_rows = copy_in(
        client,
        "COPY via_binary FROM STDIN (FORMAT binary)",
        &encoded.data,
    )
    .await;
    assert_eq!(text_rows, binary_rows);
    assert_eq!(usize::try_from(text_rows).unwrap(), encoded.rows);

    // Compare with full float precision, whatever the pass copied with.
    client
        .batch_execute("SET extra_float_digits = 3")
        .await
        .unwrap();
    let via_text = fingerprint(client, "via_text", "true").await;
    let via_binary = fingerprint(client, "via_binary", "true").await;
    assert_eq!(
        via_binary, via_text,
        "PostgreSQL {major}, {}: binary load differs from text load",
        pass.zone
    );
    if pass.float_digits >= 1 {
        let source = fingerprint(client, "src", &condition).await;
        assert_eq!(
            via_binary, source,
            "PostgreSQL {major}, {}: binary load differs from the source",
            pass.zone
        );
    }
    let mib = f64::from(u32::try_from(text.len()).unwrap()) / f64::from(1 << 20);
    let seconds = encoded.elapsed.as_secs_f64();
    println!(
        "PostgreSQL {major}, {}, extra_float_digits {}: {} rows, {mib:.1} MiB of text encoded \
         in {:.3} s ({:.0} rows/s, {:.0} MiB/s), {} bytes binary",
        pass.zone,
        pass.float_digits,
        encoded.rows,
        seconds,
        f64::from(u32::try_from(encoded.rows).unwrap()) / seconds,
        mib / seconds,
        encoded.data.len(),
    );
}

/// Forms the encoder must refuse, straight from the server: bytea in escape format, dates in
/// another DateStyle.
async fn refusals(client: &Client, kinds: &[Kind], edge_max: u32, major: u32) {
    client
        .batch_execute("SET DateStyle = ISO; SET bytea_output = escape; SET TimeZone = 'UTC'")
        .await
        .unwrap();
    let by_column = kinds.iter().position(|&k| k == Kind::Bytea).unwrap();
    let text = copy_out(
        client,
        &format!("COPY (SELECT * FROM src WHERE id <= {edge_max} + 1000 ORDER BY id) TO STDOUT"),
    )
    .await;
    let encoded = encode_all(kinds, &text);
    let expected: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM src WHERE id <= {edge_max} + 1000 AND by IS NOT NULL"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        encoded.errors.len(),
        usize::try_from(expected).unwrap(),
        "PostgreSQL {major}: {:?}",
        error_summary(&encoded.errors)
    );
    assert!(
        encoded
            .errors
            .iter()
            .all(|e| e.column == by_column && e.kind == Some(Kind::Bytea))
    );

    client
        .batch_execute("SET bytea_output = hex; SET DateStyle = 'German, DMY'")
        .await
        .unwrap();
    let text = copy_out(
        client,
        &format!("COPY (SELECT id, d, ts, tz FROM src WHERE id <= {edge_max} + 1000) TO STDOUT"),
    )
    .await;
    let encoded = encode_all(
        &[Kind::Int4, Kind::Date, Kind::Timestamp, Kind::TimestampTz],
        &text,
    );
    let expected: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM src WHERE id <= {edge_max} + 1000 AND \
                 (isfinite(d) OR isfinite(ts) OR isfinite(tz))"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(expected > 500);
    assert_eq!(
        encoded.errors.len(),
        usize::try_from(expected).unwrap(),
        "PostgreSQL {major}: {:?}",
        error_summary(&encoded.errors)
    );
}

fn roundtrip(major: u32) {
    let started = Instant::now();
    let cluster = PgCluster::start(major);
    cluster.create_database("rt");
    cluster.psql_script("rt", SCHEMA);
    cluster.psql_script("rt", EDGE_VALUES);
    let edge_max: u32 = cluster
        .psql("rt", "SELECT max(id) FROM src")
        .parse()
        .unwrap();
    cluster.psql_script("rt", &random_rows_sql());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = connect(&cluster, "rt").await;
        let kinds = column_kinds(&client, "src").await;
        assert_eq!(kinds.len(), 25);
        let subset = Some(edge_max + SUBSET_IDS);
        let passes = [
            Pass {
                zone: "Asia/Kolkata",
                float_digits: 3,
                max_id: None,
                filter: "true",
                must_contain: "+05:53:28",
            },
            Pass {
                zone: "America/St_Johns",
                float_digits: 3,
                max_id: subset,
                filter: "true",
                must_contain: "-03:30:52",
            },
            Pass {
                zone: "Europe/Amsterdam",
                float_digits: 0,
                max_id: subset,
                // With 15 digits, float8's largest values print as numbers that overflow:
                // the text load fails on them as the encoder does.
                filter: "coalesce(f8 = 'NaN' OR abs(f8) = 'Infinity' OR abs(f8) < 1.79e308, true)",
                must_contain: "+00:19:32",
            },
            Pass {
                zone: "Europe/Amsterdam",
                float_digits: 1,
                max_id: subset,
                filter: "true",
                must_contain: "+01:19:32",
            },
        ];
        for pass in &passes {
            run_pass(&client, &kinds, pass, major).await;
        }
        refusals(&client, &kinds, edge_max, major).await;
    });
    println!(
        "PostgreSQL {major}: round trip done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn roundtrip_pg15() {
    roundtrip(15);
}

#[test]
fn roundtrip_pg16() {
    roundtrip(16);
}

#[test]
fn roundtrip_pg17() {
    roundtrip(17);
}

#[test]
fn roundtrip_pg18() {
    roundtrip(18);
}

#[test]
fn majors_are_all_tested() {
    assert_eq!(testkit::pg::MAJORS, [15, 16, 17, 18]);
}

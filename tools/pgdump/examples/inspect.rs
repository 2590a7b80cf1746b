//! Lists an archive's header and entries and counts every table's rows, with timings:
//! `cargo run --release -p schema-restore-pgdump --example inspect -- FILE [THREADS]`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: inspect FILE [THREADS]")?;
    let threads: usize = args.next().map_or(Ok(2), |t| t.parse())?;
    let started = Instant::now();
    let archive = pgdump::Archive::open(&path)?;
    let header = archive.header();
    eprintln!(
        "archive {} {} compression {} int {} offset {} created {:?} db {} server {:?} pg_dump {:?} offsets {}",
        header.version,
        header.format,
        header.compression,
        header.int_size,
        header.offset_size,
        header.created,
        header.database,
        header.server_version,
        header.pg_dump_version,
        archive.has_data_offsets()
    );
    for e in archive.entries() {
        println!(
            "{}; {} {} {} {} {} {} [{}] {:?} am={:?} relkind={:?} deps={:?}",
            e.dump_id,
            e.table_oid,
            e.oid,
            e.desc,
            e.namespace.as_ref().map_or("-".into(), ToString::to_string),
            e.tag,
            e.owner.as_ref().map_or(String::new(), ToString::to_string),
            e.section,
            e.data,
            e.table_am,
            e.relkind.map(char::from),
            e.dependencies
        );
    }
    let opened = started.elapsed();
    let started = Instant::now();
    let entries: Vec<_> = archive.table_data().collect();
    let results = archive.count_rows_parallel(&entries, threads);
    let elapsed = started.elapsed();
    let mut bytes = 0u64;
    for (entry, result) in entries.iter().zip(&results) {
        match result {
            Ok(count) => {
                bytes += count.data_bytes;
                println!(
                    "rows {} {} ({} bytes)",
                    entry.qualified_name(),
                    count.rows,
                    count.data_bytes
                );
            }
            Err(e) => println!("rows {} ERROR {e}", entry.qualified_name()),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let mbps = bytes as f64 / 1e6 / elapsed.as_secs_f64();
    eprintln!(
        "opened in {opened:?}; counted {bytes} bytes in {elapsed:?} with {threads} threads: {mbps:.0} MB/s"
    );
    Ok(())
}

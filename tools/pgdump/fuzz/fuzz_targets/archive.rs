//! Any bytes as a custom-format archive: opening it and reading every data block must end in a
//! value or an error, never a panic, an abort or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    // The reader takes a path (it seeks and reopens for parallel reads): a file in memory-backed /dev/shm.
    let Ok(mut file) = tempfile_in_shm() else { return };
    if file.1.write_all(data).is_err() {
        return;
    }
    if let Ok(archive) = pgdump::Archive::open(&file.0) {
        let entries: Vec<&pgdump::Entry> = archive.table_data().collect();
        for result in archive.count_rows_parallel(&entries, 2) {
            let _ = result;
        }
        for entry in archive.entries() {
            let _ = archive.count_rows(entry);
        }
    }
    let _ = std::fs::remove_file(&file.0);
});

fn tempfile_in_shm() -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
    let path = std::path::PathBuf::from(format!("{dir}/pgdump-fuzz-{}", std::process::id()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}

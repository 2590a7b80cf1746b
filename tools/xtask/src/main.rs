//! `cargo xtask man [DIR]`: writes every tool's man page and shell completions to `man/`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("man") {
        eprintln!("usage: cargo xtask man [DIR]   (regenerates man pages and completions)");
        return std::process::ExitCode::from(2);
    }
    let out = args
        .get(1)
        .map_or_else(xtask::man_dir, std::path::PathBuf::from);
    match xtask::generate(&out) {
        Ok(written) => {
            eprintln!("[ OK ] wrote {written} files under {}", out.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: writing {}: {e}", out.display());
            std::process::ExitCode::FAILURE
        }
    }
}

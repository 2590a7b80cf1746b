//! Renders the tools' clap definitions, the single source of --help, into man pages and shell
//! completions. The output is committed under `man/`; a test regenerates it and fails on any
//! difference, so the pages can never go stale.

use clap::CommandFactory;
use clap_complete::Shell;
use std::io;
use std::path::{Path, PathBuf};

/// Every tool, by binary name, with its clap definition.
pub fn tools() -> Vec<clap::Command> {
    vec![
        snapshot_pick::Args::command(),
        dump_validate::Args::command(),
        pg_preflight::Args::command(),
        rowcount_report::Args::command(),
        schema_swap::Args::command(),
        svc_verify::Args::command(),
    ]
}

/// Pages in `man/` written by hand: scripts, which have no clap definition to render.
pub const HAND_WRITTEN: &[&str] = &["restore-schema.1"];

/// `man/` at the root of the workspace.
pub fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("man"), |root| root.join("man"))
}

/// Writes `<tool>.1` and `completions/<tool>.{bash,zsh,fish}` for every tool under `out`.
/// Returns how many files were written.
pub fn generate(out: &Path) -> io::Result<usize> {
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    let mut written = 0;
    for mut command in tools() {
        let name = command.get_name().to_owned();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        std::fs::write(out.join(format!("{name}.1")), page)?;
        written += 1;
        for (shell, ext) in [
            (Shell::Bash, "bash"),
            (Shell::Zsh, "zsh"),
            (Shell::Fish, "fish"),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, name.clone(), &mut script);
            std::fs::write(completions.join(format!("{name}.{ext}")), script)?;
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists every file below `dir` with its bytes, sorted by relative path.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(current) = stack.pop() {
            for entry in std::fs::read_dir(&current).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push((
                        path.strip_prefix(dir).unwrap().to_path_buf(),
                        std::fs::read(&path).unwrap(),
                    ));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn committed_man_pages_and_completions_are_fresh() {
        let fresh = tempfile::tempdir().unwrap();
        generate(fresh.path()).unwrap();
        let committed = man_dir();
        let want = snapshot(fresh.path());
        let have: Vec<(PathBuf, Vec<u8>)> = if committed.is_dir() {
            snapshot(&committed)
                .into_iter()
                .filter(|(path, _)| !HAND_WRITTEN.iter().any(|h| path == Path::new(h)))
                .collect()
        } else {
            Vec::new()
        };
        let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&have),
            names(&want),
            "man/ has other files than the tools make: run 'cargo xtask man'"
        );
        for ((path, have), (_, want)) in have.iter().zip(&want) {
            assert!(
                have == want,
                "man/{} is stale: run 'cargo xtask man' and commit man/",
                path.display()
            );
        }
    }

    #[test]
    fn every_man_page_documents_the_exit_codes() {
        for command in tools() {
            let mut page = Vec::new();
            clap_mangen::Man::new(command.clone())
                .render(&mut page)
                .unwrap();
            let page = String::from_utf8(page).unwrap();
            assert!(
                page.contains("Exit codes"),
                "{} man page lacks exit codes",
                command.get_name()
            );
        }
    }
}

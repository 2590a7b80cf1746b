fn main() -> std::process::ExitCode {
    cli::main(pg_preflight::TOOL, pg_preflight::run)
}

fn main() -> std::process::ExitCode {
    cli::main(snapshot_pick::TOOL, snapshot_pick::run)
}

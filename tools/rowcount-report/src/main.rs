fn main() -> std::process::ExitCode {
    cli::main(rowcount_report::TOOL, rowcount_report::run)
}

fn main() -> std::process::ExitCode {
    cli::main(dump_validate::TOOL, dump_validate::run)
}

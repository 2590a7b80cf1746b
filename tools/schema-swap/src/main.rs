fn main() -> std::process::ExitCode {
    cli::main(schema_swap::TOOL, schema_swap::run)
}

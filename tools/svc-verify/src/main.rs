fn main() -> std::process::ExitCode {
    cli::main(svc_verify::TOOL, svc_verify::run)
}

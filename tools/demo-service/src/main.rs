//! `demo-service`: the runbook's three services in one small process, for the demo.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    demo_service::main()
}

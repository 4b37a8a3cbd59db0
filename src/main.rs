fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cronq::cli::main())
}

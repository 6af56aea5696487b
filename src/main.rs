fn main() -> std::process::ExitCode {
    lsrmon::cli::main()
}

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = contactdex::cli::Cli::parse();
    match contactdex::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contactdex: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

use clap::Parser;

// mimalloc: the ingest path allocates many small strings on several threads at once, where
// glibc malloc measured ~15 % of CPU time with visible arena-lock contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

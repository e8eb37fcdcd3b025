use clap::Parser;

// mimalloc: the ingest path allocates many small strings on several threads at once, where
// glibc malloc measured ~15 % of CPU time with visible arena-lock contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc 2.1+ and 3.x;
/// the crate names no constant for it): how long, in ms, freed OS memory stays committed
/// before it is given back; -1 = never.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Its default in the mimalloc 3 that libmimalloc-sys builds (`src/options.c`; the header's
/// comment still says 10).
const MI_DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// An import or reindex is a one-shot process that frees and reallocates buffers all the way
/// through (hash tables, growing vectors, tantivy's arenas, sled's write buffers). With
/// mimalloc's default 1 s purge delay each reuse came back from the kernel as fresh zeroed
/// pages (`clear_page_erms` was 19 % of a 100k import's samples); keeping the memory committed
/// made a 1M import ~8 % faster (23.7–24.1 s against 25.4–26.4 s) for a peak RSS of ~1.0 GB
/// instead of ~0.8 GB. `serve` keeps the default so a long-running server gives memory back.
/// Only a delay still at its default is changed: `MIMALLOC_PURGE_DELAY` in the environment
/// wins, and an option table laid out differently is left alone.
fn keep_freed_memory() {
    // SAFETY: mi_option_get/mi_option_set read and store an integer in mimalloc's option
    // table; this runs before the command's threads start.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = contactdex::cli::Cli::parse();
    if matches!(
        cli.command,
        contactdex::cli::Command::Import { .. } | contactdex::cli::Command::Reindex { .. }
    ) {
        keep_freed_memory();
    }
    match contactdex::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contactdex: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

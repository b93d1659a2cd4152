//! The `mapsync` binary: a thin edge around [`mapsync::cli`].

/// mimalloc: planning and syncing allocate many small strings; the system
/// allocator cost about a third of plan time (`cargo bench --bench plan`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: the crate exports no constant for it
/// ("not exposed as constants for stability reasons"); 15 in the option
/// numbering of both mimalloc v2 and v3 (deprecated options keep their
/// numbers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Freed memory goes back to the system at once instead of after 10 ms
    // (100 ms for arenas): a 100,000-product sync peaked at 153 MB instead
    // of 191 MB, no slower (`cargo bench --bench e2e`). The environment's
    // MIMALLOC_PURGE_DELAY still wins.
    // SAFETY: sets a default of the allocator before any other thread runs.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0) };
    mapsync::cli::main()
}

//! The `mapsync` binary: a thin edge around [`mapsync::cli`].

/// mimalloc: planning and syncing allocate many small strings; the system
/// allocator cost about a third of plan time (`cargo bench --bench plan`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mapsync::cli::main()
}

//! The `mapsync` binary: a thin edge around [`mapsync::cli`].

fn main() -> std::process::ExitCode {
    mapsync::cli::main()
}

//! The build script of every Lambda function (and of the cold-start bench's
//! bare anchor, built alike): on Linux their binaries link as non-PIE
//! executables. The dynamic loader then has no relocations to apply and no
//! relocated pages to copy at start, which was half of a function's init
//! (docs/BENCHMARKS.md, "Cold start"), and the binary sheds its relocation
//! table. Only the binaries' final link changes: the code stays position
//! independent, so libraries, proc macros and the cdylibs some dependencies
//! build link as before (a `relocation-model=static` build breaks those).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}

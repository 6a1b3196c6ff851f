//! Integration kernels for `cargo xtask test`. Each `[[test]]` in Cargo.toml is a kernel
//! of its own, booted alone, for what cannot share a boot with other tests: a plain boot,
//! panics, faults. This library is empty; it only gives the package a home.
#![no_std]

//! The rules of memory management, free of hardware access so that `cargo test` checks
//! them on the host: the kernel's `mm` module applies them to real page tables and frames.
#![no_std]
#![forbid(unsafe_code)]

pub mod directmap;
pub mod elf;
pub mod frames;
pub mod memtype;
pub mod physmap;
pub mod pte;

/// Size of a base page and of a frame.
pub const PAGE_SIZE: u64 = 4096;

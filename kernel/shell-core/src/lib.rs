//! The shell's rules and formats, free of hardware so that `cargo test` checks them.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod args;
pub mod dd;
pub mod devmem;
pub mod getopt;
pub mod hexdump;
pub mod human;
pub mod lex;
pub mod ls;
pub mod memcontrol;
pub mod num;
pub mod users;

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

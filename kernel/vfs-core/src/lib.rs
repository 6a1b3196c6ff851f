//! The rules of the VFS and of the memory devices, free of hardware so that `cargo test`
//! checks them on the host. The kernel's `vfs` and `dev` modules apply them.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cpio;
pub mod cpuinfo;
pub mod cred;
pub mod devmem;
pub mod devnum;
pub mod flags;
pub mod gzip;
pub mod mode;
pub mod path;
pub mod perm;
pub mod seek;
pub mod transfer;

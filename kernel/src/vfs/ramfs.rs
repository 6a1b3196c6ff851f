//! The ramdisk's files: the cpio archive the bootloader loaded, shown read-only in the
//! tree (/bin with busybox and the test programs, /etc/passwd, /etc/group), with the
//! archive's modes and owners. The bytes stay in the ramdisk; nothing is copied.

use alloc::sync::Arc;

use errno::{Errno, KResult};
use vfs_core::cpio;
use vfs_core::mode::{S_IFDIR, S_IFMT, S_IFREG};

use super::inode::{Inode, InodeKind, Owner};
use super::ops::{FileOps, SeekPolicy};
use super::userbuf::UserBuf;
use super::{insert, root};

/// Largest ramdisk accepted once uncompressed.
const MAX_UNCOMPRESSED: usize = 48 << 20;

/// The archive, inflated first when it is gzip-compressed (kept for the whole run: the
/// files' bytes stay where they are).
fn uncompressed(ramdisk: &'static [u8]) -> Option<&'static [u8]> {
    if !vfs_core::gzip::is_gzip(ramdisk) {
        return Some(ramdisk);
    }
    let Ok((stream, size)) = vfs_core::gzip::deflate_stream(ramdisk) else {
        log::warn!("ramdisk: a malformed gzip header");
        return None;
    };
    if size > MAX_UNCOMPRESSED {
        log::warn!("ramdisk: {size} bytes uncompressed, more than the {MAX_UNCOMPRESSED} allowed");
        return None;
    }
    // One buffer of the announced size: no growing and copying on the way.
    let mut bytes = alloc::vec![0u8; size];
    match miniz_oxide::inflate::decompress_slice_iter_to_slice(
        &mut bytes,
        core::iter::once(stream),
        false,
        true,
    ) {
        Ok(n) if n == size => Some(bytes.leak()),
        Ok(n) => {
            log::warn!("ramdisk: inflated to {n} bytes, not the {size} its trailer says");
            None
        }
        Err(status) => {
            log::warn!("ramdisk: cannot inflate it ({status:?})");
            None
        }
    }
}

/// Adds the archive's directories and regular files to the tree; other members
/// (symbolic links, device nodes) are skipped with a warning. The ramdisk may be
/// gzip-compressed.
pub fn load(ramdisk: &'static [u8]) {
    let Some(archive) = uncompressed(ramdisk) else { return };
    let members = match cpio::members(archive) {
        Ok(members) => members,
        Err(errno) => {
            log::warn!("ramdisk: not a newc cpio archive ({}); /bin stays empty", errno.name());
            return;
        }
    };
    for member in members {
        let owner = Owner { uid: member.uid, gid: member.gid, perm: member.mode & 0o7777 };
        let (parent, name) = match member.name.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", member.name),
        };
        let Some(dir) = directory(parent, owner) else {
            log::warn!("ramdisk: {}: parent is not a directory", member.name);
            continue;
        };
        match member.mode & S_IFMT {
            S_IFDIR => {
                if dir.child(name).is_none() {
                    insert(&dir, name, Inode::directory(owner, true));
                }
            }
            S_IFREG => insert(&dir, name, Inode::new(InodeKind::StaticFile(member.data), owner, false)),
            _ => log::warn!("ramdisk: {}: only directories and regular files are supported", member.name),
        }
    }
}

/// The directory at `path` (relative to the root), made with `owner` where missing.
fn directory(path: &str, owner: Owner) -> Option<Arc<Inode>> {
    let mut node = root().clone();
    for name in path.split('/').filter(|n| !n.is_empty()) {
        let next = match node.child(name) {
            Some(child) => child,
            None => {
                let made = Inode::directory(Owner { perm: 0o755, ..owner }, true);
                insert(&node, name, made.clone());
                made
            }
        };
        if !next.is_directory() {
            return None;
        }
        node = next;
    }
    Some(node)
}

/// An open ramdisk file: reads from its bytes; writing is EBADF (opened read-only: the
/// tree's modes have no write bit for it) or EROFS.
pub struct StaticFileOps(pub &'static [u8]);

impl FileOps for StaticFileOps {
    fn read(&self, offset: u64, buf: UserBuf<'_>) -> KResult<usize> {
        let Ok(start) = usize::try_from(offset) else { return Ok(0) };
        let Some(rest) = self.0.get(start..) else { return Ok(0) };
        let count = rest.len().min(buf.len());
        buf.write_at(0, &rest[..count])?;
        Ok(count)
    }

    fn write(&self, _: u64, _: UserBuf<'_>) -> KResult<usize> {
        Err(Errno::EROFS)
    }

    fn seek_policy(&self) -> SeekPolicy {
        SeekPolicy::Regular { size: self.0.len() as u64 }
    }
}

//! A small VFS: one tree of directories, device nodes and procfs files; open files with
//! offsets and flags; a file-descriptor table per context, which carries credentials.
//! Every operation returns `KResult` with a Linux errno.
//!
//! Layer rules: drivers (`dev`) and procfs are reached only through `FileOps`; callers
//! (the shell, tests) only through [`Context`].

mod context;
pub mod inode;
pub mod ops;
pub mod procfs;
pub mod ramfs;
pub mod tmpfs;
pub mod userbuf;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use spin::Once;
use vfs_core::cred::Credentials;
use vfs_core::devnum::MEM_NODES;
use vfs_core::path;
use vfs_core::perm::{Access, check_permission};

pub use context::{Context, Fd, MAX_FDS};
pub use inode::Stat;
use inode::{Inode, InodeKind, Owner};
pub use userbuf::UserBuf;

static ROOT: Once<Arc<Inode>> = Once::new();

/// The character-device drivers, by major number: drivers register themselves
/// ([`register_driver`]), so the VFS names none of them.
static DRIVERS: spin::Mutex<alloc::collections::BTreeMap<u32, &'static dyn ops::CharDriver>> =
    spin::Mutex::new(alloc::collections::BTreeMap::new());

/// Makes `driver` the one that opens nodes of `major` (at boot, by the driver's module).
pub fn register_driver(major: u32, driver: &'static dyn ops::CharDriver) {
    DRIVERS.lock().insert(major, driver);
}

/// Adds the character-device node `path` (under /dev, e.g. `/dev/cpu/0/msr`) with
/// `dev`, owned by root with mode `perm`, making the directories on the way (root's,
/// 0755). For drivers at boot, after [`init`]; the node behaves as one `mknod` makes.
pub fn add_device_node(path: &str, dev: vfs_core::devnum::DevNum, perm: u32) {
    let owner = Owner { uid: 0, gid: 0, perm: perm & 0o7777 };
    let relative = path.strip_prefix("/dev/").unwrap_or(path);
    add_under("/dev", relative, Inode::new(InodeKind::CharDevice(dev), owner, false), || {
        Inode::directory(ROOT_DIR, false)
    });
}

/// Adds `node` at `relative` below the directory `top`, making the missing directories
/// on the way with `new_dir` (boot-time registration: device nodes, /proc files).
fn add_under(top: &str, relative: &str, node: Arc<Inode>, new_dir: impl Fn() -> Arc<Inode>) {
    let Ok(mut dir) = lookup(top, &Credentials::ROOT) else { return };
    let mut names = relative.split('/').filter(|n| !n.is_empty()).peekable();
    while let Some(name) = names.next() {
        if names.peek().is_none() {
            insert(&dir, name, node);
            return;
        }
        let existing = match &dir.kind {
            InodeKind::Directory(entries) => entries.lock().get(name).cloned(),
            _ => return,
        };
        dir = match existing {
            Some(sub) => sub,
            None => {
                let sub = new_dir();
                insert(&dir, name, sub.clone());
                sub
            }
        };
    }
}

/// The driver registered for `major`; opening a node without one is ENXIO.
fn driver(major: u32) -> Option<&'static dyn ops::CharDriver> {
    DRIVERS.lock().get(&major).copied()
}

const ROOT_DIR: Owner = Owner { uid: 0, gid: 0, perm: 0o755 };

/// Builds the tree: `/dev` with the nodes of docs/devices.md, `/proc`, `/tmp`.
pub fn init() {
    ROOT.call_once(|| {
        let root = Inode::directory(ROOT_DIR, false);
        let dev = Inode::directory(ROOT_DIR, false);
        for node in MEM_NODES.iter().chain(vfs_core::devnum::TTY_NODES) {
            let owner = Owner { uid: node.uid, gid: node.gid, perm: node.mode };
            insert(&dev, node.name, Inode::new(InodeKind::CharDevice(node.dev), owner, false));
        }
        insert(&root, "dev", dev);
        insert(&root, "proc", procfs::build());
        insert(&root, "tmp", Inode::directory(Owner { uid: 0, gid: 0, perm: 0o1777 }, false));
        root
    });
}

fn root() -> &'static Arc<Inode> {
    ROOT.get().expect("vfs::init has built the tree")
}

/// Adds `child` to directory `dir` as `name` (at build time: names are unique).
fn insert(dir: &Arc<Inode>, name: &str, child: Arc<Inode>) {
    if let InodeKind::Directory(entries) = &dir.kind {
        entries.lock().insert(name.to_string(), child);
    }
}

/// Checks `access` to `inode` for `cred` by its mode bits.
fn permitted(inode: &Inode, cred: &Credentials, access: Access) -> KResult<()> {
    let owner = *inode.owner.lock();
    // With the file type: root may search any directory, whatever its x bits.
    check_permission(inode.type_bits() | owner.perm, owner.uid, owner.gid, cred, access)
}

/// Walks `components` from the root; every directory passed through needs search (x)
/// permission.
fn walk(components: &[&str], cred: &Credentials) -> KResult<Arc<Inode>> {
    let mut node = root().clone();
    for name in components {
        if !node.is_directory() {
            return Err(Errno::ENOTDIR);
        }
        permitted(&node, cred, Access { execute: true, ..Access::default() })?;
        node = node.child(name).ok_or(Errno::ENOENT)?;
    }
    Ok(node)
}

/// The inode at `path`.
pub fn lookup(path: &str, cred: &Credentials) -> KResult<Arc<Inode>> {
    walk(&path::normalize(path)?, cred)
}

/// The directory that holds (or would hold) the last component of `path`, and that
/// component.
fn lookup_parent<'p>(path: &'p str, cred: &Credentials) -> KResult<(Arc<Inode>, &'p str)> {
    let (parent, name) = path::split_parent(path)?;
    let dir = walk(&parent, cred)?;
    if !dir.is_directory() {
        return Err(Errno::ENOTDIR);
    }
    Ok((dir, name))
}

/// A directory's entries with their status, sorted by name.
fn list(dir: &Inode) -> Vec<(alloc::string::String, Stat)> {
    match &dir.kind {
        InodeKind::Directory(entries) => {
            entries.lock().iter().map(|(name, child)| (name.clone(), child.stat())).collect()
        }
        _ => Vec::new(),
    }
}

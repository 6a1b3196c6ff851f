//! Discretionary access control (POSIX "File Access Permissions"; Linux `fs/namei.c`
//! `acl_permission_check` and `generic_permission`) and who may chmod or chown a file (Linux
//! `fs/attr.c` `chown_ok`, `chgrp_ok`, `inode_owner_or_capable`). uid 0 holds every capability.

use crate::cred::{Credentials, Gid, Uid};
use crate::mode::{FileType, S_IALLUGO, S_ISGID, file_type};
use errno::Errno;

/// The accesses a caller asks for (Linux's `MAY_READ`, `MAY_WRITE`, `MAY_EXEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Access {
    /// Read (for a directory: list).
    pub read: bool,
    /// Write (for a directory: create and remove entries).
    pub write: bool,
    /// Execute (for a directory: search).
    pub execute: bool,
}

impl Access {
    /// Read only.
    pub const READ: Access = Access { read: true, write: false, execute: false };
    /// Write only.
    pub const WRITE: Access = Access { read: false, write: true, execute: false };
    /// Read and write.
    pub const READ_WRITE: Access = Access { read: true, write: true, execute: false };
    /// Execute (search) only.
    pub const EXECUTE: Access = Access { read: false, write: false, execute: true };

    /// As the three bits r=4, w=2, x=1 of one class of a mode.
    pub const fn bits(self) -> u32 {
        let read = if self.read { 4 } else { 0 };
        let write = if self.write { 2 } else { 0 };
        let execute = if self.execute { 1 } else { 0 };
        read | write | execute
    }
}

/// EACCES unless the mode's user bits (owner), else group bits (file group is the primary gid or a supplementary group), else other bits grant every requested access. uid 0 always gets read and write, and execute when any x bit is set.
///
/// Only one class is consulted, as in Linux: an owner with mode 0o070 is refused even if the
/// group bits would allow. Root is checked after the class, like `capable(CAP_DAC_OVERRIDE)` in
/// `generic_permission`; as there, root may always search a directory (when `mode` says
/// `S_IFDIR`), whatever its x bits.
pub fn check_permission(
    mode: u32,
    owner: Uid,
    group: Gid,
    cred: &Credentials,
    access: Access,
) -> Result<(), Errno> {
    let class = if cred.uid() == owner {
        mode >> 6
    } else if cred.in_group(group) {
        mode >> 3
    } else {
        mode
    };
    if access.bits() & !class & 0o7 == 0 {
        return Ok(());
    }
    let any_exec = mode & 0o111 != 0 || file_type(mode) == FileType::Directory;
    if cred.is_root() && (!access.execute || any_exec) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// chmod: root or the owner, else EPERM.
pub fn may_chmod(cred: &Credentials, owner: Uid) -> Result<(), Errno> {
    if cred.is_root() || cred.uid() == owner { Ok(()) } else { Err(Errno::EPERM) }
}

/// The mode chmod stores: `requested`'s low 12 bits, minus setgid when a non-root caller is not in the file's group (Linux `setattr_prepare`/`setattr_copy`).
pub fn chmod_mode(cred: &Credentials, group: Gid, requested: u32) -> u32 {
    let mode = requested & S_IALLUGO;
    if cred.is_root() || cred.in_group(group) { mode } else { mode & !S_ISGID }
}

/// chown: changing the owner needs root (EPERM); changing the group needs root, or the owner changing to a group they are in (EPERM otherwise); "no change" (None, or same value) is always allowed to root and to the owner, else EPERM.
///
/// Differs from Linux in one case: `chown(path, -1, -1)` by someone who does not own the file
/// is EPERM here (FreeBSD's `VADMIN` check), where Linux changes nothing and succeeds.
pub fn may_chown(
    cred: &Credentials,
    owner: Uid,
    group: Gid,
    new_owner: Option<Uid>,
    new_group: Option<Gid>,
) -> Result<(), Errno> {
    if cred.is_root() {
        return Ok(());
    }
    if cred.uid() != owner {
        return Err(Errno::EPERM);
    }
    if new_owner.is_some_and(|uid| uid != owner) {
        return Err(Errno::EPERM);
    }
    if new_group.is_some_and(|gid| gid != group && !cred.in_group(gid)) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cred::{Credentials, KMEM_GID, user_by_name};
    use crate::mode::{S_IFCHR, S_IFDIR, S_IFREG};
    use proptest::prelude::*;

    fn user(name: &str) -> Credentials {
        user_by_name(name).map(|u| u.credentials()).unwrap_or(Credentials::new(9999, 9999, &[]))
    }

    #[test]
    fn dev_mem_table_of_part_0() {
        let (root, operator, nobody) = (Credentials::ROOT, user("operator"), user("nobody"));
        let mem = S_IFCHR | 0o660;
        assert_eq!(check_permission(mem, 0, KMEM_GID, &operator, Access::READ_WRITE), Ok(()));
        assert_eq!(check_permission(mem, 0, KMEM_GID, &nobody, Access::READ), Err(Errno::EACCES));
        let kmem = S_IFCHR | 0o640;
        assert_eq!(check_permission(kmem, 0, KMEM_GID, &operator, Access::READ), Ok(()));
        assert_eq!(check_permission(kmem, 0, KMEM_GID, &operator, Access::WRITE), Err(Errno::EACCES));
        let allkmem = S_IFCHR | 0o600;
        assert_eq!(check_permission(allkmem, 0, 0, &operator, Access::READ), Err(Errno::EACCES));
        assert_eq!(check_permission(allkmem, 0, 0, &root, Access::READ_WRITE), Ok(()));
        assert_eq!(check_permission(S_IFCHR, 0, 0, &root, Access::READ_WRITE), Ok(()));
        assert_eq!(check_permission(S_IFCHR | 0o666, 0, 0, &nobody, Access::READ_WRITE), Ok(()));
    }

    #[test]
    fn only_the_first_matching_class_counts() {
        let operator = user("operator");
        assert_eq!(check_permission(0o077, 1000, 1000, &operator, Access::READ), Err(Errno::EACCES));
        assert_eq!(check_permission(0o707, 0, KMEM_GID, &operator, Access::READ), Err(Errno::EACCES));
        assert_eq!(check_permission(0o070, 0, 1, &operator, Access::READ), Err(Errno::EACCES));
        assert_eq!(check_permission(0o007, 0, 1, &operator, Access::READ), Ok(()));
        assert_eq!(check_permission(0o000, 0, 0, &operator, Access::default()), Ok(()));
    }

    #[test]
    fn root_execute_needs_an_x_bit_except_on_directories() {
        let root = Credentials::ROOT;
        assert_eq!(check_permission(S_IFREG | 0o644, 0, 0, &root, Access::EXECUTE), Err(Errno::EACCES));
        assert_eq!(check_permission(S_IFREG | 0o601, 5, 5, &root, Access::EXECUTE), Ok(()));
        assert_eq!(check_permission(S_IFREG | 0o010, 5, 5, &root, Access::EXECUTE), Ok(()));
        assert_eq!(check_permission(S_IFDIR, 5, 5, &root, Access::EXECUTE), Ok(()));
        assert_eq!(
            check_permission(S_IFDIR | 0o700, 0, 0, &user("operator"), Access::EXECUTE),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn chmod_and_chown_rules() {
        let (root, operator) = (Credentials::ROOT, user("operator"));
        assert_eq!(may_chmod(&root, 1000), Ok(()));
        assert_eq!(may_chmod(&operator, 1000), Ok(()));
        assert_eq!(may_chmod(&operator, 0), Err(Errno::EPERM));
        assert_eq!(chmod_mode(&operator, 0, 0o2755), 0o755);
        assert_eq!(chmod_mode(&operator, KMEM_GID, 0o2755), 0o2755);
        assert_eq!(chmod_mode(&root, 77, S_IFCHR | 0o6755), 0o6755);
        assert_eq!(may_chown(&root, 1000, 1000, Some(0), Some(0)), Ok(()));
        assert_eq!(may_chown(&operator, 1000, 1000, Some(0), None), Err(Errno::EPERM));
        assert_eq!(may_chown(&operator, 1000, 1000, Some(1000), Some(KMEM_GID)), Ok(()));
        assert_eq!(may_chown(&operator, 1000, 1000, None, Some(0)), Err(Errno::EPERM));
        assert_eq!(may_chown(&operator, 0, KMEM_GID, None, None), Err(Errno::EPERM));
        assert_eq!(may_chown(&operator, 0, KMEM_GID, None, Some(KMEM_GID)), Err(Errno::EPERM));
        assert_eq!(may_chown(&operator, 1000, 7, None, Some(7)), Ok(()));
    }

    proptest! {
        #[test]
        fn permission_matches_a_per_bit_oracle(
            mode in 0u32..0o200000, owner in 0u32..4, group in 0u32..4,
            uid in 0u32..4, gid in 0u32..4, extra in 0u32..4,
            read: bool, write: bool, execute: bool,
        ) {
            let cred = Credentials::new(uid, gid, &[extra]);
            let access = Access { read, write, execute };
            let (r, w, x) = if uid == owner {
                (0o400, 0o200, 0o100)
            } else if gid == group || extra == group {
                (0o040, 0o020, 0o010)
            } else {
                (0o004, 0o002, 0o001)
            };
            let dac = (!read || mode & r != 0) && (!write || mode & w != 0) && (!execute || mode & x != 0);
            let is_dir = mode & 0o170000 == S_IFDIR;
            let root = uid == 0 && (!execute || mode & 0o111 != 0 || is_dir);
            let expected = if dac || root { Ok(()) } else { Err(Errno::EACCES) };
            prop_assert_eq!(check_permission(mode, owner, group, &cred, access), expected);
        }

        #[test]
        fn chown_matches_posix_oracle(
            owner in 0u32..3, group in 0u32..3, uid in 0u32..3, gid in 0u32..3,
            new_owner in proptest::option::of(0u32..3), new_group in proptest::option::of(0u32..3),
        ) {
            let cred = Credentials::new(uid, gid, &[]);
            let uid_ok = new_owner.unwrap_or(owner) == owner;
            let gid_ok = new_group.is_none_or(|g| g == group || g == gid);
            let allowed = uid == 0 || (uid == owner && uid_ok && gid_ok);
            let expected = if allowed { Ok(()) } else { Err(Errno::EPERM) };
            prop_assert_eq!(may_chown(&cred, owner, group, new_owner, new_group), expected);
            prop_assert_eq!(may_chmod(&cred, owner).is_ok(), uid == 0 || uid == owner);
        }
    }
}

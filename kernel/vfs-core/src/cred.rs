//! Who a process is: user, group and supplementary groups (Linux `include/linux/cred.h`,
//! POSIX "Process Credentials"), and the fixed user and group databases of docs/devices.md ("Opening") and the
//! devmem spec (root, operator in group kmem, nobody).

/// A user ID (`uid_t`).
pub type Uid = u32;
/// A group ID (`gid_t`).
pub type Gid = u32;

/// How many supplementary groups a process keeps (Linux has `NGROUPS_MAX` 65536; 16 is enough here).
pub const MAX_GROUPS: usize = 16;

/// The credentials of a process: one ID serves as real, effective and filesystem ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    uid: Uid,
    gid: Gid,
    groups: [Gid; MAX_GROUPS],
    count: usize,
}

impl Credentials {
    /// Credentials for `uid`, `gid` and the supplementary `groups`; those beyond `MAX_GROUPS` are dropped.
    pub const fn new(uid: Uid, gid: Gid, groups: &[Gid]) -> Self {
        let mut kept = [0; MAX_GROUPS];
        let mut count = 0;
        while count < groups.len() && count < MAX_GROUPS {
            kept[count] = groups[count];
            count += 1;
        }
        Self { uid, gid, groups: kept, count }
    }

    /// The user ID.
    pub const fn uid(&self) -> Uid {
        self.uid
    }

    /// The primary group ID.
    pub const fn gid(&self) -> Gid {
        self.gid
    }

    /// The supplementary groups, in the order given (what `getgroups(2)` returns).
    pub fn groups(&self) -> &[Gid] {
        &self.groups[..self.count]
    }

    /// Whether `gid` is the primary group or a supplementary one (Linux `in_group_p`, kernel/groups.c).
    pub fn in_group(&self, gid: Gid) -> bool {
        gid == self.gid || self.groups().contains(&gid)
    }

    /// Whether this is the superuser (uid 0), which stands for every capability here.
    pub const fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// The superuser: uid 0, gid 0, groups [0].
    pub const ROOT: Credentials = Credentials::new(0, 0, &[0]);
}

/// An entry of the user database (`struct passwd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    /// The login name.
    pub name: &'static str,
    /// The user ID.
    pub uid: Uid,
    /// The primary group ID.
    pub gid: Gid,
    /// The supplementary groups (as `/etc/group` would list them).
    pub groups: &'static [Gid],
}

impl User {
    /// The credentials a process of this user runs with.
    pub const fn credentials(&self) -> Credentials {
        Credentials::new(self.uid, self.gid, self.groups)
    }
}

/// An entry of the group database (`struct group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// The group name.
    pub name: &'static str,
    /// The group ID.
    pub gid: Gid,
}

/// The kmem group, which may read /dev/mem and /dev/kmem (docs/devices.md; gid 15 as in Debian's base-passwd).
pub const KMEM_GID: Gid = 15;

/// The user database of docs/devices.md ("Opening").
pub const USERS: &[User] = &[
    User { name: "root", uid: 0, gid: 0, groups: &[0] },
    User { name: "operator", uid: 1000, gid: 1000, groups: &[1000, KMEM_GID] },
    User { name: "nobody", uid: 65534, gid: 65534, groups: &[65534] },
];

/// The group database of docs/devices.md ("Opening").
pub const GROUPS: &[Group] = &[
    Group { name: "root", gid: 0 },
    Group { name: "kmem", gid: KMEM_GID },
    Group { name: "operator", gid: 1000 },
    Group { name: "nobody", gid: 65534 },
];

/// The user called `name` (`getpwnam`).
pub fn user_by_name(name: &str) -> Option<&'static User> {
    USERS.iter().find(|user| user.name == name)
}

/// The user with ID `uid` (`getpwuid`).
pub fn user_by_uid(uid: Uid) -> Option<&'static User> {
    USERS.iter().find(|user| user.uid == uid)
}

/// The group called `name` (`getgrnam`).
pub fn group_by_name(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|group| group.name == name)
}

/// The group with ID `gid` (`getgrgid`).
pub fn group_by_gid(gid: Gid) -> Option<&'static Group> {
    GROUPS.iter().find(|group| group.gid == gid)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn root_is_uid_zero_in_group_zero() {
        assert!(Credentials::ROOT.is_root());
        assert_eq!(Credentials::ROOT.groups(), &[0]);
        assert!(Credentials::ROOT.in_group(0));
        assert!(!Credentials::ROOT.in_group(KMEM_GID));
        assert_eq!(user_by_name("root").map(User::credentials), Some(Credentials::ROOT));
    }

    #[test]
    fn operator_is_in_kmem_and_not_root() {
        let operator = user_by_name("operator").map(User::credentials).expect("operator exists");
        assert!(!operator.is_root());
        assert_eq!((operator.uid(), operator.gid()), (1000, 1000));
        assert!(operator.in_group(KMEM_GID));
        assert!(operator.in_group(1000));
        assert!(!operator.in_group(0));
        assert_eq!(group_by_gid(KMEM_GID).map(|g| g.name), Some("kmem"));
    }

    #[test]
    fn nobody_is_in_no_privileged_group() {
        let nobody = user_by_uid(65534).expect("nobody exists").credentials();
        assert_eq!(user_by_uid(65534).map(|u| u.name), Some("nobody"));
        assert!(!nobody.in_group(KMEM_GID) && !nobody.in_group(0) && nobody.in_group(65534));
    }

    #[test]
    fn lookups_miss_cleanly() {
        assert_eq!(user_by_name(""), None);
        assert_eq!(user_by_name("Root"), None);
        assert_eq!(user_by_uid(1), None);
        assert_eq!(group_by_name("wheel"), None);
        assert_eq!(group_by_gid(1001), None);
        assert_eq!(group_by_name("kmem").map(|g| g.gid), Some(15));
    }

    #[test]
    fn databases_are_consistent() {
        for user in USERS {
            assert_eq!(user_by_uid(user.uid), Some(user), "{} has a unique uid", user.name);
            assert_eq!(user_by_name(user.name), Some(user));
            assert!(group_by_gid(user.gid).is_some(), "{}'s primary group exists", user.name);
            assert!(user.groups.iter().all(|&g| group_by_gid(g).is_some()));
        }
        for group in GROUPS {
            assert_eq!(group_by_gid(group.gid), Some(group));
            assert_eq!(group_by_name(group.name), Some(group));
        }
    }

    #[test]
    fn extra_groups_are_dropped() {
        let many: Vec<Gid> = (100..130).collect();
        let cred = Credentials::new(5, 6, &many);
        assert_eq!(cred.groups(), &many[..MAX_GROUPS]);
        assert!(cred.in_group(100 + MAX_GROUPS as Gid - 1));
        assert!(!cred.in_group(100 + MAX_GROUPS as Gid));
        assert!(Credentials::new(1, 2, &[]).groups().is_empty());
    }

    proptest! {
        #[test]
        fn in_group_matches_a_linear_oracle(
            uid: Uid,
            gid in 0u32..40,
            groups in proptest::collection::vec(0u32..40, 0..24),
            probe in 0u32..40,
        ) {
            let cred = Credentials::new(uid, gid, &groups);
            let kept = &groups[..groups.len().min(MAX_GROUPS)];
            prop_assert_eq!(cred.groups(), kept);
            prop_assert_eq!(cred.in_group(probe), probe == gid || kept.contains(&probe));
            prop_assert_eq!(cred.is_root(), uid == 0);
            prop_assert_eq!(cred, Credentials::new(uid, gid, kept));
        }
    }
}

//! Users and groups as `id`, `chown` and `runas` show and read them (coreutils `src/id.c`,
//! gnulib `lib/userspec.c` `parse_user_spec`), over vfs-core's fixed databases.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt::Write;

use vfs_core::cred::{Credentials, Gid, Uid, group_by_gid, group_by_name, user_by_name, user_by_uid};

/// The name of `uid`, or the number when no user has it (coreutils `src/id.c` `uidtostr`).
pub fn user_name(uid: Uid) -> String {
    user_by_uid(uid).map_or_else(|| uid.to_string(), |user| user.name.to_string())
}

/// The name of `gid`, or the number when no group has it (coreutils `src/id.c` `gidtostr`).
pub fn group_name(gid: Gid) -> String {
    group_by_gid(gid).map_or_else(|| gid.to_string(), |group| group.name.to_string())
}

/// `N(name)`, or `N` alone when the database has no name for it (coreutils `src/id.c` `print_full_info`).
fn id_with_name(out: &mut String, id: u32, name: Option<&str>) {
    // Writing into a String cannot fail.
    let _ = match name {
        Some(name) => write!(out, "{id}({name})"),
        None => write!(out, "{id}"),
    };
}

/// `uid=N(name) gid=N(name) groups=N(name),...`: primary group first, then the others (coreutils `src/id.c` `print_full_info`).
pub fn id_line(cred: &Credentials) -> String {
    let mut out = String::from("uid=");
    id_with_name(&mut out, cred.uid(), user_by_uid(cred.uid()).map(|u| u.name));
    out.push_str(" gid=");
    id_with_name(&mut out, cred.gid(), group_by_gid(cred.gid()).map(|g| g.name));
    out.push_str(" groups=");
    id_with_name(&mut out, cred.gid(), group_by_gid(cred.gid()).map(|g| g.name));
    for &gid in cred.groups().iter().filter(|&&gid| gid != cred.gid()) {
        out.push(',');
        id_with_name(&mut out, gid, group_by_gid(gid).map(|g| g.name));
    }
    out
}

/// A decimal ID as chown reads one: digits only, not `(uid_t) -1` (gnulib `lib/userspec.c` with `xstrtoul` base 10).
fn parse_id(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|&id| id != u32::MAX)
}

/// A user name, or a number for any uid; `+N` is always a number (gnulib `lib/userspec.c` `parse_with_separator`).
fn lookup_uid(text: &str) -> Option<Uid> {
    if text.starts_with('+') {
        return parse_id(text);
    }
    user_by_name(text).map(|user| user.uid).or_else(|| parse_id(text))
}

/// A group name, or a number for any gid; `+N` is always a number (gnulib `lib/userspec.c` `parse_with_separator`).
fn lookup_gid(text: &str) -> Option<Gid> {
    if text.starts_with('+') {
        return parse_id(text);
    }
    group_by_name(text).map(|group| group.gid).or_else(|| parse_id(text))
}

/// chown's `OWNER[:GROUP]`, `OWNER:` and `:GROUP`; `None` leaves that ID alone (gnulib `lib/userspec.c` `parse_user_spec`).
///
/// Errors quote the whole spec as coreutils does: `invalid user: 'x:y'`, `invalid group:
/// 'x:y'`, `invalid spec: ''`. Unlike coreutils, `OWNER:` does not also set OWNER's login group.
pub fn parse_owner(spec: &str) -> Result<(Option<Uid>, Option<Gid>), String> {
    if spec.is_empty() {
        return Err(String::from("invalid spec: ''"));
    }
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, group),
        None => (spec, ""),
    };
    let uid = match user {
        "" => None,
        name => Some(lookup_uid(name).ok_or_else(|| format!("invalid user: '{spec}'"))?),
    };
    let gid = match group {
        "" => None,
        name => Some(lookup_gid(name).ok_or_else(|| format!("invalid group: '{spec}'"))?),
    };
    Ok((uid, gid))
}

/// The credentials of a known user given by name or decimal uid, for runas (sudo `-u`: `#uid` or name, via `getpwnam`/`getpwuid`).
pub fn resolve_user(name_or_uid: &str) -> Option<Credentials> {
    let user = user_by_name(name_or_uid).or_else(|| parse_id(name_or_uid).and_then(user_by_uid))?;
    Some(user.credentials())
}

use alloc::string::ToString;
use proptest::prelude::*;
use vfs_core::cred::{Credentials, USERS};

use crate::users::{group_name, id_line, parse_owner, resolve_user, user_name};

#[test]
fn id_lines() {
    assert_eq!(id_line(&Credentials::ROOT), "uid=0(root) gid=0(root) groups=0(root)");
    let operator = resolve_user("operator").expect("operator exists");
    assert_eq!(id_line(&operator), "uid=1000(operator) gid=1000(operator) groups=1000(operator),15(kmem)");
    let nobody = resolve_user("nobody").expect("nobody exists");
    assert_eq!(id_line(&nobody), "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)");
    // Unknown IDs print bare; the primary group comes first even if missing from the list.
    assert_eq!(id_line(&Credentials::new(5, 7, &[15, 9])), "uid=5 gid=7 groups=7,15(kmem),9");
    assert_eq!(id_line(&Credentials::new(0, 15, &[])), "uid=0(root) gid=15(kmem) groups=15(kmem)");
    assert_eq!(
        id_line(&Credentials::new(1000, 1000, &[15, 1000])),
        "uid=1000(operator) gid=1000(operator) groups=1000(operator),15(kmem)"
    );
}

#[test]
fn names() {
    assert_eq!(user_name(0), "root");
    assert_eq!(user_name(1000), "operator");
    assert_eq!(user_name(42), "42");
    assert_eq!(group_name(15), "kmem");
    assert_eq!(group_name(65534), "nobody");
    assert_eq!(group_name(16), "16");
}

#[test]
fn owner_specs() {
    assert_eq!(parse_owner("root"), Ok((Some(0), None)));
    assert_eq!(parse_owner("operator:kmem"), Ok((Some(1000), Some(15))));
    assert_eq!(parse_owner("operator:"), Ok((Some(1000), None)));
    assert_eq!(parse_owner(":kmem"), Ok((None, Some(15))));
    assert_eq!(parse_owner(":"), Ok((None, None)));
    assert_eq!(parse_owner("1234:56"), Ok((Some(1234), Some(56))));
    assert_eq!(parse_owner("+0:+15"), Ok((Some(0), Some(15))));
    assert_eq!(parse_owner("0:root"), Ok((Some(0), Some(0))));
}

#[test]
fn owner_errors_quote_the_whole_spec() {
    assert_eq!(parse_owner(""), Err("invalid spec: ''".to_string()));
    assert_eq!(parse_owner("x"), Err("invalid user: 'x'".to_string()));
    assert_eq!(parse_owner("x:kmem"), Err("invalid user: 'x:kmem'".to_string()));
    assert_eq!(parse_owner("root:x"), Err("invalid group: 'root:x'".to_string()));
    assert_eq!(parse_owner(":x"), Err("invalid group: ':x'".to_string()));
    assert_eq!(parse_owner("root:kmem:x"), Err("invalid group: 'root:kmem:x'".to_string()));
    assert_eq!(parse_owner("-1"), Err("invalid user: '-1'".to_string()));
    assert_eq!(parse_owner("4294967295"), Err("invalid user: '4294967295'".to_string()));
    assert_eq!(parse_owner("4294967296"), Err("invalid user: '4294967296'".to_string()));
    assert_eq!(parse_owner("+root"), Err("invalid user: '+root'".to_string()));
    assert_eq!(parse_owner("0x10"), Err("invalid user: '0x10'".to_string()));
}

#[test]
fn runas_users() {
    assert_eq!(resolve_user("root"), Some(Credentials::ROOT));
    assert_eq!(resolve_user("0"), Some(Credentials::ROOT));
    let operator = resolve_user("1000").expect("uid 1000 is operator");
    assert_eq!((operator.uid(), operator.gid(), operator.groups()), (1000, 1000, &[1000, 15][..]));
    assert_eq!(resolve_user("1001"), None);
    assert_eq!(resolve_user("Root"), None);
    assert_eq!(resolve_user(""), None);
    assert_eq!(resolve_user("kmem"), None);
}

proptest! {
    #[test]
    fn parse_owner_never_panics(spec in ".{0,16}") {
        let _ = parse_owner(&spec);
        let _ = resolve_user(&spec);
    }

    #[test]
    fn numbers_read_back(uid in 0u32..u32::MAX, gid in 0u32..u32::MAX) {
        prop_assert_eq!(parse_owner(&alloc::format!("{uid}:{gid}")), Ok((Some(uid), Some(gid))));
        prop_assert_eq!(user_name(uid) == uid.to_string(), USERS.iter().all(|u| u.uid != uid));
    }
}

//! Lexical path handling (POSIX "Pathname Resolution", limits of Linux
//! `include/uapi/linux/limits.h`). There is no current directory yet: a relative path is
//! taken from "/". There are no symbolic links, so ".." can be resolved on the text.

use alloc::vec::Vec;
use errno::Errno;

/// Bytes in a path, its terminating NUL included (so at most 4095 bytes of text).
pub const PATH_MAX: usize = 4096;
/// Bytes in one component.
pub const NAME_MAX: usize = 255;

/// The checks that do not depend on the components' meaning, in Linux's order (`getname`, then the walk).
fn check(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() > PATH_MAX - 1 {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    if path.split('/').any(|name| name.len() > NAME_MAX) {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// The components of a path after removing empty and "." components and resolving ".." lexically (".." at the root stays at the root). Empty path: ENOENT. Longer than PATH_MAX-1 bytes: ENAMETOOLONG; a component longer than NAME_MAX: ENAMETOOLONG; a NUL byte: EINVAL.
///
/// "/" (or "/..", ".", "//") gives no components. Every component is checked for length,
/// including one that a later ".." removes, as a walk would look it up.
pub fn normalize(path: &str) -> Result<Vec<&str>, Errno> {
    check(path)?;
    let mut components = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            _ => components.push(name),
        }
    }
    Ok(components)
}

/// The parent's components and the final name, for creating or removing an entry. The final name must be a real name: a path that normalizes to "/" gives EEXIST; a final component "." or ".." gives EINVAL (check on the raw last component before normalizing).
///
/// Trailing slashes are ignored: "/dev/foo/" gives (["dev"], "foo").
pub fn split_parent(path: &str) -> Result<(Vec<&str>, &str), Errno> {
    check(path)?;
    match path.split('/').rfind(|name| !name.is_empty()) {
        None => Err(Errno::EEXIST),
        Some("." | "..") => Err(Errno::EINVAL),
        Some(_) => {
            let mut components = normalize(path)?;
            // The raw last component is a real name, so normalizing keeps it last.
            let name = components.pop().ok_or(Errno::EEXIST)?;
            Ok((components, name))
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::vec;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;

    #[test]
    fn ordinary_paths() {
        assert_eq!(normalize("/dev/mem"), Ok(vec!["dev", "mem"]));
        assert_eq!(normalize("dev//./mem/"), Ok(vec!["dev", "mem"]));
        assert_eq!(normalize("/"), Ok(vec![]));
        assert_eq!(normalize("."), Ok(vec![]));
        assert_eq!(normalize("/../../dev/../proc/./iomem"), Ok(vec!["proc", "iomem"]));
        assert_eq!(normalize("/a/b/../../.."), Ok(vec![]));
        assert_eq!(normalize("/a/.../b"), Ok(vec!["a", "...", "b"]));
        assert_eq!(normalize("/a/..b/.c"), Ok(vec!["a", "..b", ".c"]));
    }

    #[test]
    fn errors() {
        assert_eq!(normalize(""), Err(Errno::ENOENT));
        assert_eq!(normalize("/dev/m\0em"), Err(Errno::EINVAL));
        let name = "x".repeat(NAME_MAX);
        assert_eq!(normalize(&format!("/{name}")), Ok(vec![name.as_str()]));
        assert_eq!(normalize(&format!("/{name}y")), Err(Errno::ENAMETOOLONG));
        assert_eq!(normalize(&format!("/{name}y/..")), Err(Errno::ENAMETOOLONG));
        let longest = "/a".repeat((PATH_MAX - 1) / 2) + "/";
        assert_eq!(longest.len(), PATH_MAX - 1);
        assert_eq!(normalize(&longest).map(|c| c.len()), Ok((PATH_MAX - 1) / 2));
        assert_eq!(normalize(&(longest + "a")), Err(Errno::ENAMETOOLONG));
        assert_eq!(normalize(&("/".repeat(PATH_MAX) + "\0")), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn parents() {
        assert_eq!(split_parent("/dev/foo"), Ok((vec!["dev"], "foo")));
        assert_eq!(split_parent("foo"), Ok((vec![], "foo")));
        assert_eq!(split_parent("/dev/foo//"), Ok((vec!["dev"], "foo")));
        assert_eq!(split_parent("/a/b/../c"), Ok((vec!["a"], "c")));
        assert_eq!(split_parent("/../x"), Ok((vec![], "x")));
        for root in ["/", "//", "///"] {
            assert_eq!(split_parent(root), Err(Errno::EEXIST), "{root:?}");
        }
        for dots in [".", "..", "/a/.", "/a/..", "/a/../", "/a/./", "./"] {
            assert_eq!(split_parent(dots), Err(Errno::EINVAL), "{dots:?}");
        }
        assert_eq!(split_parent(""), Err(Errno::ENOENT));
        assert_eq!(split_parent("/a\0/b"), Err(Errno::EINVAL));
    }

    /// A different algorithm: rewrite the text until nothing changes, then split.
    fn oracle(path: &str) -> Vec<String> {
        let mut text = format!("/{path}/");
        loop {
            if text.contains("//") {
                text = text.replace("//", "/");
            } else if text.contains("/./") {
                text = text.replace("/./", "/");
            } else if let Some(rest) = text.strip_prefix("/../") {
                text = format!("/{rest}");
            } else if let Some(at) = text.find("/../") {
                // No "//", "/./" or leading "/../" is left, so a real name precedes.
                let start = text[..at].rfind('/').unwrap_or(0);
                text = format!("{}{}", &text[..start], &text[at + 3..]);
            } else {
                return text.split('/').filter(|c| !c.is_empty()).map(String::from).collect();
            }
        }
    }

    fn component() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), Just(".".into()), Just("..".into()), "[a-c.]{1,3}"]
    }

    proptest! {
        #[test]
        fn normalize_matches_rewriting_oracle(
            absolute: bool,
            parts in proptest::collection::vec(component(), 1..10),
        ) {
            let path = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
            prop_assume!(!path.is_empty());
            let components = normalize(&path).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(components, oracle(&path));
        }

        #[test]
        fn normalize_never_panics_and_is_idempotent(path in "\\PC{0,40}|[/.a\\x00]{0,40}") {
            if let Ok(components) = normalize(&path) {
                prop_assert!(components.iter().all(|c| !c.is_empty() && *c != "." && *c != ".."));
                prop_assert!(components.iter().all(|c| !c.contains('/') && c.len() <= NAME_MAX));
                let again = format!("/{}", components.join("/"));
                prop_assert_eq!(normalize(&again), Ok(components));
            }
        }

        #[test]
        fn split_parent_never_panics_and_agrees(path in "\\PC{0,40}|[/.a\\x00]{0,40}") {
            match split_parent(&path) {
                Ok((mut parent, name)) => {
                    prop_assert!(name != "." && name != ".." && !name.is_empty());
                    parent.push(name);
                    prop_assert_eq!(Ok(parent), normalize(&path));
                }
                Err(Errno::EEXIST) => prop_assert!(!path.is_empty() && path.bytes().all(|b| b == b'/')),
                Err(Errno::EINVAL) => prop_assert!(path.contains('\0') || normalize(&path).is_ok()),
                Err(other) => prop_assert_eq!(normalize(&path), Err(other)),
            }
        }
    }
}

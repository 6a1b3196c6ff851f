//! A cpio archive in the "newc" format (what Linux unpacks as an initramfs, and what the
//! kernel reads its ramdisk from): a 110-byte ASCII header per member (magic 070701 and
//! 13 eight-digit hex fields), the NUL-terminated name padded to 4 bytes, the data padded
//! to 4 bytes; `TRAILER!!!` ends it.

/// An archive being written: directories, regular files and symbolic links.
#[derive(Default)]
pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
}

impl Archive {
    /// A member with `mode` (file type and permission bits) and `data`.
    pub fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.next_inode += 1;
        let name_size = name.len() + 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.next_inode,
            mode,
            0, // uid
            0, // gid
            1, // links
            0, // mtime
            data.len(),
            0,
            0,
            0,
            0,
            name_size,
            0, // check
        );
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
    }

    pub fn dir(&mut self, name: &str, permissions: u32) {
        self.entry(name, 0o040000 | permissions, &[]);
    }

    pub fn file(&mut self, name: &str, permissions: u32, data: &[u8]) {
        self.entry(name, 0o100000 | permissions, data);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        while self.bytes.len() % 512 != 0 {
            self.bytes.push(0);
        }
        self.bytes
    }
}

/// /etc/passwd and /etc/group for this kernel's users and groups (vfs-core's tables, the
/// ones the kernel's own `id` and permission checks use), for the ramdisk and for the
/// Linux peer alike.
pub fn passwd_and_group() -> (String, String) {
    use vfs_core::cred::{GROUPS, USERS};
    let home = |name: &str| match name {
        "root" => "/root",
        "nobody" => "/nonexistent",
        _ => "/",
    };
    let passwd = USERS
        .iter()
        .map(|u| format!("{0}:x:{1}:{2}:{0}:{3}:/bin/sh\n", u.name, u.uid, u.gid, home(u.name)))
        .collect();
    let group = GROUPS
        .iter()
        .map(|g| {
            // Members: the users that have it as a supplementary group only.
            let members: Vec<&str> = USERS
                .iter()
                .filter(|u| u.gid != g.gid && u.groups.contains(&g.gid))
                .map(|u| u.name)
                .collect();
            format!("{}:x:{}:{}\n", g.name, g.gid, members.join(","))
        })
        .collect();
    (passwd, group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_headers_names_and_padding() {
        let mut archive = Archive::default();
        archive.file("init", 0o755, b"abc");
        let bytes = archive.finish();
        assert_eq!(&bytes[..6], b"070701");
        // Mode of the first entry: a regular file, 0755.
        assert_eq!(&bytes[14..22], b"000081ed");
        // File size (seventh field) and name size (twelfth, with the NUL).
        assert_eq!(&bytes[54..62], b"00000003");
        assert_eq!(&bytes[94..102], b"00000005");
        // Name right after the 110-byte header, then padding to 4, then the data.
        assert_eq!(&bytes[110..115], b"init\0");
        assert_eq!(&bytes[116..119], b"abc");
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn the_user_database_names_kmem_for_operator() {
        let (passwd, group) = passwd_and_group();
        assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"));
        assert!(passwd.contains("operator:x:1000:1000:operator:/:/bin/sh\n"));
        assert!(passwd.contains("nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"));
        assert_eq!(group, "root:x:0:\nkmem:x:15:operator\noperator:x:1000:\nnobody:x:65534:\n");
    }
}

//! Reading a cpio archive in the "newc" format (`cpio -H newc`, Linux's initramfs
//! format): each member is a 110-byte ASCII header (magic `070701`, then 13 fields of 8
//! hex digits), the NUL-terminated name padded to a multiple of 4, the data padded to a
//! multiple of 4. The member named `TRAILER!!!` ends the archive.

use errno::{Errno, KResult};

/// One member of the archive, borrowing its name and data from the archive's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// The path as stored, without a leading `./` or `/`.
    pub name: &'a str,
    /// st_mode: file type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub data: &'a [u8],
}

const MAGIC: &[u8] = b"070701";
const HEADER: usize = 110;
const TRAILER: &str = "TRAILER!!!";

fn hex_field(header: &[u8], index: usize) -> KResult<u32> {
    let start = MAGIC.len() + 8 * index;
    let digits = header.get(start..start + 8).ok_or(Errno::EINVAL)?;
    let text = core::str::from_utf8(digits).map_err(|_| Errno::EINVAL)?;
    u32::from_str_radix(text, 16).map_err(|_| Errno::EINVAL)
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The members of `archive`, in order, up to the trailer. EINVAL for a malformed
/// archive (bad magic, a field that is not hex, a size past the end).
pub fn members(archive: &[u8]) -> KResult<alloc::vec::Vec<Member<'_>>> {
    let mut members = alloc::vec::Vec::new();
    let mut at = 0usize;
    loop {
        let header = archive.get(at..at.checked_add(HEADER).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(Errno::EINVAL);
        }
        let mode = hex_field(header, 1)?;
        let uid = hex_field(header, 2)?;
        let gid = hex_field(header, 3)?;
        let size = hex_field(header, 6)? as usize;
        let name_size = hex_field(header, 11)? as usize;
        let name_start = at + HEADER;
        let name_bytes = archive.get(name_start..name_start + name_size).ok_or(Errno::EINVAL)?;
        let name_bytes = name_bytes.strip_suffix(&[0]).ok_or(Errno::EINVAL)?;
        let name = core::str::from_utf8(name_bytes).map_err(|_| Errno::EINVAL)?;
        let data_start = align4(name_start + name_size);
        let data_end = data_start.checked_add(size).ok_or(Errno::EINVAL)?;
        let data = archive.get(data_start..data_end).ok_or(Errno::EINVAL)?;
        if name == TRAILER {
            return Ok(members);
        }
        let name = name.trim_start_matches("./").trim_start_matches('/');
        if !name.is_empty() && name != "." {
            members.push(Member { name, mode, uid, gid, data });
        }
        at = align4(data_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn member(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
        let fields = [1, mode, 0, 15, 1, 0, data.len() as u32, 0, 0, 0, 0, name.len() as u32 + 1, 0];
        out.extend_from_slice(MAGIC);
        for field in fields {
            out.extend_from_slice(alloc::format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }

    #[test]
    fn members_come_back_with_their_modes_and_data() {
        let mut archive = Vec::new();
        member(&mut archive, "bin", 0o040755, b"");
        member(&mut archive, "./bin/busybox", 0o100755, b"\x7fELF12345");
        member(&mut archive, "etc/passwd", 0o100644, b"root:x:0:0\n");
        member(&mut archive, TRAILER, 0, b"");
        let found = members(&archive).unwrap();
        let names: Vec<String> = found.iter().map(|m| String::from(m.name)).collect();
        assert_eq!(names, ["bin", "bin/busybox", "etc/passwd"]);
        assert_eq!(found[1].mode, 0o100755);
        assert_eq!(found[1].gid, 15);
        assert_eq!(found[1].data, b"\x7fELF12345");
        assert_eq!(found[2].data, b"root:x:0:0\n");
    }

    #[test]
    fn truncated_or_foreign_archives_are_einval() {
        let mut archive = Vec::new();
        member(&mut archive, "x", 0o100644, b"abcdef");
        assert_eq!(members(&archive[..archive.len() - 4]), Err(Errno::EINVAL));
        assert_eq!(members(b"07070"), Err(Errno::EINVAL));
        let mut bad = archive.clone();
        bad[0] = b'1';
        assert_eq!(members(&bad), Err(Errno::EINVAL));
        // No trailer: running off the end is an error too.
        assert_eq!(members(&archive), Err(Errno::EINVAL));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_an_answer_not_a_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = members(&bytes);
        }
    }
}

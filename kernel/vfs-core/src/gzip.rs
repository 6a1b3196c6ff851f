//! The gzip container (RFC 1952) around a deflate stream: the header to skip and the
//! size the trailer announces. The ramdisk is gzip-compressed, as Linux's initramfs
//! usually is: the BIOS loader reads the disk slowly, so half the bytes is half the time.

use errno::{Errno, KResult};

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// Whether `bytes` start like a gzip file.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b, 8])
}

/// The raw deflate stream inside a gzip file, and the uncompressed size its trailer
/// gives (ISIZE). EINVAL for anything malformed.
pub fn deflate_stream(bytes: &[u8]) -> KResult<(&[u8], usize)> {
    if !is_gzip(bytes) || bytes.len() < 18 {
        return Err(Errno::EINVAL);
    }
    let flags = bytes[3];
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let len = usize::from(u16::from_le_bytes([
            *bytes.get(at).ok_or(Errno::EINVAL)?,
            *bytes.get(at + 1).ok_or(Errno::EINVAL)?,
        ]));
        at = at.checked_add(2 + len).ok_or(Errno::EINVAL)?;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end =
                bytes.get(at..).ok_or(Errno::EINVAL)?.iter().position(|&b| b == 0).ok_or(Errno::EINVAL)?;
            at += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let trailer = bytes.len() - 8;
    if at > trailer {
        return Err(Errno::EINVAL);
    }
    let size =
        u32::from_le_bytes([bytes[trailer + 4], bytes[trailer + 5], bytes[trailer + 6], bytes[trailer + 7]]);
    Ok((&bytes[at..trailer], size as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_skipped_and_the_size_read() {
        // gzip of "hi\n" with a file name ("a"), from `gzip -c`.
        let mut file = alloc::vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'a', 0];
        file.extend_from_slice(&[0xcb, 0xc8, 0xe4, 0x02, 0x00]);
        file.extend_from_slice(&[0x7a, 0x7a, 0x6f, 0xed, 3, 0, 0, 0]);
        let (stream, size) = deflate_stream(&file).unwrap();
        assert_eq!(stream, &[0xcb, 0xc8, 0xe4, 0x02, 0x00]);
        assert_eq!(size, 3);
    }

    #[test]
    fn not_gzip_or_cut_short_is_einval() {
        assert_eq!(deflate_stream(b"070701"), Err(Errno::EINVAL));
        assert_eq!(deflate_stream(&[0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'a', b'b']), Err(Errno::EINVAL));
        assert!(!is_gzip(b"07070"));
    }
}

//! A cpio archive in the "newc" format (what Linux unpacks as an initramfs).

/// An archive being written: directories, regular files and symbolic links.
#[derive(Default)]
pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
}

impl Archive {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
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
        // Name right after the 110-byte header, then padding to 4, then the data.
        assert_eq!(&bytes[110..115], b"init\0");
        assert_eq!(&bytes[116..119], b"abc");
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }
}

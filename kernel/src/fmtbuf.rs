//! Formatting without a heap: into a fixed buffer on the stack (panic messages, reports).

use core::fmt::{self, Write};

/// A formatting sink that keeps the first bytes written and drops the rest.
pub struct FixedBuf {
    bytes: [u8; 1024],
    len: usize,
}

impl Default for FixedBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl FixedBuf {
    pub const fn new() -> Self {
        Self { bytes: [0; 1024], len: 0 }
    }

    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.bytes[..self.len]) {
            Ok(text) => text,
            // Truncation may split a character: keep the valid prefix.
            Err(error) => core::str::from_utf8(&self.bytes[..error.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl Write for FixedBuf {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let take = text.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    fn fixed_buffer_truncates_on_a_character_boundary() {
        let mut buf = FixedBuf::new();
        for _ in 0..1023 {
            buf.write_str("a").unwrap();
        }
        buf.write_str("é and more").unwrap();
        assert_eq!(buf.as_str().len(), 1023, "the half-written 'é' is dropped");
        assert!(buf.as_str().bytes().all(|b| b == b'a'));
    }
}

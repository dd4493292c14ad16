//! A setting's value read from a file (`*_FILE`, `secret_file`, the key files),
//! never more than [`MAX_SETTING_FILE_BYTES`] of it.
//!
//! Every such file holds a secret, a URL or keys: a few KiB at most. A file
//! far larger is the wrong file (a log, a disk image, `/dev/zero` or
//! `/dev/urandom` named by mistake), and reading it whole would stall
//! start-up or exhaust memory before any check could say so. So at most one
//! byte more than the limit is read, and a file over the limit is a
//! configuration error naming the setting.

use std::io::Read;
use std::path::Path;

/// The largest file a setting is read from: 64 KiB. The largest value authd
/// takes from a file is `AUTHD__JWT__KEYS_FILE`, a JSON array of keys; an
/// RSA-4096 private key as PEM is about 3.3 KB, so even ten of them inline
/// fit twice over. Secrets, URLs and single PEM keys are far smaller.
pub const MAX_SETTING_FILE_BYTES: u64 = 64 * 1024;

/// The file's bytes, or an error if it cannot be read or is larger than
/// [`MAX_SETTING_FILE_BYTES`] (read no further than the byte that tells).
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    read_at_most(std::fs::File::open(path)?, MAX_SETTING_FILE_BYTES)
}

/// The file's text, without a trailing newline: how a setting's value is
/// kept in a file.
pub fn read_value(path: &Path) -> std::io::Result<String> {
    let text = String::from_utf8(read_bounded(path)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        )
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// At most `limit` bytes of `reader`; an error once there is one more.
fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is larger than {} KiB, the limit for a setting's file: is it the right file?",
                limit / 1024
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endless reader (like `/dev/zero`) that fails if asked for more than
    /// `allowed` bytes in all.
    struct Endless {
        read: u64,
        allowed: u64,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.read += buf.len() as u64;
            if self.read > self.allowed {
                return Err(std::io::Error::other("read past the limit"));
            }
            buf.fill(b'a');
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_file_is_refused_after_one_byte_past_the_limit() {
        let limit = 1024;
        let reader = Endless {
            read: 0,
            allowed: limit + 1,
        };
        let error = read_at_most(reader, limit).unwrap_err().to_string();
        assert!(error.contains("larger than 1 KiB"), "{error}");
    }

    #[test]
    fn a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        let limit = MAX_SETTING_FILE_BYTES as usize;
        std::fs::write(&path, vec![b'a'; limit]).unwrap();
        assert_eq!(read_bounded(&path).unwrap().len(), limit);
        std::fs::write(&path, vec![b'a'; limit + 1]).unwrap();
        let error = read_bounded(&path).unwrap_err().to_string();
        assert!(error.contains("larger than 64 KiB"), "{error}");
    }
}

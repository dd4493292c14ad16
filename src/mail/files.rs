//! The embedded default delivery: with no SMTP server configured, each
//! message is written as an `.eml` file under `data_dir/mail`, where a
//! developer opens it (any mail client reads `.eml`) and follows its link.
//! The files hold live links and codes: the directory is created 0700 and
//! each file 0600, and the cleanup sweep deletes them once they are older
//! than `email.retention_days` ([`Files::purge_older_than`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub struct Files {
    dir: PathBuf,
}

impl Files {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes the `.eml` files written for messages queued before `cutoff`
    /// (the time at the start of their name, the clock authd runs on), and
    /// returns how many. A missing directory has none; a file whose name is
    /// not authd's is left alone.
    pub async fn purge_older_than(&self, cutoff: DateTime<Utc>) -> std::io::Result<u64> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || purge_files(&dir, cutoff))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Writes message `id` as `<created>-<id>.eml`, whole or not at all (a
    /// temporary file renamed into place). Writing it again (a retry after a
    /// crash) replaces the same file, so it never appears twice.
    pub async fn write(
        &self,
        id: Uuid,
        created: DateTime<Utc>,
        message: String,
    ) -> std::io::Result<PathBuf> {
        let dir = self.dir.clone();
        let name = format!("{}-{}.eml", created.format("%Y%m%dT%H%M%SZ"), id.simple());
        tokio::task::spawn_blocking(move || write_file(&dir, &name, message.as_bytes()))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// The time at the start of a file name `write` made: `20261206T120000Z-…`.
fn created_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_suffix(".eml")?.get(..16)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

fn purge_files(dir: &Path, cutoff: DateTime<Utc>) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut purged = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(created) = name.to_str().and_then(created_of) else {
            continue;
        };
        if created < cutoff {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => purged += 1,
                // Another instance sweeping the same directory got it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(purged)
}

fn write_file(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let path = dir.join(name);
    let temp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::created_of;

    #[test]
    fn the_time_is_read_from_the_names_authd_writes_only() {
        let t = created_of("20261206T120000Z-0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4.eml").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-06T12:00:00+00:00");
        assert!(created_of("notes.eml").is_none());
        assert!(created_of("20261206T120000Z-x.txt").is_none());
        assert!(created_of(".20261206T120000Z-x.eml.tmp").is_none());
    }
}

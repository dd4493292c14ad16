//! The embedded default delivery: with no SMTP server configured, each
//! message is written as an `.eml` file under `data_dir/mail`, where a
//! developer opens it (any mail client reads `.eml`) and follows its link.
//! The files hold live links and codes: the directory is created 0700 and
//! each file 0600.

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

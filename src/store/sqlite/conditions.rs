//! SQLite: re-checks of the storage conditions that refuse writes (full, read-only, file gone,
//! unreadable), cheap enough for every health probe and writing nothing. A remembered write
//! failure says what was true when it happened; these say whether it is still true now, so a
//! disk cleared while nobody writes brings the probes back by itself.

use std::path::Path;

use super::SqliteStore;
use crate::store::StorageCondition;

/// Free space on the file's filesystem below which it still counts as full: room for a burst
/// of WAL frames and the checkpoint that copies them into the file. A write larger than this
/// may still fail; it then notes the condition again.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Under a `max_page_count` cap, the pages (of 4 KiB) that must be free or below the cap for
/// the file to count as having room again: a few job rows' worth.
pub const MIN_FREE_PAGES: i64 = 16;

impl SqliteStore {
    /// [`crate::store::Store::condition_persists`] on a SQLite file.
    pub async fn condition_persists(&self, condition: StorageCondition) -> bool {
        match condition {
            StorageCondition::Full => !self.has_room().await,
            StorageCondition::ReadOnly => !self.is_writable(),
            StorageCondition::FileGone => self.check_file().is_err(),
            StorageCondition::Unavailable => self.ping().await.is_err(),
        }
    }

    /// Room on the filesystem and under the page cap.
    async fn has_room(&self) -> bool {
        if free_bytes(self.dir()).is_some_and(|free| free < MIN_FREE_BYTES) {
            return false;
        }
        let Some(max_pages) = self.max_pages else {
            return true;
        };
        let usage = async {
            let mut conn = self.pool.acquire().await?;
            let pages = sqlx::query_scalar!(r#"PRAGMA page_count"#)
                .fetch_one(&mut *conn)
                .await?;
            let free = sqlx::query_scalar!(r#"PRAGMA freelist_count"#)
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>((pages, free))
        }
        .await;
        match usage {
            Ok((Some(pages), Some(free))) => i64::from(max_pages) - pages + free >= MIN_FREE_PAGES,
            _ => false,
        }
    }

    /// Whether the process may write the file: not on a read-only mount, not immutable.
    /// Asks the kernel with `access(2)` and never opens the file: closing any descriptor of a
    /// SQLite file drops the process's POSIX locks on it, which SQLite's own connections hold.
    fn is_writable(&self) -> bool {
        writable(&self.path)
    }

    /// The directory holding the file.
    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }
}

/// Bytes an unprivileged writer may still use on the filesystem of `dir`; None when the
/// filesystem cannot say.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(unix)]
fn writable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
}

#[cfg(not(unix))]
fn writable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_temp_dir_has_room_and_a_missing_one_cannot_say() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("file");
        assert!(writable(&file));
        assert!(!writable(&dir.path().join("missing")));
    }
}

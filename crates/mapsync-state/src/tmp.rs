//! The project's temporary folder (`tmp_dir:` in the project file, by
//! default `.mapsync/tmp/`): every file a run writes for itself — the
//! document spool, a plan file being written, an image being downloaded,
//! a manifest being rewritten — is made here, never in the system's
//! temporary folder.
//!
//! A file's name says whose it is:
//!
//! ```text
//! mapsync-<project>-<pid>-<start>-<n>.<kind>
//! ```
//!
//! `project` is a hash of the project directory (a folder shared by two
//! projects holds files of both; each touches only its own), `pid` and
//! `start` the owning process and its start time (on Linux the start time
//! in clock ticks since boot from `/proc/<pid>/stat`, so a recycled pid is
//! not taken for the owner). Each process also holds an advisory lock on
//! its `…-0.lock` file for its lifetime (the system lets go of it when
//! the process ends, killed or not): a process is gone when no process
//! with its pid and start time runs (where there is `/proc`) and its lock
//! can be taken or is gone.
//!
//! [`TmpDir::clean`] removes the files of this project whose owner is gone
//! (a run killed with SIGKILL, a machine that lost power); a [`TmpFile`]
//! removes its file when dropped, and [`remove_own_files`] removes all of
//! this process's files on exits that skip destructors (a second Ctrl-C).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The temporary folder when the project file names none, relative to the
/// project directory.
pub const DEFAULT_DIR: &str = ".mapsync/tmp";

/// What every file of this module's names starts with.
const PREFIX: &str = "mapsync-";

/// A temporary file could not be made or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct TmpError {
    /// The file (or the folder).
    pub path: PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: io::Error,
}

impl TmpError {
    /// Whether the disk (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        is_disk_full(&self.source)
    }
}

/// Whether `e` says the disk (or the user's quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122 on Linux, 69 on the BSDs and macOS).
    e.kind() == io::ErrorKind::StorageFull
        || e.kind() == io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28))
}

/// The process a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// When it started (clock ticks since boot on Linux; elsewhere the
    /// wall clock in nanoseconds when it first made a temporary file).
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        static ME: OnceLock<Owner> = OnceLock::new();
        *ME.get_or_init(|| {
            let pid = std::process::id();
            let start = proc_start_time("self").unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                    .unwrap_or(0)
            });
            Owner { pid, start }
        })
    }
}

/// Field 22 of `/proc/<pid>/stat`: the start time in clock ticks since boot.
fn proc_start_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether this system has `/proc` (process start times).
fn has_procfs() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| proc_start_time("self").is_some())
}

/// A file name of this module, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name<'a> {
    project: &'a str,
    owner: Owner,
    seq: u64,
}

/// The process a file of this module's naming belongs to (`None` for any
/// other name).
pub fn owner_of(file_name: &str) -> Option<Owner> {
    parse_name(file_name).map(|n| n.owner)
}

fn parse_name(name: &str) -> Option<Name<'_>> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(4, '-');
    let project = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let tail = parts.next()?;
    let seq = tail.split('.').next()?.parse().ok()?;
    if project.len() != 16 || !project.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Name {
        project,
        owner: Owner { pid, start },
        seq,
    })
}

/// A stable hash of the project directory (FNV-1a, 64 bits): the same in
/// every process and every mapsync version.
fn project_tag(project_dir: &Path) -> String {
    let canonical = project_dir
        .canonicalize()
        .unwrap_or_else(|_| project_dir.to_path_buf());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Whether a file's owner may still be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alive {
    Yes,
    No,
}

/// A file left by an earlier process and removed by [`TmpDir::clean`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The process that wrote it.
    pub owner: Owner,
}

/// The project's temporary folder, as this process uses it.
#[derive(Debug)]
pub struct TmpDir {
    dir: PathBuf,
    project: String,
    owner: Owner,
    /// The lock on this process's `…-0.lock` file, held while it runs.
    lock: Mutex<Option<File>>,
}

static SEQ: AtomicU64 = AtomicU64::new(1);

impl TmpDir {
    /// The folder `dir` (created when missing) for the project in
    /// `project_dir`.
    pub fn open(dir: &Path, project_dir: &Path) -> Result<TmpDir, TmpError> {
        std::fs::create_dir_all(dir).map_err(|source| TmpError {
            path: dir.to_path_buf(),
            source,
        })?;
        let t = TmpDir {
            dir: dir.to_path_buf(),
            project: project_tag(project_dir),
            owner: Owner::current(),
            lock: Mutex::new(None),
        };
        t.hold_lock()?;
        Ok(t)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock_path(&self, owner: Owner) -> PathBuf {
        self.dir.join(format!(
            "{PREFIX}{}-{}-{}-0.lock",
            self.project, owner.pid, owner.start
        ))
    }

    /// Takes this process's lock file, held until the process ends (the
    /// operating system lets go of it even after a kill). Made under a
    /// name cleanup never touches, locked, then renamed, so that no other
    /// process sees it unlocked.
    fn hold_lock(&self) -> Result<(), TmpError> {
        let mut held = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.is_some() {
            return Ok(());
        }
        let path = self.lock_path(self.owner);
        let err = |path: &Path, source| TmpError {
            path: path.to_path_buf(),
            source,
        };
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let fresh = self.dir.join(format!(
            ".{PREFIX}lock-{}-{}-{seq}",
            self.owner.pid, self.owner.start
        ));
        let file = File::create(&fresh).map_err(|e| err(&fresh, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // Another handle of this process holds it already.
                let _ = std::fs::remove_file(&fresh);
                return Ok(());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                let _ = std::fs::remove_file(&fresh);
                return Err(err(&fresh, e));
            }
        }
        if let Err(e) = std::fs::rename(&fresh, &path) {
            let _ = std::fs::remove_file(&fresh);
            return Err(err(&path, e));
        }
        *held = Some(file);
        Ok(())
    }

    /// Whether `owner` may still be running: its lock file is held, or
    /// (where there is `/proc`) a process with its pid and start time
    /// runs. Either keeps its files: a process in another pid namespace
    /// sharing the folder still holds its lock.
    fn alive(&self, owner: Owner) -> Alive {
        if owner == self.owner {
            return Alive::Yes;
        }
        if has_procfs()
            && proc_start_time(&owner.pid.to_string()).is_some_and(|start| start == owner.start)
        {
            return Alive::Yes;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .open(self.lock_path(owner))
        {
            Ok(file) => match file.try_lock() {
                Ok(()) => Alive::No,
                Err(_) => Alive::Yes,
            },
            // No lock file: the process removed it on its way out, or
            // the next run did.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Alive::No,
            Err(_) => Alive::Yes,
        }
    }

    /// Removes the files of this project whose owner is gone, and logs
    /// each (`info`). Never a file of a running process, of another
    /// project, or one this module did not name.
    pub fn clean(&self) -> Vec<Removed> {
        let mut removed = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return removed;
        };
        let mut gone: std::collections::HashMap<Owner, Alive> = std::collections::HashMap::new();
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(name) = file_name.to_str().and_then(parse_name) else {
                continue;
            };
            if name.project != self.project || name.owner == self.owner {
                continue;
            }
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let alive = *gone
                .entry(name.owner)
                .or_insert_with(|| self.alive(name.owner));
            if alive == Alive::Yes {
                continue;
            }
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if !removable_by_us(&meta) {
                continue;
            }
            let bytes = meta.len();
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(
                        file = %path.display(),
                        bytes,
                        pid = name.owner.pid,
                        "removed a temporary file left by an earlier process that is gone"
                    );
                    removed.push(Removed {
                        path,
                        bytes,
                        owner: name.owner,
                    });
                }
                // Another process cleaning at the same time took it.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(file = %path.display(), error = %err, "cannot remove a temporary file left by an earlier process");
                }
            }
        }
        removed
    }

    /// The name of file `seq` of `owner` in this folder, ending in `.kind`
    /// (for tools and tests that look into the folder).
    pub fn name_of(&self, owner: Owner, seq: u64, kind: &str) -> String {
        format!(
            "{PREFIX}{}-{}-{}-{seq}.{kind}",
            self.project, owner.pid, owner.start
        )
    }

    /// A new file name of this process in the folder, ending in `.kind`.
    fn next_path(&self, kind: &str) -> PathBuf {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        self.dir.join(self.name_of(self.owner, seq, kind))
    }

    /// A new, empty file of this process, open for writing, removed when
    /// the returned [`TmpFile`] is dropped.
    pub fn create(&self, kind: &str) -> Result<(TmpFile, File), TmpError> {
        create_new(self.next_path(kind))
    }

    /// A path for a file of this process, not created yet; removed (if
    /// made) when the returned [`TmpFile`] is dropped.
    pub fn reserve(&self, kind: &str) -> TmpFile {
        TmpFile {
            path: self.next_path(kind),
        }
    }

    /// This process's files in the folder (not its lock file).
    pub fn own_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .and_then(parse_name)
                    .is_some_and(|n| {
                        n.project == self.project && n.owner == self.owner && n.seq != 0
                    })
            })
            .map(|e| e.path())
            .collect()
    }

    /// Removes this process's files (the lock file too): for exits that
    /// skip destructors. Returns how many were removed.
    pub fn remove_own(&self) -> usize {
        let lock = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let mut n = 0;
        for path in self.own_files() {
            if std::fs::remove_file(&path).is_ok() {
                n += 1;
            }
        }
        if lock.is_some() && std::fs::remove_file(self.lock_path(self.owner)).is_ok() {
            n += 1;
        }
        drop(lock);
        n
    }
}

/// Whether a file of a gone process may be removed by this one: one of
/// the same user (another user's processes may be hidden from `/proc`), or
/// any when this process runs as root.
#[cfg(unix)]
fn removable_by_us(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(me) => me.uid() == 0 || me.uid() == meta.uid(),
        // No /proc: the owner was judged by its lock alone.
        Err(_) => true,
    }
}

#[cfg(not(unix))]
fn removable_by_us(_meta: &std::fs::Metadata) -> bool {
    true
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let held = self
            .lock
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if held.is_some() {
            let _ = std::fs::remove_file(self.lock_path(self.owner));
        }
    }
}

fn create_new(path: PathBuf) -> Result<(TmpFile, File), TmpError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => Ok((TmpFile { path }, f)),
        Err(source) => Err(TmpError { path, source }),
    }
}

/// A temporary file, removed when dropped (unless [`TmpFile::persist`]
/// moved it to its place).
#[derive(Debug)]
pub struct TmpFile {
    path: PathBuf,
}

impl TmpFile {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the (complete) file to `dest`, replacing what is there. A
    /// rename when both are on one filesystem; otherwise a copy to a
    /// temporary name beside `dest` renamed over it, so `dest` is never
    /// half written.
    pub fn persist(self, dest: &Path) -> io::Result<()> {
        match std::fs::rename(&self.path, dest) {
            Ok(()) => {
                std::mem::forget(self);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices || e.raw_os_error() == Some(18) => {
                let mut name = dest.file_name().unwrap_or_default().to_os_string();
                name.push(format!(".{}.part", std::process::id()));
                let beside = dest.with_file_name(name);
                let copied =
                    std::fs::copy(&self.path, &beside).and_then(|_| std::fs::rename(&beside, dest));
                if copied.is_err() {
                    let _ = std::fs::remove_file(&beside);
                }
                copied
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "temporary file not removed")
            }
        }
    }
}

/// The folder of this process, once [`install`]ed.
static CURRENT: Mutex<Option<Arc<TmpDir>>> = Mutex::new(None);

/// Makes `dir` the folder of this process's temporary files (the CLI does
/// this once it knows the project).
pub fn install(dir: TmpDir) -> Arc<TmpDir> {
    let dir = Arc::new(dir);
    *CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dir.clone());
    dir
}

/// The folder [`install`]ed, if any.
pub fn current() -> Option<Arc<TmpDir>> {
    CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Removes every file of this process from the installed folder: for
/// exits that skip destructors (`std::process::exit`).
pub fn remove_own_files() -> usize {
    current().map(|d| d.remove_own()).unwrap_or(0)
}

/// A new, empty temporary file ending in `.kind`, open for writing: in the
/// installed folder, or (a library used without one, tests) in the
/// system's temporary folder, named the same way.
pub fn create_file(kind: &str) -> Result<(TmpFile, File), TmpError> {
    match current() {
        Some(d) => d.create(kind),
        None => {
            let dir = std::env::temp_dir();
            let owner = Owner::current();
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            create_new(dir.join(format!(
                "{PREFIX}{}-{}-{}-{seq}.{kind}",
                project_tag(Path::new("")),
                owner.pid,
                owner.start
            )))
        }
    }
}

/// A path where a file meant for `dest` is written before it is moved
/// there with [`TmpFile::persist`]: in the installed folder, or (none
/// installed) beside `dest` (`<name>.<n>.part`).
pub fn temp_for(dest: &Path, kind: &str) -> TmpFile {
    match current() {
        Some(d) => d.reserve(kind),
        None => {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let mut name = dest.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".{seq}.part"));
            TmpFile {
                path: dest.with_file_name(name),
            }
        }
    }
}

/// Removes this process's files of the installed folder when dropped: the
/// CLI holds one for the whole command.
#[derive(Debug)]
pub struct Session {
    dir: Arc<TmpDir>,
}

impl Session {
    /// Opens `dir` for the project in `project_dir`, removes what gone
    /// processes left there (logged) and installs it for this process.
    pub fn start(dir: &Path, project_dir: &Path) -> Result<(Session, Vec<Removed>), TmpError> {
        let t = TmpDir::open(dir, project_dir)?;
        let removed = t.clean();
        if !removed.is_empty() {
            let bytes: u64 = removed.iter().map(|r| r.bytes).sum();
            tracing::info!(
                files = removed.len(),
                bytes,
                dir = %dir.display(),
                "removed temporary files of earlier processes"
            );
        }
        Ok((Session { dir: install(t) }, removed))
    }

    /// The folder.
    pub fn dir(&self) -> &TmpDir {
        &self.dir
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.dir.remove_own();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_round_trip_and_foreign_names_are_ignored() {
        let n = parse_name("mapsync-0123456789abcdef-42-777-5.spool.ndjson").unwrap();
        assert_eq!(n.project, "0123456789abcdef");
        assert_eq!(
            n.owner,
            Owner {
                pid: 42,
                start: 777
            }
        );
        assert_eq!(n.seq, 5);
        for other in [
            "mapsync-spool-42-0-abc.ndjson",
            "notes.txt",
            "mapsync-xyz-1-2-3.x",
            "mapsync-0123456789abcdef-x-2-3.x",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_full_disk_is_told_from_other_failures() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(28)));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(13)));
        let sqlite = |code| crate::StateError::Sqlite {
            path: PathBuf::from("state.db"),
            action: "recording",
            error: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        };
        assert!(sqlite(rusqlite::ffi::SQLITE_FULL).is_disk_full());
        assert!(sqlite(rusqlite::ffi::SQLITE_IOERR_SHMSIZE).is_disk_full());
        assert!(!sqlite(rusqlite::ffi::SQLITE_IOERR_READ).is_disk_full());
        assert!(!sqlite(rusqlite::ffi::SQLITE_BUSY).is_disk_full());
    }

    #[test]
    fn this_process_has_a_start_time_and_is_alive() {
        let me = Owner::current();
        assert_eq!(me.pid, std::process::id());
        if has_procfs() {
            assert_eq!(proc_start_time("self"), Some(me.start));
        }
    }

    #[test]
    fn clean_removes_only_files_of_gone_processes_of_this_project() {
        let project = tempfile::tempdir().unwrap();
        let other_project = tempfile::tempdir().unwrap();
        let dir = project.path().join("tmp");
        let t = TmpDir::open(&dir, project.path()).unwrap();
        let (mine, _) = t.create("spool.ndjson").unwrap();
        let me = Owner::current();
        let tag = project_tag(project.path());
        let other_tag = project_tag(other_project.path());
        assert_ne!(tag, other_tag);
        // Gone: a pid that cannot run, and this pid with another start time
        // (a recycled pid).
        let dead = format!("mapsync-{tag}-4294967290-1-3.spool.ndjson");
        let recycled = format!("mapsync-{tag}-{}-{}-9.plan.json", me.pid, me.start + 1);
        let foreign = format!("mapsync-{other_tag}-4294967290-1-3.spool.ndjson");
        for (name, body) in [(&dead, "xx"), (&recycled, "y"), (&foreign, "z")] {
            std::fs::write(dir.join(name), body).unwrap();
        }
        std::fs::write(dir.join("README"), "not ours").unwrap();
        let removed = t.clean();
        let mut got: Vec<String> = removed
            .iter()
            .map(|r| r.path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        got.sort();
        if has_procfs() {
            let mut want = vec![dead.clone(), recycled.clone()];
            want.sort();
            assert_eq!(got, want);
            assert_eq!(removed.iter().map(|r| r.bytes).sum::<u64>(), 3);
        }
        let left = names(&dir);
        assert!(left.contains(&foreign), "{left:?}");
        assert!(left.contains(&"README".to_string()), "{left:?}");
        assert!(mine.path().exists());
        assert_eq!(t.own_files(), vec![mine.path().to_path_buf()]);
        drop(mine);
        assert!(t.own_files().is_empty());
    }

    #[test]
    fn a_lock_file_tells_a_running_owner_from_a_gone_one() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path().join("tmp");
        let t = TmpDir::open(&dir, project.path()).unwrap();
        // Without /proc the owner is told by its lock: one held by an
        // open file description is busy, one nobody holds is free.
        let owner = Owner {
            pid: 4_294_967_291,
            start: 5,
        };
        let lock = t.lock_path(owner);
        let held = File::create(&lock).unwrap();
        held.try_lock().unwrap();
        let probe = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
        assert!(probe.try_lock().is_err(), "a held lock is busy");
        drop(held);
        assert!(probe.try_lock().is_ok(), "a released lock is free");
    }

    #[test]
    fn a_temporary_file_goes_when_dropped_and_stays_where_persisted() {
        let project = tempfile::tempdir().unwrap();
        let t = TmpDir::open(&project.path().join("tmp"), project.path()).unwrap();
        let (f, mut file) = t.create("plan.json").unwrap();
        std::io::Write::write_all(&mut file, b"{}").unwrap();
        drop(file);
        let dest = project.path().join("plan.json");
        f.persist(&dest).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "{}");
        let r = t.reserve("part");
        std::fs::write(r.path(), "x").unwrap();
        let p = r.path().to_path_buf();
        drop(r);
        assert!(!p.exists());
        assert!(t.own_files().is_empty());
    }
}

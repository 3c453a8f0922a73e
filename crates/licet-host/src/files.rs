//! Data directories and database files that only their owner can read.
//!
//! A server's data directory holds its database (tenants, token hashes, usage) and, on
//! the SQLite default, its signing key; an agent's holds the device key and the device
//! token. Both are created 0700 and their database files are made 0600, whatever the
//! process umask says.

use std::io;
use std::path::Path;

/// Creates `path` (and its parents) if needed and makes it 0700.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes an existing file (and SQLite's `-wal`/`-shm` companions, if present) 0600.
pub fn make_private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut companions = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            companions.push(name.into());
        }
        for file in companions {
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

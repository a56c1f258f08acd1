//! Downloading the official `caltech-101.zip`, with an MD5 check (cargo feature `download`).
//!
//! **Untested here**: the machines this crate is developed and tested on have no internet
//! access, so this module is compiled (`cargo check --features download`) but never run by the
//! test suite. The address and checksum are those of the CaltechDATA record (November 2026).
//!
//! ```no_run
//! # fn main() -> Result<(), kfp_components::caltech101::Error> {
//! use kfp_components::caltech101::download;
//! let zip = download::fetch(download::OFFICIAL_URL, Some(download::OFFICIAL_MD5), &download::default_cache_dir())?;
//! let data = kfp_components::caltech101::load(&zip, &kfp_components::caltech101::LoadOptions::new(64))?;
//! # Ok(()) }
//! ```
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::error::Error;

/// The official download: `caltech-101.zip`, which wraps `101_ObjectCategories.tar.gz`.
pub const OFFICIAL_URL: &str = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip";
/// Its MD5 checksum, as published.
pub const OFFICIAL_MD5: &str = "3138e1922a9193bfa496528edbbc45d0";
/// The MD5 of the official `101_ObjectCategories.tar.gz` (for a copy fetched elsewhere).
pub const ARCHIVE_MD5: &str = "b224c7392d521a49829488ab0f1120d9";

/// Where downloads are kept: `$KFP_RS_CACHE/caltech101`, else
/// `$HOME/.cache/kfp-rs/caltech101`, else a folder in the temporary directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KFP_RS_CACHE") {
        return PathBuf::from(dir).join("caltech101");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/kfp-rs/caltech101"),
        None => std::env::temp_dir().join("kfp-rs-caltech101"),
    }
}

/// The MD5 of a file, in lower-case hex.
pub fn md5_file(path: &Path) -> Result<String, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `url` into `cache_dir` (named after the URL's last segment) unless a file with the
/// expected MD5 is already there, checks the MD5 (when one is given), and returns the file's
/// path. The file appears only once complete and verified.
pub fn fetch(url: &str, md5: Option<&str>, cache_dir: &Path) -> Result<PathBuf, Error> {
    let name = url
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("download");
    let dest = cache_dir.join(name);
    if dest.is_file() && md5.is_none_or(|md5| md5_file(&dest).is_ok_and(|actual| actual == md5)) {
        return Ok(dest);
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| Error::write(cache_dir, e))?;
    // A name no other download (another process or thread) uses.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}.part-{}-", std::process::id()))
        .tempfile_in(cache_dir)
        .map_err(|e| Error::write(cache_dir, e))?
        .into_temp_path();
    let failed = |reason: String| Error::Download {
        url: url.to_owned(),
        reason,
    };
    let response = ureq::get(url).call().map_err(|e| failed(e.to_string()))?;
    let mut body = response.into_body().into_reader();
    let mut file = std::fs::File::create(&partial).map_err(|e| Error::write(&partial, e))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    let copied = loop {
        match body.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                hasher.update(&buffer[..n]);
                if let Err(e) = file.write_all(&buffer[..n]) {
                    break Err(Error::write(&partial, e));
                }
            }
            Err(e) => break Err(failed(e.to_string())),
        }
    };
    let result = copied
        .and_then(|()| file.flush().map_err(|e| Error::write(&partial, e)))
        .and_then(|()| {
            let actual = hex(&hasher.finalize());
            if md5.is_none_or(|md5| actual == md5) {
                file.sync_all().map_err(|e| Error::write(&partial, e))?;
                std::fs::rename(&partial, &dest).map_err(|e| Error::write(&dest, e))
            } else {
                Err(Error::Checksum {
                    path: dest.clone(),
                    expected: md5.unwrap_or_default().to_owned(),
                    actual,
                })
            }
        });
    // On success the file was renamed away; on error the temporary path removes it.
    drop(partial);
    result.map(|()| dest)
}

/// `source` as a local path: an `http(s)://` address is fetched into [`default_cache_dir`]
/// first (checked against [`OFFICIAL_MD5`] when it is [`OFFICIAL_URL`]); anything else is a
/// path.
pub fn local_source(source: &str) -> Result<PathBuf, Error> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let md5 = (source == OFFICIAL_URL).then_some(OFFICIAL_MD5);
        return fetch(source, md5, &default_cache_dir());
    }
    Ok(PathBuf::from(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// Serves `body` (or a 404 for any path but `/file.zip`) on 127.0.0.1 for `requests`
    /// requests; returns the base URL.
    fn serve(body: &'static [u8], requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                reader.read_line(&mut line).unwrap();
                // Skip the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let found = line.starts_with("GET /file.zip ");
                let (status, content): (&str, &[u8]) = if found {
                    ("200 OK", body)
                } else {
                    ("404 Not Found", b"no")
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    content.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(content);
            }
        });
        format!("http://{address}")
    }

    #[test]
    fn md5_matches_rfc_1321() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(md5_file(&path).unwrap(), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn a_verified_download_appears_whole_and_is_reused_offline() {
        let base = serve(b"archive bytes", 1);
        let dir = tempfile::tempdir().unwrap();
        // The body's MD5, from the function the RFC vector above checks.
        let body_md5 = {
            let probe = dir.path().join("probe");
            std::fs::write(&probe, b"archive bytes").unwrap();
            md5_file(&probe).unwrap()
        };
        let path = fetch(
            &format!("{base}/file.zip"),
            Some(&body_md5),
            &dir.path().join("c"),
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"archive bytes");
        // The server is gone after one request: the cached, verified file is reused.
        let again = fetch(
            &format!("{base}/file.zip"),
            Some(&body_md5),
            &dir.path().join("c"),
        )
        .unwrap();
        assert_eq!(again, path);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("c"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("file.zip")]);
    }

    #[test]
    fn a_wrong_checksum_or_a_missing_file_is_an_error_that_leaves_nothing() {
        let base = serve(b"archive bytes", 2);
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("c");
        let wrong = fetch(
            &format!("{base}/file.zip"),
            Some("00000000000000000000000000000000"),
            &cache,
        )
        .unwrap_err();
        assert!(matches!(wrong, Error::Checksum { .. }), "{wrong}");
        let missing = fetch(&format!("{base}/missing.zip"), None, &cache).unwrap_err();
        assert!(matches!(missing, Error::Download { .. }), "{missing}");
        assert!(missing.to_string().contains("404"), "{missing}");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }

    #[test]
    fn a_local_path_is_taken_as_it_is() {
        assert_eq!(
            local_source("/data/caltech.tar.gz").unwrap(),
            PathBuf::from("/data/caltech.tar.gz")
        );
    }
}

//! The model's non-volatile storage: the chip seed and the persistent identity (OCA, PEK,
//! PDH keys and certificates, ownership flag) in one file of a state directory.
//!
//! File `libsev-model-state.bin`:
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `LIBSEVMS` |
//! | 4 | format version (1), little-endian |
//! | 4 | payload length, little-endian |
//! | n | payload: records `tag u8 ‖ len u32 LE ‖ bytes` |
//! | 32 | SHA-256 of everything before it |
//!
//! Record tags: 1 chip seed (32), 2/3 OCA certificate / private key (the key is absent when an
//! external owner's OCA was imported), 4/5 PEK certificate / key, 6/7 PDH certificate / key
//! (keys are 48-byte P-384 scalars, certificates 0x824 bytes), 8 externally-owned flag (1).
//!
//! Writes are crash-safe: a temporary file in the same directory is written and fsynced,
//! renamed over the old file, then the directory is fsynced, so a reader sees the old or the
//! new identity, never a mixture. Leftover temporary files (from a crash) are ignored.
//! Writers and readers of one directory are serialised with `flock` on a lock file.

use crate::certs::{SevCert, Usage};
use crate::error::{Error, Result};
use crate::model::firmware::identity::{Identity, Oca, Pdh, Pek};
use crate::status::Status;
use p384::ecdsa::SigningKey;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::Zeroizing;

const FILE: &str = "libsev-model-state.bin";
const LOCK: &str = "libsev-model-state.lock";
const MAGIC: &[u8; 8] = b"LIBSEVMS";
const VERSION: u32 = 1;

const T_SEED: u8 = 1;
const T_OCA_CERT: u8 = 2;
const T_OCA_KEY: u8 = 3;
const T_PEK_CERT: u8 = 4;
const T_PEK_KEY: u8 = 5;
const T_PDH_CERT: u8 = 6;
const T_PDH_KEY: u8 = 7;
const T_EXTERNAL: u8 = 8;

/// What the state file holds.
pub(crate) struct Persisted {
    pub(crate) chip_seed: Zeroizing<[u8; 32]>,
    pub(crate) ident: Identity,
}

impl std::fmt::Debug for Persisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persisted")
            .field("external", &self.ident.external)
            .finish_non_exhaustive()
    }
}

/// A state directory.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_MODEL_STATE_IO,
        format!("firmware model: {what} {}: {e}", path.display()),
    )
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT,
        format!(
            "firmware model: state file {} is damaged ({why}); restore it from a backup or \
             remove it to start with a new emulated chip",
            path.display()
        ),
    )
}

/// An exclusive or shared `flock` held until dropped.
struct FileLock {
    _file: File,
}

impl FileLock {
    fn take(path: &Path, exclusive: bool) -> std::io::Result<FileLock> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on an fd we own; no memory is passed.
            let r = unsafe { libc::flock(f.as_raw_fd(), op) };
            if r == 0 {
                return Ok(FileLock { _file: f });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

fn put(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Serialize the chip seed and identity (the result holds private keys: wiped on drop).
pub(crate) fn encode(seed: &[u8; 32], ident: &Identity) -> Zeroizing<Vec<u8>> {
    let mut payload = Zeroizing::new(Vec::with_capacity(8 * 1024));
    put(&mut payload, T_SEED, seed);
    if let Some(oca) = &ident.oca {
        put(&mut payload, T_OCA_CERT, oca.cert.as_bytes());
        if let Some(k) = &oca.key {
            put(&mut payload, T_OCA_KEY, &k.to_bytes());
        }
    }
    if let Some(pek) = &ident.pek {
        put(&mut payload, T_PEK_CERT, pek.cert.as_bytes());
        put(&mut payload, T_PEK_KEY, &pek.key.to_bytes());
    }
    if let Some(pdh) = &ident.pdh {
        put(&mut payload, T_PDH_CERT, pdh.cert.as_bytes());
        put(&mut payload, T_PDH_KEY, &pdh.key.to_bytes());
    }
    put(&mut payload, T_EXTERNAL, &[ident.external as u8]);
    let mut out = Zeroizing::new(Vec::with_capacity(payload.len() + 48));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
    let sum = Sha256::digest(&out[..]);
    out.extend_from_slice(&sum);
    out
}

fn signing_key(
    path: &Path,
    what: &str,
    b: &[u8],
    cert: &SevCert,
    usage: u32,
) -> Result<SigningKey> {
    let key = SigningKey::from_slice(b).map_err(|_| corrupt(path, format!("bad {what} key")))?;
    let pk = cert
        .check_body(usage)
        .map_err(|e| corrupt(path, format!("{what} certificate: {e}")))?;
    if pk != p384::PublicKey::from(key.verifying_key()) {
        return Err(corrupt(
            path,
            format!("{what} key does not match its certificate"),
        ));
    }
    Ok(key)
}

/// Parse a state file's bytes (`path` only names it in messages).
pub(crate) fn decode(path: &Path, b: &[u8]) -> Result<Persisted> {
    if b.len() < 16 + 32 || &b[..8] != MAGIC {
        return Err(corrupt(path, "not a libsev model state file"));
    }
    let version = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(corrupt(
            path,
            format!("format version {version}, this libsev reads version {VERSION}"),
        ));
    }
    let plen = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")) as usize;
    if b.len() != 16 + plen + 32 {
        return Err(corrupt(
            path,
            format!("{} bytes, the header announces {}", b.len(), 16 + plen + 32),
        ));
    }
    let (body, sum) = b.split_at(16 + plen);
    if Sha256::digest(body)[..] != sum[..] {
        return Err(corrupt(path, "checksum mismatch"));
    }
    let mut recs: [Option<&[u8]>; 9] = [None; 9];
    let mut p = &body[16..];
    while !p.is_empty() {
        if p.len() < 5 {
            return Err(corrupt(path, "truncated record"));
        }
        let tag = p[0] as usize;
        let len = u32::from_le_bytes(p[1..5].try_into().expect("4 bytes")) as usize;
        if p.len() < 5 + len {
            return Err(corrupt(path, "truncated record"));
        }
        if tag == 0 || tag >= recs.len() || recs[tag].is_some() {
            return Err(corrupt(path, format!("unknown or repeated record {tag}")));
        }
        recs[tag] = Some(&p[5..5 + len]);
        p = &p[5 + len..];
    }
    let seed = recs[T_SEED as usize].ok_or_else(|| corrupt(path, "no chip seed"))?;
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| corrupt(path, "chip seed is not 32 bytes"))?;
    let cert = |tag: u8, what: &str| -> Result<Option<SevCert>> {
        recs[tag as usize]
            .map(|c| SevCert::from_bytes(c).map_err(|e| corrupt(path, format!("{what}: {e}"))))
            .transpose()
    };
    let mut ident = Identity::default();
    if let Some(c) = cert(T_OCA_CERT, "OCA certificate")? {
        let key = recs[T_OCA_KEY as usize]
            .map(|k| signing_key(path, "OCA", k, &c, Usage::OCA))
            .transpose()?;
        ident.oca = Some(Oca { key, cert: c });
    }
    if let Some(c) = cert(T_PEK_CERT, "PEK certificate")? {
        let k = recs[T_PEK_KEY as usize].ok_or_else(|| corrupt(path, "PEK key missing"))?;
        let key = signing_key(path, "PEK", k, &c, Usage::PEK)?;
        ident.pek = Some(Pek { key, cert: c });
    }
    if let Some(c) = cert(T_PDH_CERT, "PDH certificate")? {
        let k = recs[T_PDH_KEY as usize].ok_or_else(|| corrupt(path, "PDH key missing"))?;
        let key = p384::SecretKey::from_slice(k).map_err(|_| corrupt(path, "bad PDH key"))?;
        let pk = c
            .check_body(Usage::PDH)
            .map_err(|e| corrupt(path, format!("PDH certificate: {e}")))?;
        if pk != key.public_key() {
            return Err(corrupt(path, "PDH key does not match its certificate"));
        }
        ident.pdh = Some(Pdh { key, cert: c });
    }
    ident.external = match recs[T_EXTERNAL as usize] {
        None | Some([0]) => false,
        Some([1]) => true,
        Some(_) => return Err(corrupt(path, "bad ownership flag")),
    };
    if ident.external && ident.oca.as_ref().is_none_or(|o| o.key.is_some()) {
        return Err(corrupt(
            path,
            "ownership flag does not match the OCA records",
        ));
    }
    Ok(Persisted {
        chip_seed: Zeroizing::new(seed),
        ident,
    })
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Use (and create if needed) a state directory.
    pub(crate) fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io_err("cannot create the state directory", dir, &e))?;
        let md = std::fs::metadata(dir)
            .map_err(|e| io_err("cannot read the state directory", dir, &e))?;
        if !md.is_dir() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_MODEL_STATE_IO,
                format!(
                    "firmware model: state directory {} is not a directory",
                    dir.display()
                ),
            ));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The state file's path.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Load the state file; `None` if there is none yet.
    pub(crate) fn load(&self) -> Result<Option<Persisted>> {
        let path = self.path();
        let _lock = FileLock::take(&self.dir.join(LOCK), false)
            .map_err(|e| io_err("cannot lock", &self.dir.join(LOCK), &e))?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read", &path, &e)),
        };
        decode(&path, &bytes).map(Some)
    }

    /// Replace the state file, crash-safely.
    pub(crate) fn save(&self, seed: &[u8; 32], ident: &Identity) -> Result<()> {
        let bytes = encode(seed, ident);
        let lock_path = self.dir.join(LOCK);
        let _lock =
            FileLock::take(&lock_path, true).map_err(|e| io_err("cannot lock", &lock_path, &e))?;
        self.remove_stale_temps();
        let tmp = self.dir.join(format!(
            ".{FILE}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> std::io::Result<()> {
            // Owner-only: the file holds the platform's private keys.
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, self.path())?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err("cannot write", &self.path(), &e)
        })
    }

    /// Delete temporary files left by writers that crashed (every writer holds the exclusive
    /// lock, which the caller now has, so none is in use). They hold private keys like the
    /// state file itself and would otherwise pile up, one per crash.
    fn remove_stale_temps(&self) {
        let prefix = format!(".{FILE}.tmp-");
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::firmware::crypto::ModelRng;
    use crate::model::firmware::identity::{Chip, new_oca, new_pdh, new_pek};

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "libsev-store-{name}-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn identity() -> Identity {
        let mut rng = ModelRng::new(Some(&[4; 32]));
        let chip = Chip::derive(&[3; 32]);
        let oca = new_oca(&mut rng, (1, 55));
        let pek = new_pek(&mut rng, (1, 55), oca.key.as_ref().unwrap(), &chip.cek);
        let pdh = new_pdh(&mut rng, (1, 55), &pek.key);
        Identity {
            oca: Some(oca),
            pek: Some(pek),
            pdh: Some(pdh),
            external: false,
        }
    }

    #[test]
    fn round_trip_and_every_flipped_byte_is_detected() {
        let id = identity();
        let b = encode(&[3; 32], &id);
        let p = decode(Path::new("x"), &b).unwrap();
        assert_eq!(*p.chip_seed, [3; 32]);
        assert_eq!(
            p.ident.pdh.as_ref().unwrap().cert,
            id.pdh.as_ref().unwrap().cert
        );
        assert_eq!(p.ident.pek.unwrap().key, id.pek.unwrap().key);
        for i in (0..b.len()).step_by(97) {
            let mut bad = b.to_vec();
            bad[i] ^= 0x20;
            let e = decode(Path::new("st"), &bad).expect_err("damage detected");
            assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT);
            assert!(e.message.contains("st"), "{}", e.message);
        }
        let e = decode(Path::new("st"), &b[..b.len() - 1]).err().unwrap();
        assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT);
    }

    #[test]
    fn save_replaces_and_leftover_temp_files_are_ignored() {
        let dir = tempdir("save");
        let st = Store::open(&dir).unwrap();
        assert!(st.load().unwrap().is_none());
        let id = identity();
        st.save(&[3; 32], &id).unwrap();
        // A crash in the middle of a later write leaves a partial temporary file behind:
        // loading still sees the complete previous state.
        std::fs::write(dir.join(format!(".{FILE}.tmp-1-1")), b"LIBSEVMS partial").unwrap();
        let p = st.load().unwrap().unwrap();
        assert_eq!(p.ident.pdh.unwrap().cert, id.pdh.as_ref().unwrap().cert);
        // Saving again replaces the file and removes the crashed writer's leftover.
        st.save(&[3; 32], &Identity::default()).unwrap();
        assert!(!dir.join(format!(".{FILE}.tmp-1-1")).exists());
        let p = st.load().unwrap().unwrap();
        assert!(p.ident.pdh.is_none() && p.ident.oca.is_none());
        // A damaged file is reported, not silently replaced.
        let mut raw = std::fs::read(st.path()).unwrap();
        let n = raw.len();
        raw[n - 40] ^= 1;
        std::fs::write(st.path(), &raw).unwrap();
        let e = st.load().err().unwrap();
        assert_eq!(e.status, Status::LIBSEV_STATUS_MODEL_STATE_CORRUPT);
        assert!(e.message.contains("checksum"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

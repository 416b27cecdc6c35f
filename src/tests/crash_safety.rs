//! Crash safety of the firmware model's state directory. A child process (this test binary
//! re-executed in its child role) rewrites the platform identity over and over — PDH_GEN,
//! PEK_GEN, PEK_CSR + PEK_CERT_IMPORT with an OCA key it makes, FACTORY_RESET — and reports
//! through a pipe (its stdout) what each operation committed. The parent kills it with SIGKILL
//! after a random delay, then opens a platform on the directory: the identity must be
//! complete and valid (the PDH ← PEK ← OCA/CEK chain verifies up to the model's root) and equal
//! the identity before the interrupted operation or one the operation could have produced —
//! never `LIBSEV_STATUS_MODEL_STATE_CORRUPT`.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sev::api::Platform;
use sev::certs::chain::{Chain, VerifyOptions};
use sev::certs::{Algo, SevCert, Usage};
use sev::model::ModelConfig;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: usize = 50;
const CHILD_ENV: &str = "LIBSEV_CRASH_CHILD_DIR";
const CHILD_TEST: &str = "child_rewrites_the_identity_until_killed";
const CEK_SIZE: usize = 0x824;

fn config(dir: &Path) -> ModelConfig {
    ModelConfig {
        state_dir: Some(dir.to_path_buf()),
        ..ModelConfig::default()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of PDH, PEK, OCA and CEK (as exported), in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ident {
    pdh: String,
    pek: String,
    oca: String,
    cek: String,
}

impl Ident {
    fn of(pdh: &[u8], chain: &[u8]) -> Ident {
        let h = |b: &[u8]| hex(&Sha256::digest(b));
        Ident {
            pdh: h(pdh),
            pek: h(&chain[..CEK_SIZE]),
            oca: h(&chain[CEK_SIZE..2 * CEK_SIZE]),
            cek: h(&chain[2 * CEK_SIZE..]),
        }
    }
    fn line(&self) -> String {
        format!("{} {} {} {}", self.pdh, self.pek, self.oca, self.cek)
    }
    fn parse(s: &str) -> Ident {
        let v: Vec<&str> = s.split_whitespace().collect();
        assert_eq!(v.len(), 4, "identity line {s:?}");
        Ident {
            pdh: v[0].into(),
            pek: v[1].into(),
            oca: v[2].into(),
            cek: v[3].into(),
        }
    }
}

/// Export the identity of the platform on `dir` and verify its whole chain.
fn open_and_verify(dir: &Path) -> Result<Ident, String> {
    let p = Platform::emulated(config(dir)).map_err(|e| format!("open: {:?}: {e}", e.status))?;
    let (pdh, plat) = p
        .pdh_cert_export()
        .map_err(|e| format!("PDH_CERT_EXPORT: {:?}: {e}", e.status))?;
    let m = p.model().expect("a model platform");
    let chain = Chain::from_parts(&pdh, &plat, &m.amd_ask_ark())
        .and_then(|c| c.with_cek(&m.cek_signed()))
        .map_err(|e| format!("chain layout: {e}"))?;
    chain
        .verified(VerifyOptions {
            allow_test_root: true,
            ..VerifyOptions::default()
        })
        .map_err(|e| format!("chain does not verify: {e}"))?;
    Ok(Ident::of(&pdh, &plat))
}

/// The child role: rewrite the identity forever, reporting on stdout.
#[test]
#[ignore = "the child role of the crash-safety test; it runs only when that test spawns it"]
fn child_rewrites_the_identity_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let out = std::io::stdout();
    let say = |s: String| {
        let mut o = out.lock();
        // A marker: libtest's own "test ... " line has no newline before the first report.
        writeln!(o, "@@ {s}").unwrap();
        o.flush().unwrap();
    };
    let p = Platform::emulated(config(&dir)).expect("child: open");
    let mut rng = ChaCha8Rng::seed_from_u64(std::process::id() as u64);
    loop {
        let op = rng.next_u32() % 4;
        match op {
            0 => {
                say("BEGIN PDH_GEN".into());
                p.pdh_gen().expect("PDH_GEN");
            }
            1 => {
                say("BEGIN PEK_GEN".into());
                p.pek_gen().expect("PEK_GEN");
            }
            2 => {
                // An external owner: its own OCA key signs the PEK CSR. Importing needs a
                // self-owned platform (PEK_GEN first if an owner is already there).
                if p.status().expect("PLATFORM_STATUS").owned_externally {
                    say("BEGIN PEK_GEN".into());
                    p.pek_gen().expect("PEK_GEN");
                    let (pdh, chain) = p.pdh_cert_export().expect("export");
                    say(format!("COMMITTED {}", Ident::of(&pdh, &chain).line()));
                }
                let key = p384::ecdsa::SigningKey::random(&mut rand_core::OsRng);
                let mut oca = SevCert::new_p384(
                    Usage::OCA,
                    Algo::ECDSA_SHA256,
                    (1, 55),
                    &p384::PublicKey::from(key.verifying_key()),
                );
                oca.sign_ecdsa(0, Usage::OCA, &key);
                let mut pek = SevCert::from_bytes(&p.pek_csr().expect("PEK_CSR")).unwrap();
                pek.sign_ecdsa(1, Usage::OCA, &key);
                say(format!(
                    "BEGIN PEK_CERT_IMPORT {}",
                    hex(&Sha256::digest(oca.as_bytes()))
                ));
                p.pek_cert_import(pek.as_bytes(), oca.as_bytes())
                    .expect("PEK_CERT_IMPORT");
            }
            _ => {
                say("BEGIN FACTORY_RESET".into());
                p.factory_reset().expect("FACTORY_RESET");
            }
        }
        let (pdh, chain) = p.pdh_cert_export().expect("export");
        say(format!("COMMITTED {}", Ident::of(&pdh, &chain).line()));
    }
}

/// What the child said before it died.
#[derive(Debug, Default)]
struct Report {
    /// The last identity it reported as committed.
    committed: Option<Ident>,
    /// The operation it began after that, if any (with the OCA hash for an import).
    in_flight: Option<String>,
    operations: usize,
}

fn parse_report(lines: &[String]) -> Report {
    let mut r = Report::default();
    for l in lines {
        let Some(at) = l.find("@@ ") else {
            continue;
        };
        let l = &l[at + 3..];
        if let Some(rest) = l.strip_prefix("COMMITTED ") {
            r.committed = Some(Ident::parse(rest));
            r.in_flight = None;
            r.operations += 1;
        } else if let Some(rest) = l.strip_prefix("BEGIN ") {
            r.in_flight = Some(rest.to_string());
        }
    }
    r
}

#[test]
fn identity_survives_sigkill_at_any_moment() {
    let dir = std::env::temp_dir().join(format!("libsev-crash-safety-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut before = open_and_verify(&dir).expect("a fresh state directory");
    let cek = before.cek.clone();
    let exe = std::env::current_exe().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0xC4A5);
    let started = Instant::now();
    let (mut mid_op, mut changed, mut operations) = (0usize, 0usize, 0usize);
    // The kill comes after `base` plus up to 60 ms; a slow machine (the child reported
    // nothing before it died) gets more time next round.
    let mut base = Duration::from_millis(2);
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(base + Duration::from_micros(rng.next_u64() % 60_000));
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        let report = parse_report(&lines);
        operations += report.operations;
        if report.operations == 0 && report.in_flight.is_none() {
            base = (base * 2).min(Duration::from_millis(500));
        }
        let committed = report.committed.clone().unwrap_or_else(|| before.clone());

        let after = open_and_verify(&dir).unwrap_or_else(|e| {
            panic!("kill {kill} ({status}): the state directory is not usable: {e}\n{lines:#?}")
        });
        assert_eq!(
            after.cek, cek,
            "kill {kill}: the chip identity (CEK) never changes"
        );
        if after != committed {
            // Only the interrupted operation may have changed it, and only as it would.
            let op = report.in_flight.as_deref().unwrap_or_else(|| {
                panic!(
                    "kill {kill}: identity changed with no operation in flight\nreported \
                     {committed:?}\nfound {after:?}\nchild said: {lines:#?}"
                )
            });
            if op == "PDH_GEN" {
                assert_eq!(
                    (&after.pek, &after.oca),
                    (&committed.pek, &committed.oca),
                    "kill {kill}: PDH_GEN changed more than the PDH"
                );
            } else if let Some(oca) = op.strip_prefix("PEK_CERT_IMPORT ") {
                assert_eq!(after.oca, oca, "kill {kill}: imported OCA");
            }
            assert_ne!(
                after.pdh, committed.pdh,
                "kill {kill}: a new identity has a new PDH"
            );
            changed += 1;
        }
        if report.in_flight.is_some() {
            mid_op += 1;
        }
        before = after;
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "crash safety: {KILLS} SIGKILLs in {:.1?}; the child committed {operations} operations; \
         {mid_op} kills landed while an operation was in flight, {changed} of those left the \
         new identity; files left: {leftovers:?}",
        started.elapsed()
    );
    assert!(operations > 0, "the child got real work done between kills");
    assert!(mid_op > 0, "some kills interrupted an operation");
    // The state file holds private keys: owner-only permissions.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("libsev-model-state.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "state file mode {mode:o} lets others read private keys"
    );
    // A save removes what crashed writers left: at most the last crash's file remains.
    let temps = leftovers.iter().filter(|n| n.contains(".tmp-")).count();
    assert!(temps <= 1, "temporary files pile up: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

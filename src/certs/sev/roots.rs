//! Which root a chain ends at: AMD's real ARKs (pinned), the built-in model's test-only root,
//! or an unknown key.
//!
//! An ARK is identified by its *fingerprint*: SHA-384 over its signed bytes, i.e. the 64-byte
//! header (which holds the key id and usage) ‖ PUB_EXP ‖ MODULUS (`sev-spec` §5.6). That is the
//! same value the firmware compares with its fused root hash (`amd_cert_validate_ark`). The
//! fingerprints below were computed once from AMD's published ARKs and are facts about those
//! keys; a test recomputes them from the shared test data.
//!
//! Identification says nothing about the self-signature; the chain verifier checks that
//! separately (link `ArkSelf`).

use super::amd::AmdCert;
use sha2::{Digest, Sha384};

/// An AMD EPYC generation with its own legacy-SEV root.
///
/// (Rust only; C uses its `libsev_*` counterpart.)
/// cbindgen:ignore
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    Naples,
    Rome,
    Milan,
    Genoa,
    Turin,
}

impl Generation {
    /// Every generation, oldest first.
    pub const ALL: [Generation; 5] = [
        Generation::Naples,
        Generation::Rome,
        Generation::Milan,
        Generation::Genoa,
        Generation::Turin,
    ];

    /// The lower-case code name ("naples", …).
    pub fn name(self) -> &'static str {
        match self {
            Generation::Naples => "naples",
            Generation::Rome => "rome",
            Generation::Milan => "milan",
            Generation::Genoa => "genoa",
            Generation::Turin => "turin",
        }
    }

    /// The pinned facts about this generation's root.
    pub fn root(self) -> &'static AmdRoot {
        AMD_ROOTS
            .iter()
            .find(|r| r.generation == self)
            .expect("every generation has a root entry")
    }
}

/// What a chain's root key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// One of AMD's real ARKs.
    Amd(Generation),
    /// The built-in firmware model's test-only root (key id `libsev-TEST-ARK!`). Its private
    /// keys are public: a chain ending here proves nothing about real hardware.
    TestOnly,
    /// Any other key (or an ARK that could not be parsed).
    Unknown,
}

impl RootKind {
    /// A short description for messages.
    pub fn describe(self) -> String {
        match self {
            RootKind::Amd(g) => format!("AMD {} root", g.name()),
            RootKind::TestOnly => "the firmware model's test-only root".into(),
            RootKind::Unknown => "an unknown root".into(),
        }
    }
}

/// Pinned facts about one of AMD's legacy-SEV roots.
#[derive(Debug)]
pub struct AmdRoot {
    pub generation: Generation,
    /// KEY_ID of the ARK (bytes as stored at offset 0x04).
    pub ark_key_id: [u8; 16],
    /// KEY_ID of the ASK that this ARK signs.
    pub ask_key_id: [u8; 16],
    /// RSA key size of ARK and ASK, in bits.
    pub key_bits: u32,
    /// SHA-384(header ‖ PUB_EXP ‖ MODULUS) of the ARK.
    pub fingerprint: [u8; 48],
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lower-case hex digit"),
    }
}

/// Decode lower-case hex at compile time.
const fn hx<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(b.len() == 2 * N, "hex string has the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// AMD's legacy-SEV roots (key ids: `sev-spec` §5.6; fingerprints computed from the ARKs).
pub const AMD_ROOTS: [AmdRoot; 5] = [
    AmdRoot {
        generation: Generation::Naples,
        ark_key_id: hx("1bb987c359494606b174945601c9ea5b"),
        ask_key_id: hx("e139970cfc464377ae61b289e2f9e96e"),
        key_bits: 2048,
        fingerprint: hx("bf66a6df42f452d936a91a48943512517147b7d487e9c5b9\
                         ad8e53768c93d507e24a5724871ba783b4b5d714d192537f"),
    },
    AmdRoot {
        generation: Generation::Rome,
        ark_key_id: hx("e6002122fb58419399d15fee7b131351"),
        ask_key_id: hx("c6cbcf145b3146f498e40ecb4ad4fded"),
        key_bits: 4096,
        fingerprint: hx("3d2c1157c29ef7bd4207fc0c8b08db080e579ceba267f8c9\
                         3bec8dce73f5a5e2e60d959ac37ea82176c1a0c61ae203ed"),
    },
    AmdRoot {
        generation: Generation::Milan,
        ark_key_id: hx("94c38e4177d0479292a7ae671d083fb6"),
        ask_key_id: hx("73478c05cc174bfeb06e718fa75dc3c8"),
        key_bits: 4096,
        fingerprint: hx("569da618dfe64015c343db6d975e77b72fdeacd16edd02d9\
                         d09b889b8f0f1d91ffa5dfbd86f7ac574a1a7883b7a1e737"),
    },
    AmdRoot {
        generation: Generation::Genoa,
        ark_key_id: hx("9f9d4a8fe761456599f6946c4c010f3a"),
        ask_key_id: hx("acbb4ad21acc436fb3e932f812cd01b0"),
        key_bits: 4096,
        fingerprint: hx("b66e16ff0ebeed57f0c4dffa154872c4156f2e5b1c2f4e66\
                         e58fc37f1d2a60d31a342ecb6430a9b2510a970c75c37926"),
    },
    AmdRoot {
        generation: Generation::Turin,
        ark_key_id: hx("d05c3a8bde484904b49552422ceb3942"),
        ask_key_id: hx("15051693f7304d65a527b4a7f3f7cb77"),
        key_bits: 4096,
        fingerprint: hx("712a28007da1097e8c4fd3a2e8655012b27e04042323a0a3\
                         0e111fc0cf698961040c6fc3ff2053abe70432cfef411a0e"),
    },
];

/// KEY_ID of the firmware model's test-only ARK.
pub const TEST_ARK_KEY_ID: [u8; 16] = *b"libsev-TEST-ARK!";

/// SHA-384(header ‖ PUB_EXP ‖ MODULUS) of an ARK: the value roots are pinned by.
pub fn fingerprint(ark: &AmdCert) -> [u8; 48] {
    Sha384::digest(ark.signed_bytes()).into()
}

fn test_root_fingerprint() -> Option<[u8; 48]> {
    use std::sync::OnceLock;
    static FP: OnceLock<Option<[u8; 48]>> = OnceLock::new();
    *FP.get_or_init(|| {
        AmdCert::from_bytes(crate::certs::sev::test_root::ARK_CERT)
            .ok()
            .map(|c| fingerprint(&c))
    })
}

/// Identify an ARK by its fingerprint. Only the exact pinned keys are recognised: an ARK that
/// merely carries a known key id is [`RootKind::Unknown`].
pub fn identify(ark: &AmdCert) -> RootKind {
    let fp = fingerprint(ark);
    if let Some(r) = AMD_ROOTS.iter().find(|r| r.fingerprint == fp) {
        return RootKind::Amd(r.generation);
    }
    if ark.key_id() == TEST_ARK_KEY_ID && test_root_fingerprint() == Some(fp) {
        return RootKind::TestOnly;
    }
    RootKind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> Vec<u8> {
        let path = format!("{}/../shared/testdata/sev/{p}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn pinned_fingerprints_match_amds_published_arks() {
        for g in Generation::ALL {
            let ark =
                AmdCert::from_bytes(&data(&format!("builtin/{}/ark.cert", g.name()))).unwrap();
            let ask =
                AmdCert::from_bytes(&data(&format!("builtin/{}/ask.cert", g.name()))).unwrap();
            let root = g.root();
            assert_eq!(fingerprint(&ark), root.fingerprint, "{g:?} fingerprint");
            assert_eq!(ark.key_id(), root.ark_key_id, "{g:?} ARK key id");
            assert_eq!(ask.key_id(), root.ask_key_id, "{g:?} ASK key id");
            assert_eq!(ark.modulus_bits(), root.key_bits, "{g:?} size");
            assert_eq!(identify(&ark), RootKind::Amd(g));
            // An ASK is never mistaken for a root.
            assert_eq!(identify(&ask), RootKind::Unknown);
        }
    }

    #[test]
    fn test_root_is_recognised_only_by_its_exact_key() {
        let ark = AmdCert::from_bytes(crate::certs::sev::test_root::ARK_CERT).unwrap();
        assert_eq!(ark.key_id(), TEST_ARK_KEY_ID);
        assert_eq!(identify(&ark), RootKind::TestOnly);
        // Same key id, different modulus: unknown.
        let mut b = ark.as_bytes().to_vec();
        b[0x40 + 512 + 7] ^= 0x20;
        let forged = AmdCert::from_bytes(&b).unwrap();
        assert_eq!(forged.key_id(), TEST_ARK_KEY_ID);
        assert_eq!(identify(&forged), RootKind::Unknown);
    }

    #[test]
    fn a_real_key_id_on_another_key_is_unknown() {
        let rome = AmdCert::from_bytes(&data("builtin/rome/ark.cert")).unwrap();
        let mut b = rome.as_bytes().to_vec();
        b[0x40 + 512 + 100] ^= 1;
        let c = AmdCert::from_bytes(&b).unwrap();
        assert_eq!(c.key_id(), Generation::Rome.root().ark_key_id);
        assert_eq!(identify(&c), RootKind::Unknown);
    }
}

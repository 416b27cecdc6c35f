//! Verify an SNP attestation report against a verified certificate chain and a policy the
//! caller states as data (`snp-spec` §4.8 steps 1, 4–6). The verdict names every check that
//! failed (a bit each, [`Check`]) with a message for each.

use super::report::{Report, SIGNING_KEY_VCEK, SIGNING_KEY_VLEK};
use crate::certs::snp::{LeafKind, SnpGeneration, Tcb, VerifiedChain};
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha384};
use subtle::ConstantTimeEq;

/// One check of [`verify_report`]; the value is its bit in [`Verdict::failed`] (and in C's
/// `libsev_snp_verdict.failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Check {
    /// ECDSA P-384 signature over bytes 0..0x2A0 with the VCEK/VLEK.
    Signature = 1 << 0,
    /// SIGNATURE_ALGO = 1 (ECDSA P-384 with SHA-384).
    SignatureAlgo = 1 << 1,
    /// KEY_INFO.SIGNING_KEY names the kind of the chain's leaf (VCEK or VLEK).
    SigningKey = 1 << 2,
    /// The report's generation (CPUID, or the Turin chip-id form) is the chain's.
    Generation = 1 << 3,
    /// CHIP_ID equals the VCEK's hwID (a masked CHIP_ID only if allowed).
    ChipId = 1 << 4,
    /// REPORTED_TCB equals the VCEK/VLEK's TCB and has zero reserved bytes.
    ReportedTcb = 1 << 5,
    /// The certificate's TCB ≤ CURRENT_TCB component-wise, and CURRENT ≥ the minimum.
    CurrentTcb = 1 << 6,
    /// COMMITTED_TCB = CURRENT_TCB and committed version = current version (unless
    /// provisional firmware is allowed).
    CommittedTcb = 1 << 7,
    /// LAUNCH_TCB ≥ the policy's minimum launch TCB.
    LaunchTcb = 1 << 8,
    /// REPORTED_TCB ≥ the policy's minimum TCB.
    MinimumTcb = 1 << 9,
    /// MEASUREMENT equals the expected launch digest.
    Measurement = 1 << 10,
    /// HOST_DATA equals the expected value.
    HostData = 1 << 11,
    /// ID_KEY_DIGEST equals the expected digest.
    IdKeyDigest = 1 << 12,
    /// AUTHOR_KEY_DIGEST equals the expected digest and KEY_INFO.AUTHOR_KEY_EN agrees.
    AuthorKeyDigest = 1 << 13,
    /// FAMILY_ID equals the expected value.
    FamilyId = 1 << 14,
    /// IMAGE_ID equals the expected value.
    ImageId = 1 << 15,
    /// GUEST_SVN ≥ the minimum.
    GuestSvn = 1 << 16,
    /// POLICY has every required bit and no bit outside the allowed ones.
    Policy = 1 << 17,
    /// VMPL equals the expected VMPL.
    Vmpl = 1 << 18,
    /// REPORT_DATA equals the expected 64 bytes (the owner's nonce binding).
    ReportData = 1 << 19,
    /// PLATFORM_INFO has every required bit and no bit outside the allowed ones.
    PlatformInfo = 1 << 20,
    /// REPORT_ID equals the expected value.
    ReportId = 1 << 21,
    /// REPORT_ID_MA equals the expected value.
    ReportIdMa = 1 << 22,
    /// CURRENT firmware version ≥ the minimum.
    FirmwareVersion = 1 << 23,
}

impl Check {
    /// Every check, lowest bit first.
    pub const ALL: [Check; 24] = [
        Check::Signature,
        Check::SignatureAlgo,
        Check::SigningKey,
        Check::Generation,
        Check::ChipId,
        Check::ReportedTcb,
        Check::CurrentTcb,
        Check::CommittedTcb,
        Check::LaunchTcb,
        Check::MinimumTcb,
        Check::Measurement,
        Check::HostData,
        Check::IdKeyDigest,
        Check::AuthorKeyDigest,
        Check::FamilyId,
        Check::ImageId,
        Check::GuestSvn,
        Check::Policy,
        Check::Vmpl,
        Check::ReportData,
        Check::PlatformInfo,
        Check::ReportId,
        Check::ReportIdMa,
        Check::FirmwareVersion,
    ];

    /// The report field (or property) the check is about, as a short name.
    pub fn name(self) -> &'static str {
        match self {
            Check::Signature => "signature",
            Check::SignatureAlgo => "signature_algo",
            Check::SigningKey => "key_info.signing_key",
            Check::Generation => "generation",
            Check::ChipId => "chip_id",
            Check::ReportedTcb => "reported_tcb",
            Check::CurrentTcb => "current_tcb",
            Check::CommittedTcb => "committed_tcb",
            Check::LaunchTcb => "launch_tcb",
            Check::MinimumTcb => "minimum_tcb",
            Check::Measurement => "measurement",
            Check::HostData => "host_data",
            Check::IdKeyDigest => "id_key_digest",
            Check::AuthorKeyDigest => "author_key_digest",
            Check::FamilyId => "family_id",
            Check::ImageId => "image_id",
            Check::GuestSvn => "guest_svn",
            Check::Policy => "policy",
            Check::Vmpl => "vmpl",
            Check::ReportData => "report_data",
            Check::PlatformInfo => "platform_info",
            Check::ReportId => "report_id",
            Check::ReportIdMa => "report_id_ma",
            Check::FirmwareVersion => "firmware_version",
        }
    }

    /// The check of a single bit.
    pub fn from_bit(bit: u64) -> Option<Check> {
        Check::ALL.into_iter().find(|c| *c as u64 == bit)
    }
}

/// What the owner expects of a report. `None` (or zero masks) means "not checked".
#[derive(Debug, Clone, Default)]
pub struct ReportPolicy {
    pub measurement: Option<[u8; 48]>,
    pub host_data: Option<[u8; 32]>,
    pub id_key_digest: Option<[u8; 48]>,
    /// Expected AUTHOR_KEY_DIGEST; also requires KEY_INFO.AUTHOR_KEY_EN = 1.
    pub author_key_digest: Option<[u8; 48]>,
    pub family_id: Option<[u8; 16]>,
    pub image_id: Option<[u8; 16]>,
    pub min_guest_svn: Option<u32>,
    pub report_data: Option<[u8; 64]>,
    pub vmpl: Option<u32>,
    /// Bits that POLICY must have.
    pub policy_required: u64,
    /// Bits that POLICY may have (`None`: any). Bits in `policy_required` are allowed too.
    pub policy_allowed: Option<u64>,
    pub platform_info_required: u64,
    pub platform_info_allowed: Option<u64>,
    /// Minimum REPORTED_TCB and CURRENT_TCB, per component.
    pub min_tcb: Option<Tcb>,
    /// Minimum LAUNCH_TCB, per component.
    pub min_launch_tcb: Option<Tcb>,
    pub min_firmware: Option<super::report::FwVersion>,
    pub report_id: Option<[u8; 32]>,
    pub report_id_ma: Option<[u8; 32]>,
    /// Accept COMMITTED < CURRENT (provisional firmware).
    pub allow_provisional_firmware: bool,
    /// Accept a zero (masked) CHIP_ID with a VCEK.
    pub allow_masked_chip_id: bool,
}

/// The outcome of [`verify_report`]: the bits of every failed [`Check`] and a message each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub failed: u64,
    pub messages: Vec<(Check, String)>,
}

impl Verdict {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// Whether `c` failed.
    pub fn failed(&self, c: Check) -> bool {
        self.failed & c as u64 != 0
    }

    fn fail(&mut self, c: Check, msg: String) {
        self.failed |= c as u64;
        self.messages.push((c, msg));
    }

    /// One line naming every failed check: "measurement: ...; vmpl: ...".
    pub fn summary(&self) -> String {
        if self.ok() {
            return "every check passed".into();
        }
        self.messages
            .iter()
            .map(|(c, m)| format!("{}: {m}", c.name()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Verify the report's ECDSA P-384 signature with `key` (r/s little-endian in the report).
pub fn verify_signature(report: &Report, key: &p384::ecdsa::VerifyingKey) -> bool {
    let Ok(sig) = p384::ecdsa::Signature::from_scalars(report.sig_r, report.sig_s) else {
        return false;
    };
    let digest = Sha384::digest(report.signed_bytes());
    key.verify_prehash(&digest, &sig).is_ok()
}

fn bits_check(
    v: &mut Verdict,
    c: Check,
    value: u64,
    required: u64,
    allowed: Option<u64>,
    what: &str,
) {
    if value & required != required {
        v.fail(
            c,
            format!(
                "{what} {value:#x} lacks required bits {:#x}",
                required & !value
            ),
        );
    }
    if let Some(a) = allowed {
        let extra = value & !(a | required);
        if extra != 0 {
            v.fail(
                c,
                format!("{what} {value:#x} has bits {extra:#x} that are not allowed"),
            );
        }
    }
}

/// Run every check on `report` with the chain's leaf key and the caller's `policy`.
pub fn verify_report(report: &Report, chain: &VerifiedChain, policy: &ReportPolicy) -> Verdict {
    let mut v = Verdict::default();
    let g: SnpGeneration = chain.generation;
    if !verify_signature(report, chain.key()) {
        v.fail(
            Check::Signature,
            "the report's signature does not verify with the VCEK/VLEK".into(),
        );
    }
    if report.signature_algo != 1 {
        v.fail(
            Check::SignatureAlgo,
            format!(
                "SIGNATURE_ALGO is {}, not 1 (ECDSA P-384)",
                report.signature_algo
            ),
        );
    }
    let want_key = match chain.leaf_kind {
        LeafKind::Vcek => SIGNING_KEY_VCEK,
        LeafKind::Vlek => SIGNING_KEY_VLEK,
    };
    if report.signing_key() != want_key {
        v.fail(
            Check::SigningKey,
            format!(
                "KEY_INFO.SIGNING_KEY is {} but the chain's leaf is a {:?}",
                report.signing_key(),
                chain.leaf_kind
            ),
        );
    }
    match report.generation() {
        Some(rg) if rg != g => v.fail(
            Check::Generation,
            format!("the report is from a {rg:?} processor, the chain is {g:?}'s"),
        ),
        None if report.cpuid.is_some() => v.fail(
            Check::Generation,
            format!(
                "CPUID family/model {:02x?} is not a known SNP generation",
                report.cpuid
            ),
        ),
        _ => {}
    }
    if let Some(hw) = &chain.hw_id {
        let chip = report.chip_id_for(g);
        let masked = report.chip_id.iter().all(|b| *b == 0);
        if masked {
            if !policy.allow_masked_chip_id {
                v.fail(Check::ChipId, "CHIP_ID is masked (zero)".into());
            }
        } else if !ct_eq(chip, hw) || report.chip_id[chip.len()..].iter().any(|b| *b != 0) {
            v.fail(
                Check::ChipId,
                format!("CHIP_ID {} is not the VCEK's hwID {}", hex(chip), hex(hw)),
            );
        }
    }
    let reported = Tcb::from_u64(report.reported_tcb, g);
    if reported != chain.tcb || !Tcb::reserved_clear(report.reported_tcb, g) {
        v.fail(
            Check::ReportedTcb,
            format!(
                "REPORTED_TCB {:#018x} ({reported}) is not the certificate's ({})",
                report.reported_tcb, chain.tcb
            ),
        );
    }
    let current = Tcb::from_u64(report.current_tcb, g);
    if let Err(c) = current.at_least(&chain.tcb) {
        v.fail(
            Check::CurrentTcb,
            format!("CURRENT_TCB's {c} is below the certificate's TCB"),
        );
    }
    if let Some(min) = &policy.min_tcb {
        if let Err(c) = reported.at_least(min) {
            v.fail(
                Check::MinimumTcb,
                format!("REPORTED_TCB's {c} is below the minimum"),
            );
        }
        if let Err(c) = current.at_least(min) {
            v.fail(
                Check::CurrentTcb,
                format!("CURRENT_TCB's {c} is below the minimum"),
            );
        }
    }
    let committed = Tcb::from_u64(report.committed_tcb, g);
    if policy.allow_provisional_firmware {
        if let Err(c) = current.at_least(&committed) {
            v.fail(
                Check::CommittedTcb,
                format!("COMMITTED_TCB's {c} is above CURRENT_TCB"),
            );
        }
        if report.committed_version > report.current_version {
            v.fail(
                Check::CommittedTcb,
                "the committed firmware version is above the current one".into(),
            );
        }
    } else if report.committed_tcb != report.current_tcb
        || report.committed_version != report.current_version
    {
        v.fail(
            Check::CommittedTcb,
            format!(
                "committed TCB/version ({:#018x}, {}) differ from current ({:#018x}, {}) \
                 (provisional firmware not allowed)",
                report.committed_tcb,
                report.committed_version,
                report.current_tcb,
                report.current_version
            ),
        );
    }
    if let Some(min) = &policy.min_launch_tcb
        && let Err(c) = Tcb::from_u64(report.launch_tcb, g).at_least(min)
    {
        v.fail(
            Check::LaunchTcb,
            format!("LAUNCH_TCB's {c} is below the minimum"),
        );
    }
    if let Some(min) = policy.min_firmware
        && report.current_version < min
    {
        v.fail(
            Check::FirmwareVersion,
            format!(
                "firmware {} is below the minimum {min}",
                report.current_version
            ),
        );
    }
    let eq = |v: &mut Verdict, c: Check, got: &[u8], want: Option<&[u8]>| {
        if let Some(w) = want
            && !ct_eq(got, w)
        {
            v.fail(c, format!("is {}, expected {}", hex(got), hex(w)));
        }
    };
    eq(
        &mut v,
        Check::Measurement,
        &report.measurement,
        policy.measurement.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::HostData,
        &report.host_data,
        policy.host_data.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::IdKeyDigest,
        &report.id_key_digest,
        policy.id_key_digest.as_ref().map(|x| &x[..]),
    );
    if let Some(a) = &policy.author_key_digest {
        eq(
            &mut v,
            Check::AuthorKeyDigest,
            &report.author_key_digest,
            Some(a),
        );
        if !report.author_key_en() {
            v.fail(Check::AuthorKeyDigest, "KEY_INFO.AUTHOR_KEY_EN is 0".into());
        }
    }
    eq(
        &mut v,
        Check::FamilyId,
        &report.family_id,
        policy.family_id.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::ImageId,
        &report.image_id,
        policy.image_id.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::ReportData,
        &report.report_data,
        policy.report_data.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::ReportId,
        &report.report_id,
        policy.report_id.as_ref().map(|x| &x[..]),
    );
    eq(
        &mut v,
        Check::ReportIdMa,
        &report.report_id_ma,
        policy.report_id_ma.as_ref().map(|x| &x[..]),
    );
    if let Some(min) = policy.min_guest_svn
        && report.guest_svn < min
    {
        v.fail(
            Check::GuestSvn,
            format!("GUEST_SVN {} is below {min}", report.guest_svn),
        );
    }
    if let Some(w) = policy.vmpl
        && report.vmpl != w
    {
        v.fail(
            Check::Vmpl,
            format!("VMPL is {}, expected {w}", report.vmpl),
        );
    }
    bits_check(
        &mut v,
        Check::Policy,
        report.policy,
        policy.policy_required,
        policy.policy_allowed,
        "POLICY",
    );
    bits_check(
        &mut v,
        Check::PlatformInfo,
        report.platform_info,
        policy.platform_info_required,
        policy.platform_info_allowed,
        "PLATFORM_INFO",
    );
    v
}

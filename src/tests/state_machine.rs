//! Property test of the guest state machine: random sequences of guest commands (launch, send
//! and receive sides) with valid and invalid arguments (lengths, alignments, sessions,
//! policies) against the firmware model through `sev::api::Guest`. Every response is compared
//! with a small reference of the rules (sev-spec §2.6 allowed states and resulting states,
//! §2.7 check order for the cheap checks modelled here, and the KVM layer's own refusals of
//! §1.8), and GUEST_STATUS must always show exactly the state the reference is in — never one
//! the firmware could not reach.
//!
//! Deterministic: a fixed seed (override with `LIBSEV_SM_SEED`), `SEQUENCES` × `STEPS`
//! commands (override the count with `LIBSEV_SM_SEQUENCES`). A failure prints the seed, the
//! sequence number and the command history.

// SNP guests: their own reference, in a file of their own.
#[path = "state_machine_snp.rs"]
mod snp;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sev::api::{Guest, Platform};
use sev::certs::SevCert;
use sev::model::ModelConfig;
use sev::owner::{FirmwareVersion, SecretOptions, Session};
use sev::status::Status;

const SEQUENCES: usize = 300;
const STEPS: usize = 30;
const SEED: u64 = 0x5e5_5747e;

/// Firmware statuses (sev-spec §2.2).
const INVALID_GUEST_STATE: u32 = 0x02;
const INVALID_LENGTH: u32 = 0x04;
const INVALID_CERTIFICATE: u32 = 0x06;
const POLICY_FAILURE: u32 = 0x07;
const INVALID_ADDRESS: u32 = 0x09;
const BAD_MEASUREMENT: u32 = 0x0B;
const ASID_OWNED: u32 = 0x0C;

/// Policy bits (sev-spec §3).
const NODBG: u32 = 1;
const NOKS: u32 = 2;
const NOSEND: u32 = 8;
const RESERVED_BIT6: u32 = 0x40;
const API_TOO_NEW: u32 = 0xFF << 16;
const POLICIES: [u32; 7] = [
    0,
    NODBG,
    NOKS,
    NOSEND,
    NODBG | NOSEND,
    RESERVED_BIT6,
    API_TOO_NEW,
];

/// Guest states (sev-spec §2.6); 0 = no guest (no handle yet).
const NONE: u32 = 0;
const LUPDATE: u32 = 1;
const LSECRET: u32 = 2;
const RUNNING: u32 = 3;
const SUPDATE: u32 = 4;
const RUPDATE: u32 = 5;
const SENT: u32 = 6;

/// What a command must return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exp {
    Ok,
    /// Failed in the firmware with this status (errno EIO).
    Fw(u32),
    /// Refused by the KVM layer before the firmware ran (fw_error 0), with this errno.
    Os(i32),
}

fn outcome<T>(r: &sev::Result<T>) -> Exp {
    match r {
        Ok(_) => Exp::Ok,
        Err(e) if e.fw_error != 0 => {
            assert_eq!(
                e.os_errno,
                libc::EIO,
                "firmware failures come with EIO: {e}"
            );
            assert_eq!(
                e.status,
                Status::from_fw(e.fw_error),
                "status maps the fw code"
            );
            Exp::Fw(e.fw_error)
        }
        Err(e) => {
            assert_ne!(
                e.os_errno, 0,
                "an error has a firmware status or an errno: {e}"
            );
            Exp::Os(e.os_errno)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum SessionKind {
    None,
    Valid,
    /// A session for another policy: the policy MAC fails.
    OtherPolicy,
    /// A flipped bit in the wrapped-key MAC.
    BadWrapMac,
    /// 127-byte session.
    ShortSession,
    /// 2083-byte GODH.
    ShortGodh,
    /// GODH with the usage of a PEK (0x1002).
    WrongUsageGodh,
    /// GODH without a session: the session length is 0.
    GodhOnly,
    /// A session without a GODH: no channel is opened and the policy is not checked.
    SessionOnly,
}

#[derive(Debug, Clone, Copy)]
enum SecretKind {
    Valid,
    FlippedCiphertext,
    Misaligned,
    ShortHeader,
    LengthMismatch,
}

#[derive(Debug, Clone, Copy)]
enum RecvKind {
    Valid,
    /// A flipped bit in the session's wrapped keys.
    BadSession,
    /// 127-byte session.
    ShortSession,
    /// The source's session with another policy than the guest's (policy MAC).
    OtherPolicy,
}

#[derive(Debug, Clone, Copy)]
enum PacketKind {
    Valid,
    Flipped,
    Misaligned,
    ShortHeader,
}

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Init,
    LaunchStart {
        policy: u32,
        session: SessionKind,
    },
    UpdateData {
        off: usize,
        len: usize,
    },
    Measure,
    Secret(SecretKind),
    Finish,
    Status,
    Dbg {
        decrypt: bool,
        off: usize,
        len: usize,
    },
    Attestation,
    SendStart,
    SendUpdate {
        len: usize,
    },
    SendFinish,
    SendCancel,
    ReceiveStart(RecvKind),
    ReceiveUpdate(PacketKind),
    ReceiveFinish,
    NewGuest,
}

/// The reference: what the firmware and KVM know about this guest.
struct Ref {
    init: bool,
    state: u32,
    policy: u32,
    /// The owner's session when the launch had a valid one.
    session: Option<Session>,
    /// Whether the owner verified the measurement (the secret MAC can then match).
    measured: bool,
    /// A packet of the migration source for the channel this guest received with.
    packet: Option<(Vec<u8>, Vec<u8>)>,
}

impl Ref {
    fn new() -> Ref {
        Ref {
            init: false,
            state: NONE,
            policy: 0,
            session: None,
            measured: false,
            packet: None,
        }
    }
    /// KVM's refusals before any firmware call: not an SEV VM, then no guest handle bound.
    fn kvm(&self) -> Option<Exp> {
        if !self.init {
            Some(Exp::Os(libc::ENOTTY))
        } else if self.state == NONE {
            Some(Exp::Os(libc::EBADF))
        } else {
            None
        }
    }
    fn need_state(&self, ok: &[u32]) -> Option<Exp> {
        (!ok.contains(&self.state)).then_some(Exp::Fw(INVALID_GUEST_STATE))
    }
}

/// Page-aligned guest memory.
struct Mem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Mem {
    fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, layout }
    }
    fn at(&self, off: usize) -> *mut u8 {
        assert!(off < self.layout.size());
        // SAFETY: inside the allocation.
        unsafe { self.ptr.add(off) }
    }
    fn slice(&self, off: usize, len: usize) -> &[u8] {
        assert!(off + len <= self.layout.size());
        // SAFETY: inside the allocation, initialised (alloc_zeroed), not written meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

const MEM: usize = 4 * 4096;

struct World {
    platform: Platform,
    pdh: SevCert,
    version: FirmwareVersion,
    /// The migration target: PDH, PEK ‖ OCA ‖ CEK, ASK ‖ ARK.
    target: (Vec<u8>, Vec<u8>, Vec<u8>),
    /// A RUNNING guest on the target platform, which also serves as a migration source
    /// towards `platform` (SEND_START, one packet, SEND_CANCEL per RECEIVE_START), and the
    /// platform's own chain it sends to, and the source's PDH.
    source: std::cell::RefCell<Guest>,
    own_chain: (Vec<u8>, Vec<u8>, Vec<u8>),
    source_pdh: Vec<u8>,
    source_mem: Mem,
    _target_platform: Platform,
}

fn model(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .expect("model platform")
}

fn world() -> World {
    let platform = model(21);
    let tp = model(22);
    let (pdh, _) = platform.pdh_cert_export().unwrap();
    let (tpdh, tchain) = tp.pdh_cert_export().unwrap();
    let amd = tp.model().unwrap().amd_ask_ark();
    let st = platform.status().unwrap();
    let source_mem = Mem::new(4096);
    let mut source = Guest::new(&tp).unwrap();
    source.init().unwrap();
    source.launch_start(0, 0, None, None).unwrap();
    // SAFETY: `source_mem` is ours, one page, and lives in the World with the guest.
    unsafe { source.launch_update_data(source_mem.at(0), 4096) }.unwrap();
    source.launch_measure().unwrap();
    source.launch_finish().unwrap();
    let (_, own) = platform.pdh_cert_export().unwrap();
    let own_amd = platform.model().unwrap().amd_ask_ark();
    World {
        source: std::cell::RefCell::new(source),
        own_chain: (pdh.clone(), own, own_amd),
        source_pdh: tpdh.clone(),
        source_mem,
        pdh: SevCert::from_bytes(&pdh).unwrap(),
        version: FirmwareVersion::new(st.api_major, st.api_minor, st.build),
        platform,
        target: (tpdh, tchain, amd),
        _target_platform: tp,
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.next_u32() as usize % items.len()]
}

/// A LAUNCH_START with one of the policies and session variants.
fn gen_launch(rng: &mut ChaCha8Rng) -> Cmd {
    use SessionKind as S;
    let session = pick(
        rng,
        &[
            S::None,
            S::Valid,
            S::Valid,
            S::Valid,
            S::OtherPolicy,
            S::BadWrapMac,
            S::ShortSession,
            S::ShortGodh,
            S::WrongUsageGodh,
            S::GodhOnly,
            S::SessionOnly,
        ],
    );
    Cmd::LaunchStart {
        policy: pick(rng, &POLICIES),
        session,
    }
}

fn gen_cmd(rng: &mut ChaCha8Rng, r: &Ref) -> Cmd {
    if !r.init && rng.next_u32() % 4 != 0 {
        return Cmd::Init;
    }
    if r.init && r.state == NONE && rng.next_u32() % 3 != 0 {
        if rng.next_u32() % 4 == 0 {
            return Cmd::ReceiveStart(pick(rng, &[RecvKind::Valid, RecvKind::BadSession]));
        }
        return gen_launch(rng);
    }
    match rng.next_u32() % 17 {
        0 => Cmd::Init,
        1 | 2 => Cmd::UpdateData {
            off: pick(rng, &[0, 0, 16, 8, 4096]),
            len: pick(rng, &[16, 4096, 4096, 24, 0]),
        },
        3 | 4 => Cmd::Measure,
        5 | 6 => Cmd::Secret(pick(
            rng,
            &[
                SecretKind::Valid,
                SecretKind::Valid,
                SecretKind::FlippedCiphertext,
                SecretKind::Misaligned,
                SecretKind::ShortHeader,
                SecretKind::LengthMismatch,
            ],
        )),
        7 | 8 => Cmd::Finish,
        9 => Cmd::Status,
        10 => Cmd::Dbg {
            decrypt: rng.next_u32() % 2 == 0,
            off: pick(rng, &[0, 16, 8]),
            len: pick(rng, &[16, 4096, 0, 40]),
        },
        11 => Cmd::Attestation,
        12 => Cmd::SendStart,
        13 => Cmd::SendUpdate {
            len: pick(rng, &[16, 4096, 24]),
        },
        14 => pick(rng, &[Cmd::SendFinish, Cmd::SendCancel]),
        15 => match rng.next_u32() % 4 {
            0 => Cmd::ReceiveStart(pick(
                rng,
                &[
                    RecvKind::Valid,
                    RecvKind::Valid,
                    RecvKind::BadSession,
                    RecvKind::ShortSession,
                    RecvKind::OtherPolicy,
                ],
            )),
            1 | 2 => Cmd::ReceiveUpdate(pick(
                rng,
                &[
                    PacketKind::Valid,
                    PacketKind::Valid,
                    PacketKind::Flipped,
                    PacketKind::Misaligned,
                    PacketKind::ShortHeader,
                ],
            )),
            _ => Cmd::ReceiveFinish,
        },
        _ => match rng.next_u32() % 3 {
            0 => Cmd::NewGuest,
            // Again on a launched guest: the VM's ASID is taken by its first guest.
            1 => gen_launch(rng),
            _ => Cmd::Status,
        },
    }
}

/// GODH and session bytes for a LAUNCH_START, and the session when it is the real one.
fn session_bytes(
    w: &World,
    policy: u32,
    kind: SessionKind,
) -> (Option<Vec<u8>>, Option<Vec<u8>>, Option<Session>) {
    use SessionKind as S;
    let make = |p: u32| Session::new(&w.pdh, p).ok();
    let parts = |s: &Session| {
        (
            s.godh().unwrap().as_bytes().to_vec(),
            s.blob().unwrap().to_vec(),
        )
    };
    match kind {
        S::None => (None, None, None),
        S::Valid => match make(policy) {
            Some(s) => {
                let (g, b) = parts(&s);
                (Some(g), Some(b), Some(s))
            }
            // The owner side refuses policies with reserved bits: a session made for another
            // policy stands in (its policy MAC then fails).
            None => session_bytes(w, policy, S::OtherPolicy),
        },
        S::OtherPolicy => {
            let s = make(policy ^ NODBG).or_else(|| make(NODBG)).unwrap();
            let (g, b) = parts(&s);
            (Some(g), Some(b), None)
        }
        S::BadWrapMac => {
            let (g, mut b) = parts(&make(0).unwrap());
            b[64] ^= 1;
            (Some(g), Some(b), None)
        }
        S::ShortSession => {
            let (g, mut b) = parts(&make(0).unwrap());
            b.pop();
            (Some(g), Some(b), None)
        }
        S::ShortGodh => {
            let (mut g, b) = parts(&make(0).unwrap());
            g.pop();
            (Some(g), Some(b), None)
        }
        S::WrongUsageGodh => {
            let (mut g, b) = parts(&make(0).unwrap());
            g[8..12].copy_from_slice(&0x1002u32.to_le_bytes());
            (Some(g), Some(b), None)
        }
        S::GodhOnly => {
            let (g, _) = parts(&make(0).unwrap());
            (Some(g), None, None)
        }
        S::SessionOnly => {
            let (_, b) = parts(&make(0).unwrap());
            (None, Some(b), None)
        }
    }
}

#[path = "state_machine_step.rs"]
mod step_impl;
use step_impl::step;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_guest_command_sequences_follow_the_firmware_rules() {
    let seed = env_num("LIBSEV_SM_SEED", SEED);
    let sequences = env_num("LIBSEV_SM_SEQUENCES", SEQUENCES as u64) as usize;
    // LIBSEV_SM_VERBOSE=1 prints every command as it is issued.
    let verbose = std::env::var_os("LIBSEV_SM_VERBOSE").is_some();
    let w = world();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mem = Mem::new(MEM);
    let mut counts = std::collections::BTreeMap::<String, [usize; 2]>::new();
    let started = std::time::Instant::now();
    for seq in 0..sequences {
        let mut g = Guest::new(&w.platform).unwrap();
        let mut r = Ref::new();
        let mut history = Vec::new();
        for _ in 0..STEPS {
            let cmd = gen_cmd(&mut rng, &r);
            history.push(format!("{cmd:?} in state {} (init {})", r.state, r.init));
            if verbose {
                eprintln!("sequence {seq}: {}", history.last().unwrap());
            }
            let (exp, got) = step(&w, &mut g, &mut r, &mem, cmd);
            let name = format!("{cmd:?}");
            let name = name.split([' ', '(']).next().unwrap().to_string();
            counts.entry(name).or_default()[(got == Exp::Ok) as usize] += 1;
            assert_eq!(
                got,
                exp,
                "seed {seed:#x}, sequence {seq}: {cmd:?}\nhistory:\n  {}",
                history.join("\n  ")
            );
            // GUEST_STATUS agrees with the reference after every command.
            if r.init && r.state != NONE {
                let s = g.status().expect("GUEST_STATUS of a launched guest");
                assert!(
                    [LUPDATE, LSECRET, RUNNING, SUPDATE, RUPDATE, SENT].contains(&s.state),
                    "unreachable state {} for a launched guest",
                    s.state
                );
                assert_eq!(
                    s.state,
                    r.state,
                    "seed {seed:#x}, sequence {seq}: state after {cmd:?}\nhistory:\n  {}",
                    history.join("\n  ")
                );
            }
        }
    }
    // Every guest was freed: the platform has none left.
    let st = w.platform.status().unwrap();
    assert_eq!(
        st.guest_count, 0,
        "guests left after the sequences were dropped"
    );
    eprintln!(
        "state machine: {sequences} sequences x {STEPS} commands in {:.1?} (seed {seed:#x}); \
         per command [failed, succeeded]: {counts:?}",
        started.elapsed()
    );
    // The generator reached every kind of command, and the interesting ones both ways.
    for c in [
        "LaunchStart",
        "UpdateData",
        "Measure",
        "Secret",
        "Finish",
        "SendStart",
        "ReceiveStart",
        "ReceiveUpdate",
        "ReceiveFinish",
    ] {
        let [bad, good] = counts.get(c).copied().unwrap_or_default();
        assert!(bad > 0 && good > 0, "{c}: {bad} refused, {good} accepted");
    }
}

/// Found by the sequences above (DBG_ENCRYPT of a page from a page-aligned source to a
/// destination 8 bytes into a granule): the model decrypted the destination's
/// `round_up(8 + 4096, 16)`-byte span into a one-page bounce buffer, 16 bytes past its end
/// (heap corruption, then a panic). Now the whole page arrives and nothing else is touched.
#[test]
fn dbg_encrypt_of_a_page_to_an_unaligned_destination_stays_in_bounds() {
    let p = model(23);
    let mut g = Guest::new(&p).unwrap();
    g.init().unwrap();
    g.launch_start(0, 0, None, None).unwrap();
    let src = Mem::new(4096);
    let pattern: Vec<u8> = (0..4096).map(|i| (i * 7 % 251) as u8).collect();
    // SAFETY: 4096 bytes of `src`, ours.
    unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), src.at(0), 4096) };
    let dst = Mem::new(3 * 4096);
    for off in [8usize, 4] {
        // SAFETY: `src` holds 4096 bytes; `dst` holds `off + 4096` ≤ 3 pages.
        unsafe { g.dbg_encrypt(src.at(0), dst.at(4096 + off), 4096) }
            .expect("DBG_ENCRYPT to an unaligned destination");
        // As in KVM, the re-encrypted span is round_up(size, 16) bytes from the rounded-down
        // destination, so its last `off` bytes are not written; the rest reads back.
        let n = 4096 - off;
        let out = Mem::new(4096);
        // SAFETY: `n` bytes inside `dst` and `out`.
        unsafe { g.dbg_decrypt(dst.at(4096 + off), out.at(0), n) }.expect("DBG_DECRYPT");
        assert_eq!(out.slice(0, n), &pattern[..n], "offset {off}");
    }
    assert_eq!(
        dst.slice(0, 4096),
        &[0u8; 4096][..],
        "the page before is untouched"
    );
}

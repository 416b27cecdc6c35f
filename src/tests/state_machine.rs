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

/// Issue one command; returns (expected, observed).
fn step(w: &World, g: &mut Guest, r: &mut Ref, mem: &Mem, cmd: Cmd) -> (Exp, Exp) {
    use SessionKind as S;
    match cmd {
        Cmd::Init => {
            let exp = if r.init {
                Exp::Os(libc::EINVAL)
            } else {
                Exp::Ok
            };
            let got = outcome(&g.init());
            if got == Exp::Ok {
                r.init = true;
            }
            (exp, got)
        }
        Cmd::LaunchStart { policy, session } => {
            let (godh, blob, owner) = session_bytes(w, policy, session);
            let channel = godh.is_some();
            let exp = if !r.init {
                Exp::Os(libc::ENOTTY)
            } else if !channel {
                // No GODH: no session is opened and the policy is not checked at all.
                Exp::Ok
            } else {
                match session {
                    S::ShortSession | S::GodhOnly => Exp::Fw(INVALID_LENGTH),
                    S::ShortGodh => Exp::Fw(INVALID_LENGTH),
                    S::WrongUsageGodh => Exp::Fw(INVALID_CERTIFICATE),
                    S::BadWrapMac | S::OtherPolicy => Exp::Fw(BAD_MEASUREMENT),
                    S::Valid if owner.is_none() => Exp::Fw(BAD_MEASUREMENT),
                    S::Valid if policy & 0xFFC0 != 0 || policy >> 16 != 0 => {
                        Exp::Fw(POLICY_FAILURE)
                    }
                    _ => Exp::Ok,
                }
            };
            // A second LAUNCH_START on a VM passes the firmware's own checks, but KVM then
            // activates the new guest with the VM's ASID, which the first guest owns: the new
            // guest is decommissioned and the first one is untouched.
            let relaunch = r.state != NONE;
            let exp = match exp {
                Exp::Ok if relaunch => Exp::Fw(ASID_OWNED),
                e => e,
            };
            let handle_before = g.handle();
            let got = outcome(&g.launch_start(policy, 0, godh.as_deref(), blob.as_deref()));
            if relaunch {
                assert_eq!(g.handle(), handle_before, "the first guest's handle stays");
            } else if got == Exp::Ok {
                assert_ne!(g.handle(), 0);
                r.state = LUPDATE;
                r.policy = policy;
                r.session = owner;
                r.measured = false;
            } else {
                assert_eq!(g.handle(), 0, "no handle after a failed LAUNCH_START");
            }
            if relaunch {
                assert_ne!(got, Exp::Ok, "a VM launches one guest");
            }
            (exp, got)
        }
        Cmd::UpdateData { off, len } => {
            let exp = if !r.init {
                Exp::Os(libc::ENOTTY)
            } else if len == 0 {
                // KVM cannot pin an empty range.
                Exp::Os(libc::EINVAL)
            } else if let Some(e) = r.kvm() {
                e
            } else if let Some(e) = r.need_state(&[LUPDATE]) {
                e
            } else if off % 16 != 0 {
                Exp::Fw(INVALID_ADDRESS)
            } else if len % 16 != 0 {
                Exp::Fw(INVALID_LENGTH)
            } else {
                Exp::Ok
            };
            let plain = mem.slice(off, len).to_vec();
            // SAFETY: `off + len` ≤ MEM; the memory is ours and not otherwise accessed.
            let got = outcome(&unsafe { g.launch_update_data(mem.at(off), len) });
            if got == Exp::Ok {
                if let Some(s) = r.session.as_mut() {
                    s.measure_update(&plain).unwrap();
                }
                assert_ne!(mem.slice(off, len), &plain[..], "encrypted in place");
            }
            (exp, got)
        }
        Cmd::Measure => {
            let exp = r
                .kvm()
                .or_else(|| r.need_state(&[LUPDATE]))
                .unwrap_or(Exp::Ok);
            let res = g.launch_measure();
            let got = outcome(&res);
            if let Ok(m) = res {
                r.state = LSECRET;
                if let Some(s) = r.session.as_mut() {
                    s.verify_measurement(w.version, &m)
                        .expect("the owner's measurement matches the firmware's");
                    r.measured = true;
                }
            }
            (exp, got)
        }
        Cmd::Secret(kind) => {
            let (mut hdr, mut trans) = match (&r.session, r.measured) {
                (Some(s), true) => {
                    let p = s
                        .package_secret(&[0x42; 32], SecretOptions::default())
                        .unwrap();
                    (p.header.to_vec(), p.ciphertext)
                }
                _ => (vec![0u8; 52], vec![0x42; 32]),
            };
            let (mut off, mut guest_len) = (4096, trans.len());
            match kind {
                SecretKind::Valid => {}
                SecretKind::FlippedCiphertext => trans[5] ^= 1,
                SecretKind::Misaligned => off += 8,
                SecretKind::ShortHeader => {
                    hdr.pop();
                }
                SecretKind::LengthMismatch => guest_len = 16,
            }
            let mac_ok = matches!(kind, SecretKind::Valid) && r.measured && r.session.is_some();
            let exp = r.kvm().unwrap_or(if off % 16 != 0 {
                Exp::Fw(INVALID_ADDRESS)
            } else if hdr.len() != 52 || guest_len != trans.len() {
                Exp::Fw(INVALID_LENGTH)
            } else if r.state != LSECRET {
                Exp::Fw(INVALID_GUEST_STATE)
            } else if !mac_ok {
                Exp::Fw(BAD_MEASUREMENT)
            } else {
                Exp::Ok
            });
            // SAFETY: `off + guest_len` ≤ MEM; ours, not otherwise accessed.
            let got = outcome(&unsafe { g.launch_secret(&hdr, mem.at(off), guest_len, &trans) });
            (exp, got)
        }
        Cmd::Finish => {
            let exp = r
                .kvm()
                .or_else(|| r.need_state(&[LSECRET]))
                .unwrap_or(Exp::Ok);
            let got = outcome(&g.launch_finish());
            if got == Exp::Ok {
                r.state = RUNNING;
            }
            (exp, got)
        }
        Cmd::Status => {
            let exp = r.kvm().unwrap_or(Exp::Ok);
            let res = g.status();
            if let Ok(s) = &res {
                assert_eq!(s.state, r.state, "GUEST_STATUS state");
                assert_eq!(s.policy, r.policy, "GUEST_STATUS policy");
                assert_eq!(s.handle, g.handle());
            }
            (exp, outcome(&res))
        }
        Cmd::Dbg { decrypt, off, len } => {
            let exp = if !r.init {
                Exp::Os(libc::ENOTTY)
            } else if len == 0 {
                Exp::Os(libc::EINVAL)
            } else if let Some(e) = r.kvm() {
                e
            } else if r.policy & NODBG != 0 {
                Exp::Fw(POLICY_FAILURE)
            } else {
                Exp::Ok
            };
            let mut out = vec![0u8; 4096 + 64];
            // SAFETY: `off + len` ≤ MEM and `len` ≤ out.len(); both ours.
            let res = unsafe {
                if decrypt {
                    g.dbg_decrypt(mem.at(off), out.as_mut_ptr(), len)
                } else {
                    g.dbg_encrypt(out.as_ptr(), mem.at(2 * 4096 + off), len)
                }
            };
            (exp, outcome(&res))
        }
        Cmd::Attestation => {
            let exp = r
                .kvm()
                .or_else(|| r.need_state(&[LSECRET, RUNNING, SUPDATE, SENT]))
                .unwrap_or(Exp::Ok);
            let res = g.attestation_report([7; 16]);
            if let Ok(rep) = &res {
                assert_eq!(rep.len(), 0xD0);
            }
            (exp, outcome(&res))
        }
        Cmd::SendStart => {
            let exp = r.kvm().unwrap_or(if r.state != RUNNING {
                Exp::Fw(INVALID_GUEST_STATE)
            } else if r.policy & NOSEND != 0 {
                Exp::Fw(POLICY_FAILURE)
            } else {
                Exp::Ok
            });
            let (pdh, chain, amd) = &w.target;
            let res = g.send_start(pdh, chain, amd);
            if let Ok((session, policy)) = &res {
                assert_eq!((session.len(), *policy), (128, r.policy));
                r.state = SUPDATE;
            }
            (exp, outcome(&res))
        }
        Cmd::SendUpdate { len } => {
            let exp = r.kvm().unwrap_or(if r.state != SUPDATE {
                Exp::Fw(INVALID_GUEST_STATE)
            } else if len % 16 != 0 {
                Exp::Fw(INVALID_LENGTH)
            } else {
                Exp::Ok
            });
            let mut hdr = [0u8; 52];
            let mut trans = vec![0u8; len];
            // SAFETY: `len` ≤ MEM bytes of our memory.
            let res = unsafe { g.send_update_data(mem.at(0), len, &mut hdr, &mut trans) };
            (exp, outcome(&res))
        }
        Cmd::SendFinish | Cmd::SendCancel => {
            let exp = r
                .kvm()
                .or_else(|| r.need_state(&[SUPDATE]))
                .unwrap_or(Exp::Ok);
            let cancel = matches!(cmd, Cmd::SendCancel);
            let res = if cancel {
                g.send_cancel()
            } else {
                g.send_finish()
            };
            if res.is_ok() {
                r.state = if cancel { RUNNING } else { SENT };
            }
            (exp, outcome(&res))
        }
        Cmd::ReceiveStart(kind) => {
            // The source opens a channel to this platform, sends one packet, and cancels
            // (the session and packet stay valid for the receiving firmware).
            let (mut session, packet) = {
                let mut src = w.source.borrow_mut();
                let (pdh, chain, amd) = &w.own_chain;
                let (session, policy) = src.send_start(pdh, chain, amd).unwrap();
                assert_eq!(policy, 0);
                let mut hdr = [0u8; 52];
                let mut trans = vec![0u8; 32];
                // SAFETY: 32 bytes of the source's mapped page.
                unsafe { src.send_update_data(w.source_mem.at(0), 32, &mut hdr, &mut trans) }
                    .unwrap();
                src.send_cancel().unwrap();
                (session, (hdr.to_vec(), trans))
            };
            let mut policy = 0;
            match kind {
                RecvKind::Valid => {}
                RecvKind::BadSession => session[20] ^= 1,
                RecvKind::ShortSession => {
                    session.pop();
                }
                RecvKind::OtherPolicy => policy = NODBG,
            }
            let fresh = match kind {
                RecvKind::Valid => Exp::Ok,
                RecvKind::ShortSession => Exp::Fw(INVALID_LENGTH),
                RecvKind::BadSession | RecvKind::OtherPolicy => Exp::Fw(BAD_MEASUREMENT),
            };
            let relaunch = r.state != NONE;
            let exp = if !r.init {
                Exp::Os(libc::ENOTTY)
            } else if relaunch && fresh == Exp::Ok {
                Exp::Fw(ASID_OWNED)
            } else {
                fresh
            };
            let before = g.handle();
            let got = outcome(&g.receive_start(policy, &w.source_pdh, &session, 0));
            if got == Exp::Ok {
                assert!(!relaunch);
                r.state = RUPDATE;
                r.policy = policy;
                r.session = None;
                r.measured = false;
                r.packet = Some(packet);
            } else {
                assert_eq!(
                    g.handle(),
                    before,
                    "a failed RECEIVE_START changes no handle"
                );
            }
            (exp, got)
        }
        Cmd::ReceiveUpdate(kind) => {
            let (mut hdr, mut trans) = r
                .packet
                .clone()
                .unwrap_or_else(|| (vec![0u8; 52], vec![0x42; 32]));
            let mut off = 3 * 4096;
            match kind {
                PacketKind::Valid => {}
                PacketKind::Flipped => trans[3] ^= 0x10,
                PacketKind::Misaligned => off += 8,
                PacketKind::ShortHeader => {
                    hdr.pop();
                }
            }
            // KVM takes RECEIVE_UPDATE_DATA only on an SEV VM (EINVAL otherwise).
            let exp = if !r.init {
                Exp::Os(libc::EINVAL)
            } else if let Some(e) = r.kvm() {
                e
            } else if r.state != RUPDATE {
                Exp::Fw(INVALID_GUEST_STATE)
            } else if hdr.len() < 52 {
                Exp::Fw(INVALID_LENGTH)
            } else if off % 16 != 0 {
                Exp::Fw(INVALID_ADDRESS)
            } else if !matches!(kind, PacketKind::Valid) || r.packet.is_none() {
                Exp::Fw(BAD_MEASUREMENT)
            } else {
                Exp::Ok
            };
            let len = trans.len();
            // SAFETY: `off + len` ≤ MEM, inside one page; ours.
            let got = outcome(&unsafe { g.receive_update_data(&hdr, mem.at(off), len, &trans) });
            (exp, got)
        }
        Cmd::ReceiveFinish => {
            let exp = r
                .kvm()
                .or_else(|| r.need_state(&[RUPDATE]))
                .unwrap_or(Exp::Ok);
            let got = outcome(&g.receive_finish());
            if got == Exp::Ok {
                r.state = RUNNING;
            }
            (exp, got)
        }
        Cmd::NewGuest => {
            *g = Guest::new(&w.platform).unwrap();
            *r = Ref::new();
            (Exp::Ok, Exp::Ok)
        }
    }
}

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

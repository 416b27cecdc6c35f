//! One command of the state-machine test against the model and the reference (`step`).

use super::*;

/// Issue one command; returns (expected, observed).
pub(super) fn step(w: &World, g: &mut Guest, r: &mut Ref, mem: &Mem, cmd: Cmd) -> (Exp, Exp) {
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

//! SNP_GUEST_REQUEST (`sev-spec` SNP §4.1–§4.5, §3.8): the guest's message, encrypted
//! with a VMPCK (AES-256-GCM, IV = sequence number ‖ 0⁴, AAD = header 0x30–0x5F), checked in
//! the firmware's order; MSG_REPORT_REQ answered with a version-2 attestation report
//! signed (ECDSA P-384, r/s little-endian) by the model's VCEK for the REPORTED_TCB, or the
//! loaded VLEK; MSG_KEY_REQ answered with a key derived from the VCEK seed, the VLEK seed or
//! the guest's VMRK and the guest fields it selects. Also the guest's side of the exchange,
//! for tests and the C API.

use super::fw::{SnpFw, st};
use crate::model::FwResult;
use crate::model::firmware::crypto::kdf;
use crate::model::firmware::lock;
use crate::status::fw;
use crate::uapi::snp::snp_sizes;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use p384::ecdsa::{Signature, SigningKey, signature::Signer};
use zeroize::Zeroizing;

/// Message types.
pub const MSG_KEY_REQ: u8 = 3;
pub const MSG_KEY_RSP: u8 = 4;
pub const MSG_REPORT_REQ: u8 = 5;
pub const MSG_REPORT_RSP: u8 = 6;
/// Header size.
pub const HDR: usize = 0x60;
/// Payload size of a report response.
pub const REPORT_RSP_LEN: usize = 0x20 + snp_sizes::REPORT;
/// Payload size of a key request (firmware 1.55.25, no LAUNCH_MIT_VECTOR) and response.
pub const KEY_REQ_LEN: usize = 0x20;
pub const KEY_RSP_LEN: usize = 0x40;
/// Size of a derived key.
pub const DERIVED_KEY_LEN: usize = 32;
const INVALID_KEY: u32 = 0x27;

/// MSG_KEY_REQ's first word (`sev-spec` SNP §4.3): bit 0 ROOT_KEY_SELECT, bits 1–2 KEY_SEL.
pub mod key_select {
    /// ROOT_KEY_SELECT: the guest's VMRK instead of the VCEK/VLEK seed.
    pub const ROOT_VMRK: u32 = 1;
    /// KEY_SEL (bits 1–2) as for reports: 0 VLEK if loaded else VCEK, 1 VCEK, 2 VLEK.
    pub const KEY_SEL_SHIFT: u32 = 1;
    pub const KEY_SEL_VCEK: u32 = 1 << KEY_SEL_SHIFT;
    pub const KEY_SEL_VLEK: u32 = 2 << KEY_SEL_SHIFT;
}

/// MSG_KEY_REQ's GUEST_FIELD_SELECT bits (`sev-spec` SNP §4.3): the guest fields mixed in.
pub mod gfs {
    pub const POLICY: u64 = 1 << 0;
    pub const IMAGE_ID: u64 = 1 << 1;
    pub const FAMILY_ID: u64 = 1 << 2;
    pub const MEASUREMENT: u64 = 1 << 3;
    pub const GUEST_SVN: u64 = 1 << 4;
    pub const TCB_VERSION: u64 = 1 << 5;
    /// Every bit firmware 1.55.25 knows; others are INVALID_PARAM.
    pub const ALL: u64 = (1 << 6) - 1;
}

/// The attestation key a KEY_SEL chooses (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttestKey {
    Vcek,
    Vlek,
    /// MASK_CHIP_KEY and no VLEK chosen: reports go unsigned.
    None,
}

/// KEY_SEL's key, as the REPORT_REQ handler chooses it (`sev-spec` SNP §4.2; MSG_KEY_REQ
/// chooses its root the same way): KEY_SEL 3, a VLEK-only request without a VLEK, a VCEK-only
/// one with VCEK_DIS, or "either" with VCEK_DIS and no VLEK → `Err(INVALID_KEY)`.
fn select_key(
    key_sel: u32,
    vlek_loaded: bool,
    vcek_dis: bool,
    mask_chip_key: bool,
) -> Result<AttestKey, u32> {
    if key_sel == 3
        || (key_sel == 2 && !vlek_loaded)
        || (key_sel == 1 && vcek_dis)
        || (key_sel == 0 && vcek_dis && !vlek_loaded)
    {
        return Err(INVALID_KEY);
    }
    Ok(match key_sel {
        0 | 2 if vlek_loaded => AttestKey::Vlek,
        0 | 1 if !mask_chip_key => AttestKey::Vcek,
        _ => AttestKey::None,
    })
}

/// Whether a requested TCB_VERSION is refused against the committed TCB (`sev-spec` SNP
/// §4.3): any component (BL, TEE, SNP, microcode; Milan layout) above the committed one's,
/// or a reserved byte set. Unlike SNP_CONFIG's order, components compare one by one.
fn tcb_not_allowed(req: u64, committed: u64) -> bool {
    let (r, c) = (req.to_le_bytes(), committed.to_le_bytes());
    r[2..6].iter().any(|b| *b != 0) || [0, 1, 6, 7].iter().any(|&i| r[i] > c[i])
}

/// A P-384 signing key from a seed and a label (the firmware's key_from_hash, with a
/// counter instead of the modular reduction: one stable key per seed).
pub(crate) fn key_from_seed(seed: &[u8], label: &[u8]) -> SigningKey {
    let mut ctr = 0u32;
    loop {
        let mut d = Zeroizing::new([0u8; 48]);
        kdf(seed, label, &ctr.to_le_bytes(), &mut d[..]);
        if let Ok(k) = SigningKey::from_slice(&d[..]) {
            return k;
        }
        ctr += 1;
    }
}

fn gcm(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key).expect("32-byte key")
}

fn iv(seqno: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&seqno.to_le_bytes());
    n
}

/// Encrypt `payload` into a message page: header + ciphertext (guest and firmware alike).
pub fn seal(key: &[u8; 32], seqno: u64, msg_type: u8, vmpck: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; HDR + payload.len()];
    m[0x20..0x28].copy_from_slice(&seqno.to_le_bytes());
    m[0x30] = 1;
    m[0x31] = 1;
    m[0x32..0x34].copy_from_slice(&(HDR as u16).to_le_bytes());
    m[0x34] = msg_type;
    m[0x35] = 1;
    m[0x36..0x38].copy_from_slice(&(payload.len() as u16).to_le_bytes());
    m[0x3C] = vmpck;
    let mut body = payload.to_vec();
    let aad = m[0x30..0x60].to_vec();
    let tag = gcm(key)
        .encrypt_in_place_detached(Nonce::from_slice(&iv(seqno)), &aad, &mut body)
        .expect("GCM encryption");
    m[..16].copy_from_slice(&tag);
    m[HDR..].copy_from_slice(&body);
    m
}

/// Decrypt a message page's payload; `None` if the tag does not verify.
pub fn open(key: &[u8; 32], msg: &[u8]) -> Option<Vec<u8>> {
    let size = u16::from_le_bytes([msg[0x36], msg[0x37]]) as usize;
    let seqno = u64::from_le_bytes(msg[0x20..0x28].try_into().ok()?);
    let mut body = msg.get(HDR..HDR + size)?.to_vec();
    gcm(key)
        .decrypt_in_place_detached(
            Nonce::from_slice(&iv(seqno)),
            &msg[0x30..0x60],
            &mut body,
            Tag::from_slice(&msg[..16]),
        )
        .ok()?;
    Some(body)
}

impl SnpFw {
    /// The VCEK's 48-byte seed for a TCB (the model's stand-in for the hash stick).
    fn vcek_seed(&self, tcb: u64) -> Zeroizing<[u8; 48]> {
        let mut seed = Zeroizing::new([0u8; 48]);
        kdf(
            &self.chip_secret[..],
            b"libsev-model-vcek-hash-stick",
            &tcb.to_le_bytes(),
            &mut seed[..],
        );
        seed
    }

    /// The VCEK for a TCB: one key per (chip, TCB).
    pub(crate) fn vcek(&self, tcb: u64) -> SigningKey {
        key_from_seed(
            &self.vcek_seed(tcb)[..],
            b"sev-versioned-chip-endorsement-key",
        )
    }

    /// SNP_GUEST_REQUEST: `req` is the guest's request page; the response page on success.
    pub(crate) fn guest_request(
        &self,
        gctx: u32,
        req: &[u8; 4096],
        chip_id: &[u8; 64],
    ) -> FwResult<Vec<u8>> {
        let g = self.guest_ctx(gctx)?;
        let mut g = lock(&g);
        if g.state != super::fw::GState::Running {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let size = u16::from_le_bytes([req[0x36], req[0x37]]) as usize;
        if req[0x31] != 1
            || u16::from_le_bytes([req[0x32], req[0x33]]) as usize != HDR
            || req[0x30] != 1
            || size == 0
            || size % 16 != 0
            || HDR + size > 4096
            || req[0x3C] > 3
        {
            return Err(fw::INVALID_PARAM);
        }
        let n = req[0x3C] as usize;
        let key: [u8; 32] = g.vmpck[n];
        let payload = Zeroizing::new(open(&key, req).ok_or(fw::BAD_MEASUREMENT)?);
        let seqno = u64::from_le_bytes(req[0x20..0x28].try_into().unwrap());
        if g.msg_count[n] >= u64::MAX - 2 || seqno != g.msg_count[n] + 1 {
            return Err(st::AEAD_OFLOW);
        }
        let rsp = match (req[0x35], req[0x34]) {
            (1, MSG_REPORT_REQ) => Zeroizing::new(self.report_rsp(&g, &payload, n as u32, chip_id)),
            (1, MSG_KEY_REQ) => self.key_rsp(&g, &payload, n as u32),
            _ => return Err(fw::INVALID_PARAM),
        };
        g.msg_count[n] += 2;
        Ok(seal(&key, seqno + 1, req[0x34] + 1, n as u8, &rsp))
    }

    /// MSG_KEY_RSP payload for a MSG_KEY_REQ payload: STATUS @0, the key @0x20 (zero on a
    /// refusal).
    fn key_rsp(&self, g: &super::fw::Gctx, p: &[u8], msg_vmpck: u32) -> Zeroizing<Vec<u8>> {
        let mut rsp = Zeroizing::new(vec![0u8; KEY_RSP_LEN]);
        match self.derive_key(g, p, msg_vmpck) {
            Ok(k) => rsp[0x20..].copy_from_slice(&k[..]),
            Err(s) => rsp[..4].copy_from_slice(&s.to_le_bytes()),
        }
        rsp
    }

    /// MSG_KEY_REQ (`sev-spec` SNP §4.3, §3.8): the payload checks in the firmware's order,
    /// then key = KDF(root, "gmsg-keyreq", mix_data, 32 bytes) with the SP 800-108 counter-mode
    /// KDF (HMAC-SHA256) the model uses everywhere.
    ///
    /// The root is the guest's VMRK (ROOT_KEY_SELECT 1; random, from LAUNCH_START), or as
    /// KEY_SEL chooses it for reports: the loaded VLEK's seed, or the VCEK seed for the
    /// requested TCB_VERSION (GUEST_FIELD_SELECT.TCB_VERSION) or else the REPORTED_TCB. The
    /// VLEK seed is used whatever TCB is requested (the requested TCB is still mixed in).
    ///
    /// Derived keys are self-consistent inside one model chip only: the same guest fields,
    /// root and chip give the same key, another chip (model seed) gives another; they are
    /// not the keys a real AMD-SP derives (its VCEK hash stick is chip-secret).
    fn derive_key(
        &self,
        g: &super::fw::Gctx,
        p: &[u8],
        msg_vmpck: u32,
    ) -> FwResult<Zeroizing<[u8; DERIVED_KEY_LEN]>> {
        if p.len() < KEY_REQ_LEN {
            return Err(fw::INVALID_PARAM);
        }
        let u32_at = |o: usize| u32::from_le_bytes(p[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().unwrap());
        let (sel, select, vmpl, svn, tcb) = (
            u32_at(0),
            u64_at(8),
            u32_at(0x10),
            u32_at(0x14),
            u64_at(0x18),
        );
        if sel & !7 != 0 || u32_at(4) != 0 {
            return Err(fw::INVALID_PARAM);
        }
        let vmrk = sel & key_select::ROOT_VMRK != 0;
        let s = lock(&self.st);
        let root = if vmrk {
            None
        } else {
            if s.mask_chip_key {
                return Err(INVALID_KEY);
            }
            let key_sel = sel >> key_select::KEY_SEL_SHIFT & 3;
            Some(select_key(key_sel, s.vlek.is_some(), g.vcek_dis, false)?)
        };
        if vmpl < msg_vmpck || select & !gfs::ALL != 0 {
            return Err(fw::INVALID_PARAM);
        }
        if select & gfs::TCB_VERSION != 0 && tcb_not_allowed(tcb, s.committed_tcb) {
            return Err(fw::INVALID_PARAM);
        }
        let id_svn = u32::from_le_bytes(g.id_block[0x54..0x58].try_into().unwrap());
        if select & gfs::GUEST_SVN != 0 && svn > id_svn {
            return Err(fw::INVALID_PARAM);
        }
        // mix_data (§3.8): the FW sets the ID-block key select; unselected fields stay zero.
        let id_sel: u32 = if g.author_key_en {
            2
        } else if g.id_block_en {
            1
        } else {
            0
        };
        let mut mix = Zeroizing::new([0u8; 168]);
        let mut put = |o: usize, b: &[u8]| mix[o..o + b.len()].copy_from_slice(b);
        put(0x00, &(sel & 1 | id_sel << 1).to_le_bytes());
        put(0x08, &select.to_le_bytes());
        put(0x10, &vmpl.to_le_bytes());
        let on = |bit: u64| select & bit != 0;
        if on(gfs::GUEST_SVN) {
            put(0x14, &svn.to_le_bytes());
        }
        if on(gfs::TCB_VERSION) {
            put(0x18, &tcb.to_le_bytes());
        }
        if on(gfs::POLICY) {
            put(0x20, &g.policy.to_le_bytes());
        }
        if on(gfs::IMAGE_ID) {
            put(0x28, &g.id_block[0x40..0x50]);
        }
        if on(gfs::FAMILY_ID) {
            put(0x38, &g.id_block[0x30..0x40]);
        }
        if on(gfs::MEASUREMENT) {
            put(0x48, &g.ld[..32]);
        }
        put(0x68, &g.host_data);
        match id_sel {
            2 => put(0x88, &g.author_key_digest[..32]),
            1 => put(0x88, &g.id_key_digest[..32]),
            _ => {}
        }
        let vcek_seed;
        let root: &[u8] = match root {
            None => &g.vmrk[..],
            Some(AttestKey::Vlek) => &s.vlek.as_ref().expect("chosen only when loaded").0[..],
            // (AttestKey::None needs MASK_CHIP_KEY, refused above.)
            Some(AttestKey::Vcek | AttestKey::None) => {
                let t = if on(gfs::TCB_VERSION) {
                    tcb
                } else {
                    s.reported_tcb()
                };
                vcek_seed = self.vcek_seed(t);
                &vcek_seed[..]
            }
        };
        let mut key = Zeroizing::new([0u8; DERIVED_KEY_LEN]);
        kdf(root, b"gmsg-keyreq", &mix[..], &mut key[..]);
        Ok(key)
    }

    /// MSG_REPORT_RSP payload for a MSG_REPORT_REQ payload.
    fn report_rsp(
        &self,
        g: &super::fw::Gctx,
        p: &[u8],
        msg_vmpck: u32,
        chip_id: &[u8; 64],
    ) -> Vec<u8> {
        let mut rsp = vec![0u8; REPORT_RSP_LEN];
        let status = |rsp: &mut Vec<u8>, s: u32| {
            rsp[..4].copy_from_slice(&s.to_le_bytes());
            rsp.truncate(0x20);
            rsp.resize(REPORT_RSP_LEN, 0);
        };
        if p.len() < 0x60 {
            status(&mut rsp, fw::INVALID_PARAM);
            return rsp;
        }
        let vmpl = u32::from_le_bytes(p[0x40..0x44].try_into().unwrap());
        let sel = u32::from_le_bytes(p[0x44..0x48].try_into().unwrap());
        if sel & !3 != 0 || p[0x48..0x60].iter().any(|b| *b != 0) {
            status(&mut rsp, fw::INVALID_PARAM);
            return rsp;
        }
        let s = lock(&self.st);
        let chosen = match select_key(sel & 3, s.vlek.is_some(), g.vcek_dis, s.mask_chip_key) {
            Ok(k) => k,
            Err(e) => {
                status(&mut rsp, e);
                return rsp;
            }
        };
        if vmpl < msg_vmpck {
            status(&mut rsp, fw::INVALID_PARAM);
            return rsp;
        }
        let reported = s.reported_tcb();
        let (signer, signing_key) = match chosen {
            AttestKey::Vlek => {
                let (stick, _) = s.vlek.as_ref().expect("chosen only when loaded");
                let k = key_from_seed(&stick[..], b"sev-versioned-loaded-attestation-key");
                (Some(k), 1u32)
            }
            AttestKey::Vcek => (Some(self.vcek(reported)), 0),
            AttestKey::None => (None, 7),
        };
        let mut r = vec![0u8; snp_sizes::REPORT];
        let put = |r: &mut Vec<u8>, o: usize, b: &[u8]| r[o..o + b.len()].copy_from_slice(b);
        put(&mut r, 0x000, &2u32.to_le_bytes());
        put(&mut r, 0x004, &g.id_block[0x54..0x58]);
        put(&mut r, 0x008, &g.policy.to_le_bytes());
        put(&mut r, 0x010, &g.id_block[0x30..0x40]);
        put(&mut r, 0x020, &g.id_block[0x40..0x50]);
        put(&mut r, 0x030, &vmpl.to_le_bytes());
        put(&mut r, 0x034, &1u32.to_le_bytes());
        put(&mut r, 0x038, &s.current_tcb.to_le_bytes());
        put(&mut r, 0x040, &(self.smt as u64).to_le_bytes());
        let key_info = g.author_key_en as u32 | (s.mask_chip_key as u32) << 1 | signing_key << 2;
        put(&mut r, 0x048, &key_info.to_le_bytes());
        put(&mut r, 0x050, &p[..64]);
        put(&mut r, 0x090, &g.ld);
        put(&mut r, 0x0C0, &g.host_data);
        put(&mut r, 0x0E0, &g.id_key_digest);
        put(&mut r, 0x110, &g.author_key_digest);
        put(&mut r, 0x140, &g.report_id);
        put(&mut r, 0x160, &g.report_id_ma);
        put(&mut r, 0x180, &reported.to_le_bytes());
        if !s.mask_chip_id {
            put(&mut r, 0x1A0, chip_id);
        }
        put(&mut r, 0x1E0, &s.committed_tcb.to_le_bytes());
        put(&mut r, 0x1E8, &[self.api.2, self.api.1, self.api.0]);
        let cv = s.committed_version;
        put(&mut r, 0x1EC, &[cv.2, cv.1, cv.0]);
        put(&mut r, 0x1F0, &g.launch_tcb.to_le_bytes());
        if let Some(k) = signer {
            let sig: Signature = k.sign(&r[..snp_sizes::REPORT_SIGNED]);
            let (rb, sb) = sig.split_bytes();
            for i in 0..48 {
                r[0x2A0 + i] = rb[47 - i];
                r[0x2E8 + i] = sb[47 - i];
            }
        }
        rsp[4..8].copy_from_slice(&(snp_sizes::REPORT as u32).to_le_bytes());
        rsp[0x20..].copy_from_slice(&r);
        rsp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sel_chooses_as_the_report_handler_does() {
        use AttestKey::*;
        // (key_sel, VLEK loaded, VCEK_DIS, MASK_CHIP_KEY) → key.
        let cases = [
            ((0, false, false, false), Ok(Vcek)),
            ((0, true, false, false), Ok(Vlek)),
            ((0, true, true, false), Ok(Vlek)),
            ((0, false, true, false), Err(INVALID_KEY)),
            ((0, false, false, true), Ok(None)),
            ((1, true, false, false), Ok(Vcek)),
            ((1, false, true, false), Err(INVALID_KEY)),
            ((1, false, false, true), Ok(None)),
            ((2, false, false, false), Err(INVALID_KEY)),
            ((2, true, true, true), Ok(Vlek)),
            ((3, true, false, false), Err(INVALID_KEY)),
        ];
        for ((sel, vlek, dis, mask), want) in cases {
            assert_eq!(
                select_key(sel, vlek, dis, mask),
                want,
                "{sel} {vlek} {dis} {mask}"
            );
        }
    }

    #[test]
    fn requested_tcb_components_compare_one_by_one() {
        let t =
            |bl: u8, tee: u8, snp: u8, uc: u8| u64::from_le_bytes([bl, tee, 0, 0, 0, 0, snp, uc]);
        let c = t(3, 0, 8, 0x73);
        assert!(!tcb_not_allowed(c, c));
        assert!(!tcb_not_allowed(t(0, 0, 0, 0), c));
        assert!(
            tcb_not_allowed(t(2, 0, 9, 0), c),
            "SNP above, though lower in order"
        );
        assert!(tcb_not_allowed(t(3, 1, 8, 0x73), c));
        assert!(tcb_not_allowed(t(3, 0, 8, 0x74), c));
        assert!(tcb_not_allowed(c | 1 << 40, c), "reserved byte");
    }
}

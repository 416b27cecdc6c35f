//! SNP_GUEST_REQUEST (`sev-spec` SNP §4.1–§4.2, §4.4–§4.5): the guest's message, encrypted
//! with a VMPCK (AES-256-GCM, IV = sequence number ‖ 0⁴, AAD = header 0x30–0x5F), checked in
//! the firmware's order, and MSG_REPORT_REQ answered with a version-2 attestation report
//! signed (ECDSA P-384, r/s little-endian) by the model's VCEK for the REPORTED_TCB, or the
//! loaded VLEK. Also the guest's side of the exchange, for tests and the C API.

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
pub const MSG_REPORT_REQ: u8 = 5;
pub const MSG_REPORT_RSP: u8 = 6;
/// Header size.
pub const HDR: usize = 0x60;
/// Payload size of a report response.
pub const REPORT_RSP_LEN: usize = 0x20 + snp_sizes::REPORT;
const INVALID_KEY: u32 = 0x27;

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
    /// The VCEK for a TCB: one key per (chip, TCB).
    pub(crate) fn vcek(&self, tcb: u64) -> SigningKey {
        let mut seed = Zeroizing::new([0u8; 48]);
        kdf(
            &self.chip_secret[..],
            b"libsev-model-vcek-hash-stick",
            &tcb.to_le_bytes(),
            &mut seed[..],
        );
        key_from_seed(&seed[..], b"sev-versioned-chip-endorsement-key")
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
        if req[0x35] != 1 || req[0x34] != MSG_REPORT_REQ {
            return Err(fw::INVALID_PARAM);
        }
        let rsp = self.report_rsp(&g, &payload, n as u32, chip_id);
        g.msg_count[n] += 2;
        Ok(seal(&key, seqno + 1, MSG_REPORT_RSP, n as u8, &rsp))
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
        let vlek = s
            .vlek
            .as_ref()
            .map(|(stick, _)| key_from_seed(&stick[..], b"sev-versioned-loaded-attestation-key"));
        let key_sel = sel & 3;
        if key_sel == 3
            || (key_sel == 2 && vlek.is_none())
            || (key_sel == 1 && g.vcek_dis)
            || (key_sel == 0 && g.vcek_dis && vlek.is_none())
        {
            status(&mut rsp, INVALID_KEY);
            return rsp;
        }
        if vmpl < msg_vmpck {
            status(&mut rsp, fw::INVALID_PARAM);
            return rsp;
        }
        let reported = s.reported_tcb();
        let (signer, signing_key) = match (key_sel, vlek) {
            (0 | 2, Some(v)) => (Some(v), 1u32),
            (0 | 1, _) if !s.mask_chip_key => (Some(self.vcek(reported)), 0),
            _ => (None, 7),
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

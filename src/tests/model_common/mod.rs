//! Shared helpers of the firmware-model integration tests. They drive the model through the
//! transport seam with the kernel's own structs, and compute every owner-side value straight
//! from the formulas of `sev-spec` §4 with crate primitives only (hmac, sha2, aes, ctr,
//! p384): not through the model's code and not through `sev::owner`, so a mistake in either
//! cannot cancel itself out.
#![allow(dead_code)]

use sev::model::{ModelConfig, ModelPlatform};
use sev::transport::{PlatformTransport, VmTransport};
use sev::uapi::*;
use std::sync::Arc;

pub const EIO: i32 = libc::EIO;

/// Firmware statuses used by the tests (sev-spec §2.2).
pub mod st {
    pub const INVALID_PLATFORM_STATE: u32 = 0x01;
    pub const INVALID_GUEST_STATE: u32 = 0x02;
    pub const INVALID_LENGTH: u32 = 0x04;
    pub const ALREADY_OWNED: u32 = 0x05;
    pub const INVALID_CERTIFICATE: u32 = 0x06;
    pub const POLICY_FAILURE: u32 = 0x07;
    pub const INVALID_ADDRESS: u32 = 0x09;
    pub const BAD_SIGNATURE: u32 = 0x0A;
    pub const BAD_MEASUREMENT: u32 = 0x0B;
    pub const INVALID_GUEST: u32 = 0x10;
    pub const UNSUPPORTED: u32 = 0x15;
    pub const RESOURCE_LIMIT: u32 = 0x17;
}

/// A platform with a fixed seed (reproducible identity).
pub fn platform(seed: u8) -> Arc<ModelPlatform> {
    sev::model::open(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .expect("model platform opens")
}

/// API major, minor and build as PLATFORM_STATUS reports them.
pub fn api(p: &ModelPlatform) -> (u8, u8, u8) {
    let mut s = sev_user_data_status::default();
    assert_eq!(sev(p, sev_user_cmd::PLATFORM_STATUS, &mut s), (Ok(()), 0));
    (s.api_major, s.api_minor, s.build)
}

/// `SEV_ISSUE_CMD`: (result, firmware status).
pub fn sev<T>(p: &ModelPlatform, cmd: u32, data: &mut T) -> (Result<(), i32>, u32) {
    let mut c = sev_issue_cmd {
        cmd,
        data: data as *mut T as u64,
        error: 0,
    };
    // SAFETY: `data` is the command's struct; every address in it points to live buffers of
    // the lengths given (the tests build them so).
    let r = unsafe { p.sev_issue_cmd(&mut c) };
    (r, c.error)
}

/// `SEV_ISSUE_CMD` without a parameter struct.
pub fn sev0(p: &ModelPlatform, cmd: u32) -> (Result<(), i32>, u32) {
    let mut c = sev_issue_cmd {
        cmd,
        data: 0,
        error: 0,
    };
    // SAFETY: these commands read no parameter struct.
    let r = unsafe { p.sev_issue_cmd(&mut c) };
    (r, c.error)
}

/// `KVM_MEMORY_ENCRYPT_OP` with a parameter struct.
pub fn op<T>(vm: &dyn VmTransport, id: u32, data: &mut T, sev_fd: i32) -> (Result<(), i32>, u32) {
    op_raw(vm, id, data as *mut T as u64, sev_fd)
}

/// `KVM_MEMORY_ENCRYPT_OP` with a raw `data` value.
pub fn op_raw(vm: &dyn VmTransport, id: u32, data: u64, sev_fd: i32) -> (Result<(), i32>, u32) {
    let mut c = kvm_sev_cmd {
        id,
        data,
        sev_fd: sev_fd as u32,
        ..Default::default()
    };
    // SAFETY: `data` is the command's struct (or 0); its addresses point to live buffers of
    // the given lengths, used only by this call.
    let r = unsafe { vm.encrypt_op(&mut c) };
    (r, c.error)
}

/// Page-aligned, zeroed memory that stays put (guest memory).
pub struct Mem {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: plain owned memory.
unsafe impl Send for Mem {}

impl Mem {
    pub fn new(len: usize) -> Mem {
        let layout = std::alloc::Layout::from_size_align(len.max(1), 4096).unwrap();
        // SAFETY: non-zero size, valid layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Mem { ptr, len }
    }
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: our allocation of `len` bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len.max(1), 4096).unwrap();
        // SAFETY: allocated with this layout in `new`.
        unsafe { std::alloc::dealloc(self.ptr, layout) };
    }
}

// ----- the guest owner's side, from the formulas ------------------------------------------

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// SP 800-108 counter KDF, one block (16-byte outputs).
pub fn kdf16(key: &[u8], label: &str, ctx: &[u8]) -> [u8; 16] {
    let k = hmac_sha256(
        key,
        &[
            &1u32.to_le_bytes(),
            label.as_bytes(),
            &[0],
            ctx,
            &128u32.to_le_bytes(),
        ],
    );
    k[..16].try_into().unwrap()
}

pub fn ctr(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    use cipher::{KeyIvInit, StreamCipher};
    ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into()).apply_keystream(data);
}

/// An owner's launch session for a platform PDH.
pub struct Session {
    pub godh_cert: Vec<u8>,
    pub blob: Vec<u8>,
    pub tek: [u8; 16],
    pub tik: [u8; 16],
}

pub fn rand16() -> [u8; 16] {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b
}

/// Build GODH + session (sev-spec §4.4) against `pdh_cert` for `policy`.
pub fn owner_session(pdh_cert: &[u8], policy: u32) -> Session {
    use sev::certs::{Algo, SevCert, Usage};
    let pdh = SevCert::from_bytes(pdh_cert).unwrap();
    let pdh_pub = pdh.check_body(Usage::PDH).unwrap();
    let godh = p384::SecretKey::random(&mut rand_core::OsRng);
    let godh_cert = SevCert::new_p384(Usage::PDH, Algo::ECDH_SHA256, (0, 0), &godh.public_key());
    let z = p384::ecdh::diffie_hellman(godh.to_nonzero_scalar(), pdh_pub.as_affine());
    let z = z.raw_secret_bytes();
    let (tek, tik, nonce, iv) = (rand16(), rand16(), rand16(), rand16());
    let master = kdf16(z.as_slice(), "sev-master-secret", &nonce);
    let kek = kdf16(&master, "sev-kek", &[]);
    let kik = kdf16(&master, "sev-kik", &[]);
    let mut wrap = [0u8; 32];
    wrap[..16].copy_from_slice(&tek);
    wrap[16..].copy_from_slice(&tik);
    ctr(&kek, &iv, &mut wrap);
    let mut blob = Vec::new();
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&wrap);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&hmac_sha256(&kik, &[&wrap]));
    blob.extend_from_slice(&hmac_sha256(&tik, &[&policy.to_le_bytes()]));
    assert_eq!(blob.len(), 128);
    Session {
        godh_cert: godh_cert.as_bytes().to_vec(),
        blob,
        tek,
        tik,
    }
}

/// The expected MEASURE (sev-spec §4.6).
pub fn expected_measure(
    tik: &[u8; 16],
    api: (u8, u8, u8),
    policy: u32,
    ld: &[u8; 32],
    mnonce: &[u8],
) -> [u8; 32] {
    hmac_sha256(
        tik,
        &[
            &[0x04, api.0, api.1, api.2],
            &policy.to_le_bytes(),
            ld,
            mnonce,
        ],
    )
}

/// A LAUNCH_SECRET packet (sev-spec §4.7): (header, ciphertext).
pub fn secret_packet(s: &Session, measure: &[u8], secret: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let iv = rand16();
    let mut ct = secret.to_vec();
    ctr(&s.tek, &iv, &mut ct);
    let n = (ct.len() as u32).to_le_bytes();
    let mac = hmac_sha256(
        &s.tik,
        &[&[0x01], &0u32.to_le_bytes(), &iv, &n, &n, &ct, measure],
    );
    let mut hdr = 0u32.to_le_bytes().to_vec();
    hdr.extend_from_slice(&iv);
    hdr.extend_from_slice(&mac);
    (hdr, ct)
}

// ----- command shorthands -----------------------------------------------------------------

/// PDH_CERT_EXPORT: (PDH, PEK ‖ OCA ‖ CEK).
pub fn export(p: &ModelPlatform) -> (Vec<u8>, Vec<u8>) {
    let mut pdh = vec![0u8; 0x824];
    let mut chain = vec![0u8; 0x186C];
    let mut e = sev_user_data_pdh_cert_export {
        pdh_cert_address: pdh.as_mut_ptr() as u64,
        pdh_cert_len: pdh.len() as u32,
        cert_chain_address: chain.as_mut_ptr() as u64,
        cert_chain_len: chain.len() as u32,
    };
    let (r, err) = sev(p, sev_user_cmd::PDH_CERT_EXPORT, &mut e);
    assert_eq!((r, err), (Ok(()), 0));
    (pdh, chain)
}

/// A VM after KVM_SEV_INIT.
pub fn vm(p: &Arc<ModelPlatform>) -> Box<dyn VmTransport> {
    let vm = p.clone().create_vm().unwrap();
    assert_eq!(op_raw(&*vm, kvm_cmd::INIT, 0, -1), (Ok(()), 0));
    vm
}

/// LAUNCH_START: (result, fw status, handle written back).
pub fn launch_start(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    policy: u32,
    session: Option<&Session>,
) -> (Result<(), i32>, u32, u32) {
    let mut ls = kvm_sev_launch_start {
        policy,
        ..Default::default()
    };
    if let Some(s) = session {
        ls.dh_uaddr = s.godh_cert.as_ptr() as u64;
        ls.dh_len = s.godh_cert.len() as u32;
        ls.session_uaddr = s.blob.as_ptr() as u64;
        ls.session_len = s.blob.len() as u32;
    }
    let (r, e) = op(vm, kvm_cmd::LAUNCH_START, &mut ls, p.sev_fd());
    (r, e, ls.handle)
}

pub fn update(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    addr: u64,
    len: u32,
) -> (Result<(), i32>, u32) {
    let mut u = kvm_sev_launch_update_data {
        uaddr: addr,
        len,
        ..Default::default()
    };
    op(vm, kvm_cmd::LAUNCH_UPDATE_DATA, &mut u, p.sev_fd())
}

pub fn measure(p: &ModelPlatform, vm: &dyn VmTransport) -> (Result<(), i32>, u32, [u8; 48]) {
    let mut out = [0u8; 48];
    let mut m = kvm_sev_launch_measure {
        uaddr: out.as_mut_ptr() as u64,
        len: 48,
        ..Default::default()
    };
    let (r, e) = op(vm, kvm_cmd::LAUNCH_MEASURE, &mut m, p.sev_fd());
    (r, e, out)
}

pub fn secret(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    hdr: &[u8],
    ct: &[u8],
    guest: u64,
) -> (Result<(), i32>, u32) {
    let mut s = kvm_sev_launch_secret {
        hdr_uaddr: hdr.as_ptr() as u64,
        hdr_len: hdr.len() as u32,
        guest_uaddr: guest,
        guest_len: ct.len() as u32,
        trans_uaddr: ct.as_ptr() as u64,
        trans_len: ct.len() as u32,
        ..Default::default()
    };
    op(vm, kvm_cmd::LAUNCH_SECRET, &mut s, p.sev_fd())
}

pub fn finish(p: &ModelPlatform, vm: &dyn VmTransport) -> (Result<(), i32>, u32) {
    op_raw(vm, kvm_cmd::LAUNCH_FINISH, 0, p.sev_fd())
}

pub fn status(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
) -> (Result<(), i32>, u32, kvm_sev_guest_status) {
    let mut s = kvm_sev_guest_status::default();
    let (r, e) = op(vm, kvm_cmd::GUEST_STATUS, &mut s, p.sev_fd());
    (r, e, s)
}

pub fn dbg(
    p: &ModelPlatform,
    vm: &dyn VmTransport,
    decrypt: bool,
    src: u64,
    dst: u64,
    len: u32,
) -> (Result<(), i32>, u32) {
    let mut d = kvm_sev_dbg {
        src_uaddr: src,
        dst_uaddr: dst,
        len,
        ..Default::default()
    };
    let id = if decrypt {
        kvm_cmd::DBG_DECRYPT
    } else {
        kvm_cmd::DBG_ENCRYPT
    };
    op(vm, id, &mut d, p.sev_fd())
}

/// Launch with a session to LSECRET over `mem` (all of it measured); returns the session
/// and the 48-byte measurement.
pub fn launch_to_lsecret(
    p: &Arc<ModelPlatform>,
    vm: &dyn VmTransport,
    policy: u32,
    mem: &mut Mem,
) -> (Session, [u8; 48]) {
    let (pdh, _) = export(p);
    let s = owner_session(&pdh, policy);
    let (r, e, h) = launch_start(p, vm, policy, Some(&s));
    assert_eq!((r, e), (Ok(()), 0));
    assert_ne!(h, 0);
    let len = mem.bytes().len() as u32;
    assert_eq!(update(p, vm, mem.addr(), len), (Ok(()), 0));
    let (r, e, m) = measure(p, vm);
    assert_eq!((r, e), (Ok(()), 0));
    (s, m)
}

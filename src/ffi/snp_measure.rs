//! C ABI for the SEV-SNP guest owner's launch inputs: the expected launch digest
//! (`libsev_snp_expected_measurement`, from OVMF's SEV metadata) and the ID block with its
//! authentication information for SNP_LAUNCH_FINISH (`libsev_snp_id_block_sign`,
//! `libsev_snp_key_digest`). Every function is thread-safe and keeps no state.

#![allow(non_camel_case_types)]

use super::boundary;
use super::es::{opt_cstr, signature, vmm_of};
use super::libsev_error;
use crate::error::{Error, Result};
use crate::owner::es::DirectBoot;
use crate::owner::snp::idblock::{self, IdBlock};
use crate::owner::snp::measure::{MeasureError, SnpMeasureInputs, snp_launch_digest};
use crate::status::{Status, libsev_status};
use std::ffi::c_char;

/// The inputs and outputs of `libsev_snp_id_block_sign`.
#[repr(C)]
pub struct libsev_snp_id_block {
    /// In: the expected launch digest (`libsev_snp_expected_measurement`).
    pub ld: [u8; 48],
    /// In: the FAMILY_ID the report will carry.
    pub family_id: [u8; 16],
    /// In: the IMAGE_ID the report will carry.
    pub image_id: [u8; 16],
    /// In: the GUEST_SVN the report will carry.
    pub guest_svn: u32,
    /// In: VERSION (tools write 1).
    pub version: u32,
    /// In: exactly the policy the VMM passes to SNP_LAUNCH_START.
    pub policy: u64,
    /// Out: the 96-byte ID block for SNP_LAUNCH_FINISH.
    pub id_block: [u8; 96],
    /// Out: the 4096-byte ID authentication information.
    pub id_auth: [u8; 4096],
    /// Out: SHA-384 of the ID public-key structure (the report's ID_KEY_DIGEST).
    pub id_key_digest: [u8; 48],
    /// Out: the report's AUTHOR_KEY_DIGEST (zero without an author key).
    pub author_key_digest: [u8; 48],
    /// Out: 1 when an author key signed (pass `auth_key_en = 1` to SNP_LAUNCH_FINISH).
    pub author_key_en: u32,
}

fn p384_key_in(b: &[u8], name: &str) -> Result<p384::ecdsa::SigningKey> {
    use p384::pkcs8::DecodePrivateKey;
    let bad = || {
        Error::new(
            Status::LIBSEV_STATUS_CRYPTO_ERROR,
            format!(
                "{name} is not a P-384 private key (48-byte scalar, PKCS#8 or SEC1, DER or PEM)"
            ),
        )
    };
    if b.len() == 48 {
        return p384::ecdsa::SigningKey::from_slice(b).map_err(|_| bad());
    }
    if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_der(b) {
        return Ok(k);
    }
    if let Ok(k) = p384::SecretKey::from_sec1_der(b) {
        return Ok(k.into());
    }
    let text = std::str::from_utf8(b).map_err(|_| bad())?;
    if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(text) {
        return Ok(k);
    }
    p384::SecretKey::from_sec1_pem(text)
        .map(Into::into)
        .map_err(|_| bad())
}

/// Build and sign an ID block: fill `io`'s inputs, get `id_block`, `id_auth` and the digests
/// back. `id_key` (required) and `author_key` (optional: NULL/0) are P-384 private keys as a
/// 48-byte big-endian scalar, PKCS#8 or SEC1, DER or PEM; anything else is
/// `LIBSEV_STATUS_CRYPTO_ERROR` naming the key. ECDSA signatures are deterministic
/// (RFC 6979). The outputs are written only on success.
///
/// # Safety
/// `io` NULL or a readable and writable `libsev_snp_id_block`; the keys NULL or readable for
/// their lengths; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_id_block_sign(
    io: *mut libsev_snp_id_block,
    id_key: *const u8,
    id_key_len: usize,
    author_key: *const u8,
    author_key_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access (the same holds in every export here).
    unsafe {
        boundary::call(err, || {
            let i = boundary::reference(io.cast_const(), "io")?;
            let inputs = IdBlock {
                ld: i.ld,
                family_id: i.family_id,
                image_id: i.image_id,
                version: i.version,
                guest_svn: i.guest_svn,
                policy: i.policy,
            };
            let idk = boundary::required_input(id_key, id_key_len, "id_key")?;
            let idk = p384_key_in(idk, "id_key")?;
            let ak = match boundary::optional_input(author_key, author_key_len, "author_key")? {
                None => None,
                Some(b) => Some(p384_key_in(b, "author_key")?),
            };
            let m = idblock::sign(&inputs, &idk, ak.as_ref());
            let out = libsev_snp_id_block {
                id_block: m.id_block,
                id_auth: *m.id_auth,
                id_key_digest: m.id_key_digest,
                author_key_digest: m.author_key_digest.unwrap_or([0; 48]),
                author_key_en: m.author_key_digest.is_some() as u32,
                ld: inputs.ld,
                family_id: inputs.family_id,
                image_id: inputs.image_id,
                guest_svn: inputs.guest_svn,
                version: inputs.version,
                policy: inputs.policy,
            };
            boundary::write_out(io, out, "io")
        })
    }
}

/// The report digest of a P-384 public key (SHA-384 of the SNP public-key structure), as
/// ID_KEY_DIGEST/AUTHOR_KEY_DIGEST: `key` is an uncompressed SEC1 point (97 bytes) or a
/// private key in any form `libsev_snp_id_block_sign` accepts. Writes 48 bytes to `digest`.
///
/// # Safety
/// `key` NULL or `key_len` readable bytes; `digest` NULL or 48 writable bytes; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_key_digest(
    key: *const u8,
    key_len: usize,
    digest: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_id_block_sign.
    unsafe {
        boundary::call(err, || {
            let b = boundary::required_input(key, key_len, "key")?;
            boundary::need_out(digest, "digest")?;
            let vk = if b.len() == 97 && b[0] == 4 {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(b).map_err(|_| {
                    Error::new(
                        Status::LIBSEV_STATUS_CRYPTO_ERROR,
                        "key is not a point on P-384",
                    )
                })?
            } else {
                *p384_key_in(b, "key")?.verifying_key()
            };
            boundary::array_out(digest, &idblock::key_digest(&vk), "digest")
        })
    }
}

/// What an SNP launch digest depends on (`libsev_snp_expected_measurement`). Zero-initialise,
/// then fill; the fields mean what they mean in `libsev_es_launch`.
#[repr(C)]
pub struct libsev_snp_measure {
    /// The OVMF image exactly as launched (a multiple of 4096 bytes, mapped to end at 4 GiB;
    /// e.g. `OVMF.fd` of an AmdSev build used as `-bios`).
    pub ovmf: *const u8,
    pub ovmf_len: usize,
    /// Non-zero: measured direct boot (QEMU `kernel-hashes=on`): `kernel`, `initrd` and
    /// `cmdline` are hashed into OVMF's SNP_KERNEL_HASHES page. Zero: those are ignored.
    pub direct_boot: u32,
    /// The kernel file (NULL with length 0 for an empty one).
    pub kernel: *const u8,
    pub kernel_len: usize,
    /// The initrd (NULL with length 0 for none).
    pub initrd: *const u8,
    pub initrd_len: usize,
    /// The kernel command line, NUL-terminated, or NULL for none (QEMU then hashes a lone NUL).
    pub cmdline: *const c_char,
    /// Number of vCPUs (1 to 512).
    pub vcpus: u32,
    /// The vCPU model's CPUID(1).EAX signature (QEMU profile: RDX at reset), e.g. 0x00800F12
    /// for EPYC-v4; 0: take it from `cpu_model`.
    pub vcpu_signature: u32,
    /// A QEMU CPU model name (`"EPYC-v4"`, `"EPYC-Milan"`, `"EPYC-Genoa"`, …), used when
    /// `vcpu_signature` is 0. EC2 and GCE ignore the vCPU model.
    pub cpu_model: *const c_char,
    /// `LIBSEV_VMM_QEMU`, `_EC2` or `_GCE`.
    pub vmm: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// SEV_FEATURES of the VMSAs besides SNPActive (always added): 0, or 0x20 with DebugSwap
    /// (KVM_SEV_INIT2's `vmsa_features`).
    pub guest_features: u64,
}

/// Compute the expected MEASUREMENT of an SNP guest (the launch digest: OVMF's pages, its SEV
/// metadata sections in table order, the kernel-hashes page if measured direct boot is on,
/// then one VMSA per vCPU) and write 48 bytes to `digest`. `LIBSEV_STATUS_BAD_FIRMWARE_IMAGE`
/// when the image lacks the footer table, SEV-ES reset block or SEV metadata, or a kernel is
/// given for an image without an SNP_KERNEL_HASHES section; `LIBSEV_STATUS_INVALID_ARGUMENT`
/// for a vCPU count, VMM, CPU model or reserved field out of range. Nothing is written on
/// failure.
///
/// # Safety
/// `params` NULL or a readable `libsev_snp_measure` whose pointers are valid for their
/// lengths and whose strings are NUL-terminated; `digest` NULL or 48 writable bytes; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_snp_expected_measurement(
    params: *const libsev_snp_measure,
    digest: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_snp_id_block_sign.
    unsafe {
        boundary::call(err, || {
            let p = boundary::reference(params, "params")?;
            boundary::need_out(digest, "digest")?;
            if p.reserved != 0 {
                return Err(Error::arg("params.reserved must be 0"));
            }
            let vmm = vmm_of(p.vmm)?;
            let ovmf = boundary::input(p.ovmf, p.ovmf_len, "ovmf")?;
            let boot = if p.direct_boot != 0 {
                Some(DirectBoot {
                    kernel: boundary::input(p.kernel, p.kernel_len, "kernel")?,
                    initrd: boundary::input(p.initrd, p.initrd_len, "initrd")?,
                    cmdline: opt_cstr(p.cmdline, "cmdline")?,
                })
            } else {
                None
            };
            let d = snp_launch_digest(&SnpMeasureInputs {
                ovmf,
                vcpus: p.vcpus,
                vcpu_signature: signature(p.vcpu_signature, p.cpu_model, vmm)?,
                vmm,
                guest_features: p.guest_features,
                boot,
            })
            .map_err(|e| {
                let st = match e {
                    MeasureError::Vcpus(_) => Status::LIBSEV_STATUS_INVALID_ARGUMENT,
                    _ => Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE,
                };
                Error::new(st, e.to_string())
            })?;
            boundary::array_out(digest, &d, "digest")
        })
    }
}

//! The firmware's secure channel with a guest owner or a migration peer (`sev-spec` §4.4,
//! §4.6–4.8): session blobs, TEK/TIK, packet MACs and the launch measurement.

use crate::certs::{SevCert, Usage};
use crate::model::FwResult;
use crate::model::firmware::crypto::{Key16, ModelRng, aes128_ctr, ct_eq, ecdh_x, hmac, kdf16};
use crate::status::fw;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// `SEV_CHANNEL_CTX_SECRET`: the MAC context byte of LAUNCH_SECRET packets.
pub(crate) const CTX_SECRET: u8 = 0x01;
/// `SEV_CHANNEL_CTX_DATA`: SEND/RECEIVE_UPDATE packets (DATA and VMSA alike, §8 item 2).
pub(crate) const CTX_DATA: u8 = 0x02;
/// `SEV_CHANNEL_CTX_MEASURE`: the launch measurement.
pub(crate) const CTX_MEASURE: u8 = 0x04;

/// Size of the session blob.
pub(crate) const SESSION_LEN: usize = 0x80;
/// Size of a packet header (FLAGS ‖ IV ‖ MAC).
pub(crate) const HDR_LEN: usize = 52;
/// Packet header flag: compressed payload (not supported, as in the Genoa firmware).
pub(crate) const FLAG_COMPRESSED: u32 = 1;

/// The transport keys of a guest's channel and the measurement it binds secrets to.
/// All-zero keys stand for "no session" (LAUNCH_START without a DH certificate).
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Channel {
    pub(crate) tek: [u8; 16],
    pub(crate) tik: [u8; 16],
    /// MEASURE of LAUNCH_MEASURE, for LAUNCH_SECRET's MAC.
    pub(crate) measure: Option<[u8; 32]>,
}

/// KEK and KIK of a session (§4.4 step 3).
pub(crate) struct SessionKeys {
    kek: Key16,
    kik: Key16,
}

/// `MASTER = KDF(Z, "sev-master-secret", NONCE)`, then KEK and KIK from MASTER.
pub(crate) fn session_keys(z: &[u8], nonce: &[u8; 16]) -> SessionKeys {
    let master = kdf16(z, b"sev-master-secret", nonce);
    SessionKeys {
        kek: kdf16(&master[..], b"sev-kek", &[]),
        kik: kdf16(&master[..], b"sev-kik", &[]),
    }
}

/// Build a session blob: NONCE ‖ WRAP_TK ‖ WRAP_IV ‖ WRAP_MAC ‖ POLICY_MAC.
pub(crate) fn seal(
    keys: &SessionKeys,
    ch: &Channel,
    nonce: &[u8; 16],
    iv: &[u8; 16],
    policy: u32,
) -> [u8; SESSION_LEN] {
    let mut blob = [0u8; SESSION_LEN];
    blob[..16].copy_from_slice(nonce);
    let mut tk = Zeroizing::new([0u8; 32]);
    tk[..16].copy_from_slice(&ch.tek);
    tk[16..].copy_from_slice(&ch.tik);
    aes128_ctr(&keys.kek, iv, &mut tk[..]);
    blob[0x10..0x30].copy_from_slice(&tk[..]);
    blob[0x30..0x40].copy_from_slice(iv);
    blob[0x40..0x60].copy_from_slice(&hmac(&keys.kik[..], &[&tk[..]]));
    blob[0x60..0x80].copy_from_slice(&hmac(&ch.tik, &[&policy.to_le_bytes()]));
    blob
}

/// Check a session blob and unwrap TEK and TIK: WRAP_MAC, then POLICY_MAC (both
/// BAD_MEASUREMENT), each compared in constant time.
pub(crate) fn unseal(keys: &SessionKeys, blob: &[u8], policy: u32) -> FwResult<Channel> {
    if blob.len() != SESSION_LEN {
        return Err(fw::INVALID_LENGTH);
    }
    let wrap_tk = &blob[0x10..0x30];
    if !ct_eq(&hmac(&keys.kik[..], &[wrap_tk]), &blob[0x40..0x60]) {
        return Err(fw::BAD_MEASUREMENT);
    }
    let iv: [u8; 16] = blob[0x30..0x40].try_into().expect("16 bytes");
    let mut tk = Zeroizing::new([0u8; 32]);
    tk.copy_from_slice(wrap_tk);
    aes128_ctr(&keys.kek, &iv, &mut tk[..]);
    let mut ch = Channel::default();
    ch.tek.copy_from_slice(&tk[..16]);
    ch.tik.copy_from_slice(&tk[16..]);
    if !ct_eq(&hmac(&ch.tik, &[&policy.to_le_bytes()]), &blob[0x60..0x80]) {
        return Err(fw::BAD_MEASUREMENT);
    }
    Ok(ch)
}

/// The sanity check the firmware applies to a peer's DH certificate (GODH or a migration
/// peer's PDH): version 1, usage PDH, algo ECDH_SHA256, a valid P-384 point. Signatures are
/// not checked here (§4.4).
pub(crate) fn peer_dh_key(cert: &[u8]) -> FwResult<p384::PublicKey> {
    let cert = SevCert::from_bytes(cert).map_err(|_| fw::INVALID_LENGTH)?;
    cert.check_body(Usage::PDH)
        .map_err(|_| fw::INVALID_CERTIFICATE)
}

/// The server side (LAUNCH_START, RECEIVE_START): check the peer's DH certificate, agree on
/// Z with the platform's PDH key and unwrap the session.
pub(crate) fn open_server(
    pdh: &p384::SecretKey,
    dh_cert: &[u8],
    session: &[u8],
    policy: u32,
) -> FwResult<Channel> {
    let peer = peer_dh_key(dh_cert)?;
    let z = ecdh_x(pdh, &peer);
    let nonce: [u8; 16] = session
        .get(..16)
        .ok_or(fw::INVALID_LENGTH)?
        .try_into()
        .expect("16 bytes");
    unseal(&session_keys(&z[..], &nonce), session, policy)
}

/// The client side (SEND_START): fresh TEK, TIK, NONCE and WRAP_IV, wrapped for the peer's
/// PDH with this platform's PDH key.
pub(crate) fn create_client(
    own: &p384::SecretKey,
    peer: &p384::PublicKey,
    policy: u32,
    rng: &mut ModelRng,
) -> (Channel, [u8; SESSION_LEN]) {
    let ch = Channel {
        tek: rng.bytes(),
        tik: rng.bytes(),
        measure: None,
    };
    let nonce: [u8; 16] = rng.bytes();
    let iv: [u8; 16] = rng.bytes();
    let z = ecdh_x(own, peer);
    let blob = seal(&session_keys(&z[..], &nonce), &ch, &nonce, &iv, policy);
    (ch, blob)
}

/// The MAC of a packet: `HMAC(TIK, ctx ‖ LE32(flags) ‖ IV ‖ LE32(len_a) ‖ LE32(len_b) ‖
/// data [‖ measure])` (§4.7, §4.8).
#[allow(clippy::too_many_arguments)]
pub(crate) fn packet_mac(
    tik: &[u8; 16],
    ctx: u8,
    flags: u32,
    iv: &[u8; 16],
    len_a: u32,
    len_b: u32,
    data: &[u8],
    measure: Option<&[u8; 32]>,
) -> [u8; 32] {
    let m: &[u8] = measure.map(|m| &m[..]).unwrap_or(&[]);
    hmac(
        tik,
        &[
            &[ctx],
            &flags.to_le_bytes(),
            iv,
            &len_a.to_le_bytes(),
            &len_b.to_le_bytes(),
            data,
            m,
        ],
    )
}

/// A parsed packet header.
pub(crate) struct PacketHeader {
    pub(crate) flags: u32,
    pub(crate) iv: [u8; 16],
    pub(crate) mac: [u8; 32],
}

impl PacketHeader {
    /// Parse the first 52 bytes of `b` (the caller checked the length).
    pub(crate) fn parse(b: &[u8]) -> PacketHeader {
        PacketHeader {
            flags: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            iv: b[4..20].try_into().expect("16 bytes"),
            mac: b[20..52].try_into().expect("32 bytes"),
        }
    }

    /// The 52-byte wire form.
    pub(crate) fn to_bytes(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0..4].copy_from_slice(&self.flags.to_le_bytes());
        b[4..20].copy_from_slice(&self.iv);
        b[20..52].copy_from_slice(&self.mac);
        b
    }
}

/// `MEASURE = HMAC(TIK, 0x04 ‖ API_MAJOR ‖ API_MINOR ‖ BUILD ‖ LE32(policy) ‖ LD ‖ MNONCE)`
/// (§4.6); firmware before API 0.17 left out the context and version prefix.
pub(crate) fn launch_measure_mac(
    tik: &[u8; 16],
    api: (u8, u8, u8),
    policy: u32,
    ld: &[u8; 32],
    mnonce: &[u8; 16],
) -> [u8; 32] {
    if (api.0, api.1) < (0, 17) {
        hmac(tik, &[&policy.to_le_bytes(), ld, mnonce])
    } else {
        hmac(
            tik,
            &[
                &[CTX_MEASURE, api.0, api.1, api.2],
                &policy.to_le_bytes(),
                ld,
                mnonce,
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn kat_file(name: &str) -> String {
        let p = format!(
            "{}/../shared/testdata/sev/kat/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn vector(text: &str, key: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in the vector file"))
            .trim()
            .to_string()
    }

    #[test]
    fn session_wrap_known_answer_from_the_vector_file() {
        let v = kat_file("crate-session-vectors.txt");
        let z = unhex(&vector(&v, "wrap_z"));
        let nonce: [u8; 16] = unhex(&vector(&v, "wrap_nonce")).try_into().unwrap();
        let iv: [u8; 16] = unhex(&vector(&v, "wrap_iv")).try_into().unwrap();
        let ch = Channel {
            tek: unhex(&vector(&v, "wrap_tek")).try_into().unwrap(),
            tik: unhex(&vector(&v, "wrap_tik")).try_into().unwrap(),
            measure: None,
        };
        let keys = session_keys(&z, &nonce);
        // sev-spec §4.13 item 2 gives KEK and KIK too.
        assert_eq!(keys.kek[..], unhex("b6abfbfb75ea1ea74ed8750b8afdb973")[..]);
        assert_eq!(keys.kik[..], unhex("53b524bf5669a363f365c864acba8572")[..]);
        let blob = seal(&keys, &ch, &nonce, &iv, 0);
        assert_eq!(blob[0x10..0x30], unhex(&vector(&v, "wrap_tk"))[..]);
        assert_eq!(blob[0x40..0x60], unhex(&vector(&v, "wrap_mac"))[..]);
        assert_eq!(blob[0x60..0x80], unhex(&vector(&v, "policy_mac"))[..]);
        // Unsealing gives the keys back; any flipped MAC byte or another policy is refused.
        let back = unseal(&keys, &blob, 0).unwrap();
        assert_eq!((back.tek, back.tik), (ch.tek, ch.tik));
        let mut bad = blob;
        bad[0x45] ^= 1;
        assert_eq!(unseal(&keys, &bad, 0).err(), Some(fw::BAD_MEASUREMENT));
        let mut bad = blob;
        bad[0x7F] ^= 0x80;
        assert_eq!(unseal(&keys, &bad, 0).err(), Some(fw::BAD_MEASUREMENT));
        assert_eq!(unseal(&keys, &blob, 1).err(), Some(fw::BAD_MEASUREMENT));
    }

    #[test]
    fn launch_measure_known_answers() {
        // The vector file (sev-spec §4.13 item 3) ...
        let v = kat_file("crate-session-vectors.txt");
        let tik: [u8; 16] = unhex(&vector(&v, "msr_tik")).try_into().unwrap();
        let ld: [u8; 32] = unhex(&vector(&v, "msr_digest")).try_into().unwrap();
        let mnonce: [u8; 16] = unhex(&vector(&v, "msr_mnonce")).try_into().unwrap();
        let build: Vec<u8> = vector(&v, "msr_build")
            .split('.')
            .map(|x| x.parse().unwrap())
            .collect();
        let m = launch_measure_mac(&tik, (build[0], build[1], build[2]), 0, &ld, &mnonce);
        assert_eq!(m[..], unhex(&vector(&v, "msr_measure"))[..]);
        // ... the 48-byte LAUNCH_MEASURE output file and its digest file ...
        let bin = std::fs::read(format!(
            "{}/../shared/testdata/sev/kat/crate-measurement.bin",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let digest: [u8; 32] = unhex(&kat_file("crate-digest.hex")).try_into().unwrap();
        let st = kat_file("crate-measurement.state");
        let tik2: [u8; 16] = unhex(&vector(&st, "tik")).try_into().unwrap();
        let mn: [u8; 16] = bin[32..48].try_into().unwrap();
        let m2 = launch_measure_mac(&tik2, (0, 18, 15), 0, &digest, &mn);
        assert_eq!(m2[..], bin[..32]);
        // ... and the API 1.40 vector of sev-spec §4.13 item 4 (values there in base64,
        // here in hex).
        let tik: [u8; 16] = unhex("3569cf61a32a602b87185ac6e0f55913")
            .try_into()
            .unwrap();
        let mnonce: [u8; 16] = unhex("c313fab511c216b1505b1b2ea9903c40")
            .try_into()
            .unwrap();
        let ld: [u8; 32] =
            unhex("c64bd101fc9a4a2ce0a27c408d9200911f139a895469b04a40a6fa289083 0d23")
                .try_into()
                .unwrap();
        let m = launch_measure_mac(&tik, (1, 40, 40), 3, &ld, &mnonce);
        assert_eq!(
            m[..],
            unhex("96cc1bc56c48f60724c9ad7a250bdd16da5898d3b86fede29c03e9aac828048e")[..]
        );
    }

    #[test]
    fn secret_packet_known_answer() {
        // sev-spec §4.13 item 5: the header and payload sevctl's secretbuild test expects
        // (base64 there, hex here) verify with the §4.7 MAC and decrypt to an OVMF secret
        // table (GUID 1e74f542-71dd-4d66-963e-ef4287ff173b).
        let tik: [u8; 16] = unhex("c6d5a9956133050912b24bbe5c372686")
            .try_into()
            .unwrap();
        let tek: [u8; 16] = unhex("52a869b79ab9c13bb6a92b0561619cb3")
            .try_into()
            .unwrap();
        let measure: [u8; 32] =
            unhex("4cb780efad3b959427b4b8d1635fe2fac6ed75267eef9cf1a73e0fc7d873a412")
                .try_into()
                .unwrap();
        let hdr = unhex(
            "00000000ac5474ed4dd32c7d989ec523d92559ecbc152cde610e17f0aef557334a2d4fca
             42c22c4312e3b5b85a3d47b0aac857e5",
        );
        let mut payload = unhex(
            "d14ddee4f717bf4516f87e2d48114a39d0987ca135fa3dfc05cd9fb8ed7a9988b223eb16c7b20d7e
             7fa58188f9e862f5db2ca29c36be9557c20b00ffdb0e5c3c",
        );
        let h = PacketHeader::parse(&hdr);
        assert_eq!(h.to_bytes()[..], hdr[..]);
        assert_eq!(h.iv[..], unhex("ac5474ed4dd32c7d989ec523d92559ec")[..]);
        let n = payload.len() as u32;
        let mac = packet_mac(
            &tik,
            CTX_SECRET,
            h.flags,
            &h.iv,
            n,
            n,
            &payload,
            Some(&measure),
        );
        assert!(ct_eq(&mac, &h.mac));
        // Any other context byte or a missing measurement gives another MAC.
        assert!(!ct_eq(
            &packet_mac(
                &tik,
                CTX_DATA,
                h.flags,
                &h.iv,
                n,
                n,
                &payload,
                Some(&measure)
            ),
            &h.mac
        ));
        assert!(!ct_eq(
            &packet_mac(&tik, CTX_SECRET, h.flags, &h.iv, n, n, &payload, None),
            &h.mac
        ));
        aes128_ctr(&tek, &h.iv, &mut payload);
        assert_eq!(payload[..16], unhex("42f5741edd71664d963eef4287ff173b")[..]);
    }
}

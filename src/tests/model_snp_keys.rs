//! MSG_KEY_REQ on the SNP firmware model (`sev-spec` SNP §4.3, §3.8), as the guest sends it
//! through KVM's guest request: the same request gives the same key, every selected guest
//! field (and HOST_DATA, VMPL, the ID-block key always) changes it when it differs, an
//! unselected one does not, the roots (VCEK for the requested or reported TCB, VLEK, VMRK)
//! give different keys, another chip gives another key, and each payload refusal comes back
//! in the response's STATUS in the firmware's order.

use p384::ecdsa::{Signature, SigningKey, signature::Signer};
use sev::api::Platform;
use sev::api::snp::{SnpFinish, SnpGuest};
use sev::model::ModelConfig;
use sev::model::snp::guestmsg::{MSG_KEY_REQ, MSG_KEY_RSP, gfs, key_select, open, seal};
use sev::uapi::snp::{TcbVersion, id_auth, page_type, policy};

const INVALID_PARAM: u32 = 0x16;
const INVALID_KEY: u32 = 0x27;
const VMRK: u32 = key_select::ROOT_VMRK;
const VCEK: u32 = key_select::KEY_SEL_VCEK;
const VLEK: u32 = key_select::KEY_SEL_VLEK;
const SECRETS_GPA: u64 = 0x2000;

fn platform(seed: u8) -> Platform {
    Platform::emulated(ModelConfig {
        seed: Some([seed; 32]),
        ..ModelConfig::default()
    })
    .unwrap()
}

/// What distinguishes one launch from another.
#[derive(Clone, Copy)]
struct Launch {
    policy: u64,
    content: u8,
    host_data: [u8; 32],
    /// A signed ID block.
    id: Option<Id>,
    vcek_disabled: bool,
    finish: bool,
}

const BASE: Launch = Launch {
    policy: policy::DEFAULT,
    content: 0x90,
    host_data: [0x33; 32],
    id: None,
    vcek_disabled: false,
    finish: true,
};

/// An ID block: FAMILY_ID and IMAGE_ID (each 16 times one byte), GUEST_SVN, the ID key and
/// the author key if any (P-384 scalars of 48 times one byte).
#[derive(Clone, Copy)]
struct Id {
    family: u8,
    image: u8,
    svn: u32,
    id_key: u8,
    author: Option<u8>,
}

const ID: Id = Id {
    family: 1,
    image: 1,
    svn: 3,
    id_key: 7,
    author: None,
};

/// Little-endian 72-byte field of a 48-byte big-endian value.
fn le72(be: &[u8]) -> [u8; 72] {
    let mut o = [0u8; 72];
    for (i, b) in be.iter().rev().enumerate() {
        o[i] = *b;
    }
    o
}

fn key_struct(k: &SigningKey) -> Vec<u8> {
    let pt = k.verifying_key().to_encoded_point(false);
    let mut s = vec![0u8; id_auth::KEY_LEN];
    s[0..4].copy_from_slice(&id_auth::CURVE_P384.to_le_bytes());
    s[4..76].copy_from_slice(&le72(pt.x().unwrap()));
    s[0x4C..0x4C + 72].copy_from_slice(&le72(pt.y().unwrap()));
    s
}

fn sig_struct(sig: &Signature) -> Vec<u8> {
    let (r, s) = sig.split_bytes();
    let mut o = vec![0u8; id_auth::SIG_LEN];
    o[..72].copy_from_slice(&le72(&r));
    o[0x48..0x48 + 72].copy_from_slice(&le72(&s));
    o
}

/// A guest with a secrets page and two pages of `l.content`, finished as `l` says.
fn launch(p: &Platform, l: Launch) -> SnpGuest {
    let mut g = SnpGuest::new(p).unwrap();
    g.init2(0, 0).unwrap();
    g.launch_start(l.policy, [0; 16]).unwrap();
    g.launch_update(SECRETS_GPA, &mut vec![0u8; 4096], page_type::SECRETS)
        .unwrap();
    g.launch_update(0x10000, &mut vec![l.content; 8192], page_type::NORMAL)
        .unwrap();
    if !l.finish {
        return g;
    }
    let (mut block, mut auth) = (vec![0u8; 96], vec![0u8; 4096]);
    if let Some(id) = l.id {
        let idk = SigningKey::from_slice(&[id.id_key; 48]).unwrap();
        let ak = SigningKey::from_slice(&[id.author.unwrap_or(9); 48]).unwrap();
        let ld = p
            .model()
            .unwrap()
            .snp_measurement(g.model_vm().unwrap())
            .unwrap();
        block[..48].copy_from_slice(&ld);
        block[0x30..0x40].fill(id.family);
        block[0x40..0x50].fill(id.image);
        block[0x50] = 1;
        block[0x54..0x58].copy_from_slice(&id.svn.to_le_bytes());
        block[0x58..0x60].copy_from_slice(&l.policy.to_le_bytes());
        auth[0..4].copy_from_slice(&1u32.to_le_bytes());
        auth[4..8].copy_from_slice(&1u32.to_le_bytes());
        let sig: Signature = idk.sign(&block);
        auth[id_auth::ID_BLOCK_SIG..id_auth::ID_BLOCK_SIG + 0x200]
            .copy_from_slice(&sig_struct(&sig));
        let ks = key_struct(&idk);
        auth[id_auth::ID_KEY..id_auth::ID_KEY + 0x404].copy_from_slice(&ks);
        let ksig: Signature = ak.sign(&ks);
        auth[id_auth::ID_KEY_SIG..id_auth::ID_KEY_SIG + 0x200].copy_from_slice(&sig_struct(&ksig));
        auth[id_auth::AUTHOR_KEY..id_auth::AUTHOR_KEY + 0x404].copy_from_slice(&key_struct(&ak));
    }
    g.launch_finish(&SnpFinish {
        id_block: l.id.map(|_| (&block[..], &auth[..])),
        auth_key_en: l.id.is_some_and(|i| i.author.is_some()),
        vcek_disabled: l.vcek_disabled,
        host_data: l.host_data,
    })
    .unwrap();
    g
}

/// A key request at VMPL 0 over VMPCK0 that must succeed.
fn key(g: &SnpGuest, sel: u32, select: u64, svn: u32, tcb: u64) -> [u8; 32] {
    let (status, k) = g
        .model_vm()
        .unwrap()
        .guest_key(sel, select, 0, svn, tcb, 0)
        .unwrap();
    assert_eq!(status, 0, "key_select {sel:#x}, GFS {select:#x}");
    assert_ne!(k, [0u8; 32]);
    k
}

/// The response STATUS of a key request (the key is zero with a non-zero STATUS).
fn status(g: &SnpGuest, sel: u32, select: u64, vmpl: u32, svn: u32, tcb: u64, vmpck: u8) -> u32 {
    let (s, k) = g
        .model_vm()
        .unwrap()
        .guest_key(sel, select, vmpl, svn, tcb, vmpck)
        .unwrap();
    if s != 0 {
        assert_eq!(k, [0u8; 32], "no key with STATUS {s:#x}");
    }
    s
}

fn tcb(bl: u8, tee: u8, snp: u8, ucode: u8) -> u64 {
    TcbVersion {
        fmc: 0,
        bootloader: bl,
        tee,
        snp,
        microcode: ucode,
    }
    .to_u64_milan()
}

#[test]
fn same_request_same_key_and_each_selected_field_changes_it() {
    let p = platform(0x40);
    let a = launch(&p, BASE);
    let all = gfs::POLICY | gfs::MEASUREMENT | gfs::IMAGE_ID | gfs::FAMILY_ID;
    for (sel, select) in [(0, 0), (VCEK, all), (VMRK, all | gfs::GUEST_SVN)] {
        assert_eq!(key(&a, sel, select, 0, 0), key(&a, sel, select, 0, 0));
    }
    // The selection itself is mixed in.
    assert_ne!(key(&a, 0, 0, 0, 0), key(&a, 0, gfs::POLICY, 0, 0));
    // A second identical launch on the chip: the same VCEK-rooted key, another VMRK.
    let twin = launch(&p, BASE);
    assert_eq!(key(&a, VCEK, all, 0, 0), key(&twin, VCEK, all, 0, 0));
    assert_ne!(key(&a, VMRK, all, 0, 0), key(&twin, VMRK, all, 0, 0));
    assert_ne!(key(&a, VMRK, 0, 0, 0), key(&a, VCEK, 0, 0, 0));
    // Measurement (other contents) and policy: only when selected.
    let other = |l: Launch| launch(&p, l);
    let m = other(Launch {
        content: 0x91,
        ..BASE
    });
    assert_eq!(key(&a, 0, gfs::POLICY, 0, 0), key(&m, 0, gfs::POLICY, 0, 0));
    assert_ne!(
        key(&a, 0, gfs::MEASUREMENT, 0, 0),
        key(&m, 0, gfs::MEASUREMENT, 0, 0)
    );
    let pol = other(Launch {
        policy: policy::DEFAULT | 1,
        ..BASE
    });
    assert_eq!(
        key(&a, 0, gfs::MEASUREMENT, 0, 0),
        key(&pol, 0, gfs::MEASUREMENT, 0, 0)
    );
    assert_ne!(
        key(&a, 0, gfs::POLICY, 0, 0),
        key(&pol, 0, gfs::POLICY, 0, 0)
    );
    // HOST_DATA is always mixed in.
    let hd = other(Launch {
        host_data: [0x34; 32],
        ..BASE
    });
    assert_ne!(key(&a, 0, 0, 0, 0), key(&hd, 0, 0, 0, 0));
    assert_ne!(key(&a, VMRK, 0, 0, 0), key(&hd, VMRK, 0, 0, 0));
    // VMPL is always mixed in; the VMPCK the request came over is not.
    let vm = a.model_vm().unwrap();
    let (s0, k0) = vm.guest_key(0, 0, 1, 0, 0, 0).unwrap();
    let (s1, k1) = vm.guest_key(0, 0, 1, 0, 0, 1).unwrap();
    assert_eq!((s0, s1), (0, 0));
    assert_eq!(k0, k1);
    assert_ne!(k0, key(&a, 0, 0, 0, 0));
    // GUEST_SVN and TCB_VERSION, unselected, are neither checked nor mixed in.
    let k = key(&a, 0, 0, 0, 0);
    assert_eq!(key(&a, 0, 0, 7, 0), k);
    assert_eq!(key(&a, 0, 0, 0, u64::MAX), k);
}

#[test]
fn id_block_fields_svn_and_tcb() {
    let p = platform(0x41);
    let no_id = launch(&p, BASE);
    let id = |id: Id| {
        launch(
            &p,
            Launch {
                id: Some(id),
                ..BASE
            },
        )
    };
    let f = id(ID);
    let k = |g: &SnpGuest, select| key(g, 0, select, 0, 0);
    // The ID-block key select (bits 1-2 of word 0: 0 none, 1 ID key, 2 author key) and the
    // digest of that key always count: another ID key, an author key, another author key,
    // and an author key that is the ID key itself (equal digests, only the select differs).
    let author = id(Id {
        author: Some(9),
        ..ID
    });
    let keys = [
        k(&no_id, 0),
        k(&f, 0),
        k(&id(Id { id_key: 8, ..ID }), 0),
        k(&author, 0),
        k(
            &id(Id {
                author: Some(10),
                ..ID
            }),
            0,
        ),
        k(
            &id(Id {
                author: Some(7),
                ..ID
            }),
            0,
        ),
    ];
    for i in 0..keys.len() {
        for j in 0..i {
            assert_ne!(keys[i], keys[j], "ID-block variants {j} and {i}");
        }
    }
    // IMAGE_ID and FAMILY_ID, each only when selected.
    let image = id(Id { image: 2, ..ID });
    let family = id(Id { family: 2, ..ID });
    assert_eq!(k(&f, 0), k(&image, 0));
    assert_eq!(k(&f, gfs::FAMILY_ID), k(&image, gfs::FAMILY_ID));
    assert_ne!(k(&f, gfs::IMAGE_ID), k(&image, gfs::IMAGE_ID));
    assert_eq!(k(&f, gfs::IMAGE_ID), k(&family, gfs::IMAGE_ID));
    assert_ne!(k(&f, gfs::FAMILY_ID), k(&family, gfs::FAMILY_ID));
    // A different GUEST_SVN in the ID block alone changes nothing unless the key mixes one in.
    assert_eq!(k(&f, 0), k(&id(Id { svn: 5, ..ID }), 0));
    // GUEST_SVN: any value up to the ID block's, each a different key; above it refused.
    let svn = |g: &SnpGuest, v| key(g, 0, gfs::GUEST_SVN, v, 0);
    assert_ne!(svn(&f, 2), svn(&f, 3));
    assert_ne!(svn(&f, 0), k(&f, 0));
    assert_eq!(status(&f, 0, gfs::GUEST_SVN, 0, 4, 0, 0), INVALID_PARAM);
    assert_eq!(status(&no_id, 0, gfs::GUEST_SVN, 0, 1, 0, 0), INVALID_PARAM);
    assert_eq!(
        status(&no_id, VMRK, gfs::GUEST_SVN, 0, 1, 0, 0),
        INVALID_PARAM
    );
    svn(&no_id, 0);
    // TCB_VERSION: the committed TCB and any with no component above it, each a different
    // key; one component above (even when the whole TCB orders lower) or a reserved byte set
    // is refused, whatever the root.
    let committed = p.snp_status().unwrap().reported_tcb;
    assert_eq!(committed, tcb(3, 0, 8, 0x73));
    let t = |g: &SnpGuest, v| key(g, 0, gfs::TCB_VERSION, 0, v);
    assert_ne!(t(&f, committed), k(&f, 0));
    assert_ne!(t(&f, committed), t(&f, tcb(2, 0, 8, 0x73)));
    assert_ne!(t(&f, tcb(3, 0, 7, 0x73)), t(&f, tcb(3, 0, 8, 0x72)));
    // The requested TCB is mixed in, not only used to pick the VCEK: the VMRK root too.
    assert_ne!(
        key(&f, VMRK, gfs::TCB_VERSION, 0, committed),
        key(&f, VMRK, gfs::TCB_VERSION, 0, tcb(2, 0, 8, 0x73))
    );
    for bad in [
        tcb(2, 0, 9, 0x73),
        tcb(3, 1, 0, 0),
        tcb(3, 0, 8, 0x74),
        tcb(4, 0, 0, 0),
        committed | 1 << 24,
    ] {
        for sel in [0, VMRK] {
            assert_eq!(
                status(&f, sel, gfs::TCB_VERSION, 0, 0, bad, 0),
                INVALID_PARAM,
                "TCB {bad:#018x}, key_select {sel}"
            );
        }
    }
    // The VCEK root follows the REPORTED_TCB (SNP_SET_CONFIG); the VMRK does not.
    let (vcek, vmrk) = (k(&f, 0), key(&f, VMRK, 0, 0, 0));
    p.snp_set_config(tcb(2, 0, 8, 0x73), false, false).unwrap();
    assert_ne!(k(&f, 0), vcek);
    assert_eq!(key(&f, VMRK, 0, 0, 0), vmrk);
    // A requested TCB selects the VCEK for it, whatever the REPORTED_TCB.
    let at_committed = t(&f, committed);
    p.snp_set_config(0, false, false).unwrap();
    assert_eq!(t(&f, committed), at_committed);
    assert_eq!(k(&f, 0), vcek);
}

#[test]
fn roots_and_refusals_in_the_firmwares_order() {
    let p = platform(0x42);
    let g = launch(&p, BASE);
    // Without a VLEK: KEY_SEL 0 is the VCEK; KEY_SEL 2 (VLEK) and 3 are INVALID_KEY; with
    // the VMRK root KEY_SEL is not looked at (and not mixed in).
    let vcek = key(&g, 0, 0, 0, 0);
    assert_eq!(key(&g, VCEK, 0, 0, 0), vcek);
    assert_eq!(status(&g, VLEK, 0, 0, 0, 0, 0), INVALID_KEY);
    assert_eq!(status(&g, 3 << 1, 0, 0, 0, 0, 0), INVALID_KEY);
    assert_eq!(key(&g, VMRK | 3 << 1, 0, 0, 0), key(&g, VMRK, 0, 0, 0));
    // Reserved bits of the first word; unknown GFS bits; VMPL below the VMPCK.
    for sel in [1 << 3, 1 << 31, VMRK | 1 << 8] {
        assert_eq!(status(&g, sel, 0, 0, 0, 0, 0), INVALID_PARAM, "{sel:#x}");
    }
    for select in [1 << 6, 1 << 63, gfs::ALL + 1] {
        assert_eq!(status(&g, 0, select, 0, 0, 0, 0), INVALID_PARAM);
    }
    assert_eq!(status(&g, 0, 0, 0, 0, 0, 1), INVALID_PARAM);
    assert_eq!(status(&g, 0, 0, 1, 0, 0, 1), 0);
    // Order: an unusable KEY_SEL is found before the VMPL and the GFS bits.
    assert_eq!(status(&g, VLEK, 1 << 6, 0, 0, 0, 1), INVALID_KEY);
    // MASK_CHIP_KEY: no VCEK or VLEK root at all (after the reserved bits, before the VMPL);
    // the VMRK still works.
    p.snp_set_config(0, false, true).unwrap();
    assert_eq!(status(&g, 0, 0, 0, 0, 0, 0), INVALID_KEY);
    assert_eq!(status(&g, VCEK, 0, 0, 0, 0, 1), INVALID_KEY);
    assert_eq!(status(&g, 1 << 3, 0, 0, 0, 0, 0), INVALID_PARAM);
    key(&g, VMRK, 0, 0, 0);
    p.snp_set_config(0, false, false).unwrap();
    assert_eq!(key(&g, 0, 0, 0, 0), vcek);
    // VCEK disabled at LAUNCH_FINISH: only the VLEK (none yet) or the VMRK.
    let nv = launch(
        &p,
        Launch {
            vcek_disabled: true,
            ..BASE
        },
    );
    assert_eq!(status(&nv, VCEK, 0, 0, 0, 0, 0), INVALID_KEY);
    assert_eq!(status(&nv, 0, 0, 0, 0, 0, 0), INVALID_KEY);
    key(&nv, VMRK, 0, 0, 0);
    // A VLEK: KEY_SEL 0 and 2 derive from it, KEY_SEL 1 still from the VCEK, and the guest
    // without the VCEK gets the VLEK key too. MASK_CHIP_KEY refuses the VLEK root as well.
    let m = p.model().unwrap();
    let tcb = p.snp_status().unwrap().reported_tcb;
    p.snp_vlek_load(&m.snp_wrap_vlek(&[0x42; 0x180], tcb))
        .unwrap();
    let vlek = key(&g, VLEK, 0, 0, 0);
    assert_ne!(vlek, vcek);
    assert_eq!(key(&g, 0, 0, 0, 0), vlek);
    assert_eq!(key(&g, VCEK, 0, 0, 0), vcek);
    assert_eq!(key(&nv, 0, 0, 0, 0), key(&nv, VLEK, 0, 0, 0));
    assert_eq!(status(&nv, VCEK, 0, 0, 0, 0, 0), INVALID_KEY);
    p.snp_set_config(0, false, true).unwrap();
    assert_eq!(status(&g, VLEK, 0, 0, 0, 0, 0), INVALID_KEY);
    p.snp_set_config(0, false, false).unwrap();
    // Command-level: a guest not yet running is INVALID_GUEST_STATE (no response).
    let early = launch(
        &p,
        Launch {
            finish: false,
            ..BASE
        },
    );
    assert_eq!(
        early.model_vm().unwrap().guest_key(0, 0, 0, 0, 0, 0),
        Err(0x02)
    );
}

/// The message as the firmware sees it: a response of type MSG_KEY_RSP, 0x40 bytes; a
/// non-zero reserved word or a short payload is INVALID_PARAM.
#[test]
fn raw_key_messages() {
    let p = platform(0x43);
    let g = launch(&p, BASE);
    let vm = g.model_vm().unwrap();
    let s = vm.guest_read_page(SECRETS_GPA).unwrap();
    let vmpck0: [u8; 32] = s[0x20..0x40].try_into().unwrap();
    let mut seqno = 1u64;
    let mut send = |payload: &[u8]| {
        let msg = seal(&vmpck0, seqno, MSG_KEY_REQ, 0, payload);
        let mut req = [0u8; 4096];
        req[..msg.len()].copy_from_slice(&msg);
        let rsp = vm.guest_request(&req).unwrap();
        assert_eq!(rsp[0x34], MSG_KEY_RSP);
        assert_eq!(
            u64::from_le_bytes(rsp[0x20..0x28].try_into().unwrap()),
            seqno + 1
        );
        seqno += 2;
        let body = open(&vmpck0, &rsp).unwrap();
        assert_eq!(body.len(), 0x40);
        (u32::from_le_bytes(body[..4].try_into().unwrap()), body)
    };
    let (st, body) = send(&[0u8; 0x20]);
    assert_eq!(st, 0);
    assert!(body[4..0x20].iter().all(|b| *b == 0));
    assert_ne!(&body[0x20..], &[0u8; 32][..]);
    let mut rsvd = [0u8; 0x20];
    rsvd[4] = 1;
    assert_eq!(send(&rsvd).0, INVALID_PARAM);
    assert_eq!(send(&[0u8; 0x10]).0, INVALID_PARAM);
}

#[test]
fn keys_belong_to_one_chip() {
    let (a, b, a2) = (platform(0x50), platform(0x51), platform(0x50));
    let (ga, gb, ga2) = (launch(&a, BASE), launch(&b, BASE), launch(&a2, BASE));
    for select in [0, gfs::MEASUREMENT | gfs::POLICY] {
        assert_ne!(key(&ga, 0, select, 0, 0), key(&gb, 0, select, 0, 0));
        // The same model seed is the same chip.
        assert_eq!(key(&ga, 0, select, 0, 0), key(&ga2, 0, select, 0, 0));
    }
    assert_ne!(key(&ga, VMRK, 0, 0, 0), key(&gb, VMRK, 0, 0, 0));
    // The VLEK is not the chip's: the same VLEK on two chips derives the same key.
    for p in [&a, &b] {
        let tcb = p.snp_status().unwrap().reported_tcb;
        let w = p.model().unwrap().snp_wrap_vlek(&[0x77; 0x180], tcb);
        p.snp_vlek_load(&w).unwrap();
    }
    assert_eq!(key(&ga, VLEK, 0, 0, 0), key(&gb, VLEK, 0, 0, 0));
}

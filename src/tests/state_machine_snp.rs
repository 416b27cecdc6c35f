//! SNP guests in the state-machine property test: random sequences of INIT2, vCPU VMSAs,
//! SNP_LAUNCH_START / UPDATE / FINISH (valid and invalid policies, lengths, page types,
//! overlapping ranges, ID blocks that fail) against the model through `sev::api::snp`, each
//! response compared with a reference of KVM's and the firmware's rules (`sev-spec` SNP
//! §2.3–§2.6, §3.5–§3.7), and the launch digest compared after every step with one the
//! reference computes itself from the pages it launched.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sev::api::Platform;
use sev::api::snp::{SnpFinish, SnpGuest};
use sev::model::ModelConfig;
use sev::model::snp::measure;
use sev::status::Status;
use sev::uapi::snp::{INITIAL_VMSA_GPA, page_type as pt, policy};
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Uninit,
    Inited,
    Launch,
    Running,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exp {
    Ok,
    Os(i32, u32),
    Status(Status),
}

#[derive(Debug, Clone)]
enum Cmd {
    Init2,
    Vmsa(u8),
    Start(u64),
    Update {
        gfn: u64,
        pages: u64,
        ptype: u8,
        bad_len: bool,
        seed: u8,
    },
    Finish {
        bad_id: bool,
    },
}

struct Ref {
    st: St,
    ld: [u8; 48],
    launched: HashSet<u64>,
    vcpus: Vec<[u8; 4096]>,
    protected: bool,
}

fn outcome<T>(r: &sev::Result<T>) -> Exp {
    match r {
        Ok(_) => Exp::Ok,
        Err(e) if e.os_errno != 0 => Exp::Os(e.os_errno, e.fw_error),
        Err(e) => Exp::Status(e.status),
    }
}

const POLICIES: [u64; 6] = [
    policy::DEFAULT,
    policy::DEFAULT | policy::DEBUG,
    0x10000,                              // bit 17 clear: KVM
    policy::DEFAULT | policy::MIGRATE_MA, // KVM
    policy::RSVD_MBO,                     // SMT clear on an SMT platform: firmware
    policy::DEFAULT | (2 << 8),           // ABI 2.0 > 1.55: firmware
];

fn gen_cmd(rng: &mut ChaCha8Rng) -> Cmd {
    let n = rng.next_u32();
    match n % 10 {
        0 => Cmd::Init2,
        1 => Cmd::Vmsa((n >> 8) as u8),
        2 => Cmd::Start(POLICIES[(n >> 8) as usize % POLICIES.len()]),
        3 => Cmd::Finish {
            bad_id: n & 0x100 != 0,
        },
        _ => {
            let types = [
                pt::NORMAL,
                pt::NORMAL,
                pt::ZERO,
                pt::UNMEASURED,
                pt::SECRETS,
                pt::CPUID,
                pt::VMSA,
                0,
                7,
            ];
            Cmd::Update {
                gfn: (n >> 4) as u64 % 8,
                pages: 1 + (n >> 8) as u64 % 3,
                ptype: types[(n >> 12) as usize % types.len()],
                bad_len: n >> 20 & 15 == 0,
                seed: (n >> 24) as u8,
            }
        }
    }
}

fn step(p: &Platform, g: &mut SnpGuest, r: &mut Ref, cmd: &Cmd) -> (Exp, Exp) {
    use Exp::*;
    match *cmd {
        Cmd::Init2 => {
            let want = if r.st == St::Uninit {
                Ok
            } else {
                Os(libc::EPERM, 0)
            };
            let got = outcome(&g.init2(0, 0));
            if got == Ok {
                r.st = St::Inited;
            }
            (got, want)
        }
        Cmd::Vmsa(b) => {
            let mut v = [b; 4096];
            v[0x2F0..0x300].fill(0);
            let want = if r.st == St::Uninit || r.protected {
                Exp::Status(sev::status::Status::LIBSEV_STATUS_INVALID_STATE)
            } else {
                Ok
            };
            let got = outcome(&g.set_vcpu_vmsa(0, &v));
            if got == Ok {
                v[0x3B0..0x3B8].copy_from_slice(&1u64.to_le_bytes());
                r.vcpus = vec![v];
            }
            (got, want)
        }
        Cmd::Start(pol) => {
            let want = match r.st {
                St::Uninit => Os(libc::ENOTTY, 0),
                St::Launch | St::Running => Os(libc::EINVAL, 0),
                St::Inited if pol & policy::RSVD_MBO == 0 || pol & policy::MIGRATE_MA != 0 => {
                    Os(libc::EINVAL, 0)
                }
                St::Inited if pol & policy::SMT == 0 || (pol >> 8) & 0xFF > 1 => {
                    Os(libc::EIO, 0x07)
                }
                St::Inited => Ok,
            };
            let got = outcome(&g.launch_start(pol, [0; 16]));
            if got == Ok {
                r.st = St::Launch;
            }
            (got, want)
        }
        Cmd::Update {
            gfn,
            pages,
            ptype,
            bad_len,
            seed,
        } => {
            let len = pages * 4096 - if bad_len { 1 } else { 0 };
            let mut data = vec![seed; (pages * 4096) as usize];
            if ptype == pt::CPUID {
                data.fill(0); // an empty table passes validation
            }
            let want = match r.st {
                St::Uninit => Os(libc::ENOTTY, 0),
                St::Inited => Os(libc::EINVAL, 0),
                _ if bad_len || !matches!(ptype, 1 | 3 | 4 | 5 | 6) => Os(libc::EINVAL, 0),
                St::Launch => {
                    let mut w = Ok;
                    for i in 0..pages {
                        if !r.launched.insert(gfn + i) {
                            w = Os(libc::EIO, 0);
                            break;
                        }
                        let page = &data[(i * 4096) as usize..((i + 1) * 4096) as usize];
                        r.ld = measure::update(&r.ld, ptype, (gfn + i) << 12, page);
                    }
                    w
                }
                St::Running => {
                    if r.launched.contains(&gfn) {
                        Os(libc::EIO, 0)
                    } else {
                        Os(libc::EIO, 0x02)
                    }
                }
            };
            // SAFETY: `data` is a live buffer of at least `len` bytes.
            let got = outcome(&unsafe {
                g.launch_update_raw(gfn << 12, data.as_mut_ptr() as u64, len, ptype)
            });
            (got, want)
        }
        Cmd::Finish { bad_id } => {
            let block = [0xFFu8; 96]; // never the guest's LD
            let auth = [0u8; 4096];
            let f = SnpFinish {
                id_block: bad_id.then_some((&block[..], &auth[..])),
                ..Default::default()
            };
            let want = match r.st {
                St::Uninit => Os(libc::ENOTTY, 0),
                St::Inited => Os(libc::EINVAL, 0),
                St::Running => Os(libc::EIO, 0x02),
                St::Launch => {
                    for v in &r.vcpus {
                        r.ld = measure::update(&r.ld, pt::VMSA, INITIAL_VMSA_GPA, v);
                        r.protected = true;
                    }
                    if bad_id { Os(libc::EIO, 0x0B) } else { Ok }
                }
            };
            let got = outcome(&g.launch_finish(&f));
            if got == Ok {
                r.st = St::Running;
                r.protected = true;
            }
            let _ = p;
            (got, want)
        }
    }
}

#[test]
fn random_snp_command_sequences_follow_kvm_and_the_firmware() {
    let seed: u64 = std::env::var("LIBSEV_SM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5a9_1a0c);
    let sequences: usize = std::env::var("LIBSEV_SM_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let p = Platform::emulated(ModelConfig {
        seed: Some([0x5A; 32]),
        ..ModelConfig::default()
    })
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for s in 0..sequences {
        let mut g = SnpGuest::new(&p).unwrap();
        let mut r = Ref {
            st: St::Uninit,
            ld: [0; 48],
            launched: HashSet::new(),
            vcpus: Vec::new(),
            protected: false,
        };
        let mut history = Vec::new();
        for _ in 0..25 {
            let cmd = gen_cmd(&mut rng);
            history.push(cmd.clone());
            let (got, want) = step(&p, &mut g, &mut r, &cmd);
            assert_eq!(got, want, "seed {seed:#x} sequence {s}: {history:?}");
            if matches!(r.st, St::Launch | St::Running) {
                let ld = p
                    .model()
                    .unwrap()
                    .snp_measurement(g.model_vm().unwrap())
                    .unwrap();
                assert_eq!(
                    ld, r.ld,
                    "launch digest; seed {seed:#x} sequence {s}: {history:?}"
                );
            }
        }
    }
}

//! Firmware-level tests of the statuses KVM's command sequence never provokes: ACTIVATE,
//! DEACTIVATE and DECOMMISSION errors (INVALID_ASID, ASID_OWNED, ACTIVE, INACTIVE,
//! DF_FLUSH_REQUIRED), commands on an inactive guest, GUEST_STATUS of an unknown handle,
//! and the platform state rules of INIT, PLATFORM_RESET and the key commands.

use super::*;
use crate::model::firmware::sev::guest::Start;

fn fw(asids: u32) -> Firmware {
    Firmware::new(
        (1, 55, 25),
        asids,
        Zeroizing::new([9; 32]),
        Identity::default(),
        ModelRng::new(Some(&[8; 32])),
        None,
    )
}

fn started(f: &Firmware) -> u32 {
    f.start(Start::Launch, 0, 0, None, None).unwrap()
}

#[test]
fn platform_state_rules() {
    let f = fw(4);
    assert_eq!(f.platform_status().state, 0);
    assert_eq!(f.pek_gen(), Err(fw::INVALID_PLATFORM_STATE));
    assert_eq!(f.pdh_gen(), Err(fw::INVALID_PLATFORM_STATE));
    let mut len = 0;
    assert_eq!(f.pek_csr(None, &mut len), Err(fw::INVALID_PLATFORM_STATE));
    assert_eq!(
        f.start(Start::Launch, 0, 0, None, None),
        Err(fw::INVALID_PLATFORM_STATE)
    );
    assert_eq!(f.guest_status(1), Err(fw::INVALID_PLATFORM_STATE));
    // GET_ID works in any state.
    let mut id = [0u8; 64];
    let mut len = 64;
    assert_eq!(f.get_id(Some(&mut id), &mut len), Ok(()));
    assert_eq!(id, f.chip.id);
    f.init(false).unwrap();
    assert_eq!(f.init(false), Err(fw::INVALID_PLATFORM_STATE));
    assert_eq!(f.platform_reset(), Err(fw::INVALID_PLATFORM_STATE));
    // LAUNCH_START moves to WORKING, the last DECOMMISSION back to INIT.
    f.df_flush().unwrap();
    let h = started(&f);
    assert_eq!(f.platform_status().state, 2);
    assert_eq!(f.pek_gen(), Err(fw::INVALID_PLATFORM_STATE));
    f.decommission(h).unwrap();
    assert_eq!(f.platform_status().state, 1);
    // An unknown handle: GUEST_STATUS succeeds with zeros, others are INVALID_GUEST (in
    // WORKING) or INVALID_PLATFORM_STATE (in INIT).
    assert_eq!(f.guest_status(77), Ok((0, 0, 0)));
    assert_eq!(f.launch_finish(77), Err(fw::INVALID_PLATFORM_STATE));
    let h = started(&f);
    assert_eq!(f.launch_finish(h + 1), Err(fw::INVALID_GUEST));
    // SHUTDOWN forgets the guests; PLATFORM_RESET then wipes the identity.
    f.shutdown().unwrap();
    assert_eq!(f.platform_status().guest_count, 0);
    assert_eq!(f.guest(h).err(), Some(fw::INVALID_PLATFORM_STATE));
    f.platform_reset().unwrap();
    assert!(f.state().ident.pdh.is_none());
}

#[test]
fn activation_errors() {
    let f = fw(4);
    f.init(true).unwrap();
    let a = started(&f);
    let b = started(&f);
    // SEV guests use the ASIDs above the 4 SEV-ES ones: 5..=8.
    let (s1, s2) = (5, 6);
    // After INIT every ASID is dirty.
    assert_eq!(f.activate(a, s1), Err(fw::DF_FLUSH_REQUIRED));
    f.df_flush().unwrap();
    assert_eq!(f.activate(a, 0), Err(fw::INVALID_ASID));
    assert_eq!(f.activate(a, 9), Err(fw::INVALID_ASID));
    // An SEV-ES ASID for an SEV guest.
    assert_eq!(f.activate(a, 1), Err(fw::INVALID_ASID));
    assert_eq!(f.activate(99, s1), Err(fw::INVALID_GUEST));
    f.activate(a, s1).unwrap();
    assert_eq!(f.activate(b, s1), Err(fw::ASID_OWNED));
    assert_eq!(f.activate(a, s2), Err(fw::ACTIVE));
    // An active guest cannot be decommissioned; an inactive one cannot be deactivated.
    assert_eq!(f.decommission(a), Err(fw::ACTIVE));
    assert_eq!(f.deactivate(b), Err(fw::INACTIVE));
    // Commands that need an active guest.
    let mut len = 48;
    let mut out = [0u8; 48];
    // SAFETY: the commands fail before touching memory.
    unsafe {
        assert_eq!(f.launch_update_data(b, 0x1000, 16), Err(fw::INACTIVE));
        assert_eq!(f.dbg_crypt(b, 0x1000, 0x2000, 16, true), Err(fw::INACTIVE));
    }
    f.launch_measure(b, Some(&mut out), &mut len).unwrap();
    // SAFETY: fails before touching memory.
    unsafe {
        assert_eq!(
            f.launch_secret(b, &[0; 52], 0x1000, 16, &[0; 16]),
            Err(fw::INACTIVE)
        );
    }
    // A pending ASID goes back clean (reusable at once); a running one goes dirty.
    f.deactivate(a).unwrap();
    f.activate(b, s1).unwrap();
    f.launch_finish(b).unwrap();
    f.deactivate(b).unwrap();
    assert_eq!(f.activate(a, s1), Err(fw::DF_FLUSH_REQUIRED));
    f.df_flush().unwrap();
    f.activate(a, s1).unwrap();
    assert_eq!(f.guest_status(a).unwrap().1, s1);
}

#[test]
fn slots_are_the_asid_count() {
    let f = fw(3);
    f.init(false).unwrap();
    let hs: Vec<u32> = (0..3).map(|_| started(&f)).collect();
    assert_eq!(hs, [1, 2, 3]);
    assert_eq!(
        f.start(Start::Launch, 0, 0, None, None),
        Err(fw::RESOURCE_LIMIT)
    );
    f.decommission(2).unwrap();
    assert_eq!(started(&f), 2, "the lowest free handle is reused");
    // An ES policy needs a platform initialised with CONFIG.ES.
    f.decommission(2).unwrap();
    assert_eq!(
        f.start(Start::Launch, 0, 4, None, None),
        Err(fw::UNSUPPORTED)
    );
}

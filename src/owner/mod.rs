//! The guest owner's side: chain verification, launch session, expected measurement, secret
//! packaging. (Being implemented: see the guest-owner issue.)

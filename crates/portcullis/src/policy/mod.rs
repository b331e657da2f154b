//! Realm policies: the password policy.

pub mod password;

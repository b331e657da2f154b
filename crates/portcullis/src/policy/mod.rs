//! Realm policies: the password policy and its blacklist files.

pub mod blacklist;
pub mod password;

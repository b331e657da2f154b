//! Realm policies: the password policy and its blacklist files, brute-force detection.

pub mod blacklist;
pub mod brute_force;
pub mod password;

//! The steps of a browser login, each a plain function the login-actions handlers call:
//! the SSO session ([`sso`]), the username-password form ([`password`]), the update-password
//! required action ([`required_action`]), consent ([`consent`], [`device_consent`]), and the
//! end of the login ([`respond`]). The answer to the client is the [`super::Protocol`]'s.

pub mod conditional_otp;
pub mod configure_totp;
pub mod consent;
pub mod delete_account;
pub mod device_consent;
pub mod organization;
pub mod otp;
pub mod password;
pub mod profile_actions;
pub mod recovery_codes;
pub mod required_action;
pub mod respond;
pub mod small_actions;
pub mod sso;
pub mod update_email;
pub mod verify_profile;
pub mod webauthn;

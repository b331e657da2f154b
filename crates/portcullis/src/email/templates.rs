//! Keycloak's e-mail texts (theme `base`, type `email`: `messages/messages_en.properties`,
//! `text/*.ftl`, `html/*.ftl`), filled as `FreeMarkerEmailTemplateProvider` fills them:
//! `{0}` the link, `{1}` the lifespan in minutes, `{2}` the realm's display name, then the
//! template's own arguments and the formatted lifespan.

use super::Mail;

/// `requiredAction.<alias>` of the e-mail messages (the alias itself for others, as
/// FreeMarker's `msg` answers an unknown key with the key).
pub fn required_action_text(alias: &str) -> String {
    match alias {
        "CONFIGURE_TOTP" => "Configure OTP".into(),
        "TERMS_AND_CONDITIONS" => "Terms and Conditions".into(),
        "UPDATE_PASSWORD" => "Update Password".into(),
        "UPDATE_PROFILE" => "Update Profile".into(),
        "VERIFY_EMAIL" => "Verify Email".into(),
        "CONFIGURE_RECOVERY_AUTHN_CODES" => "Generate Recovery Codes".into(),
        other => format!("requiredAction.{other}"),
    }
}

/// `LinkExpirationFormatterMethod`: whole days, hours or minutes when they divide evenly,
/// else seconds ("12 hours", "5 minutes", "1 day").
pub fn link_expiration(seconds: i64) -> String {
    // The template passes whole minutes (`TimeUnit.SECONDS.toMinutes`).
    let mut value = (seconds / 60) * 60;
    let mut unit = "second";
    if value > 0 && value % 60 == 0 {
        unit = "minute";
        value /= 60;
        if value % 60 == 0 {
            unit = "hour";
            value /= 60;
            if value % 24 == 0 {
                unit = "day";
                value /= 24;
            }
        }
    }
    let plural = if value == 1 { "" } else { "s" };
    format!("{value} {unit}{plural}")
}

/// HTML escaping of the values put into the HTML part.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `html/template.ftl`: the body in a bare HTML document.
fn page(body: &str) -> String {
    format!("<html>\n<body>\n{body}\n</body>\n</html>\n")
}

/// `email-test.ftl` (`emailTestSubject`).
pub fn test_mail(to: &str, realm_name: &str) -> Mail {
    let _ = realm_name;
    Mail {
        to: to.into(),
        subject: "[KEYCLOAK] - SMTP test message".into(),
        text: "This is a test message".into(),
        html: page("<p>This is a test message</p>"),
    }
}

/// `email-verification.ftl` (`emailVerificationSubject`).
pub fn verify_email(to: &str, realm_name: &str, link: &str, lifespan: i64) -> Mail {
    let exp = link_expiration(lifespan);
    Mail {
        to: to.into(),
        subject: "Verify email".into(),
        text: format!(
            "Someone has created a {realm_name} account with this email address. If this was you, click the link below to verify your email address\n\n{link}\n\nThis link will expire within {exp}.\n\nIf you didn't create this account, just ignore this message."
        ),
        html: page(&format!(
            "<p>Someone has created a {} account with this email address. If this was you, click the link below to verify your email address</p><p><a href=\"{}\">Link to e-mail address verification</a></p><p>This link will expire within {exp}.</p><p>If you didn't create this account, just ignore this message.</p>",
            esc(realm_name),
            esc(link)
        )),
    }
}

/// `email-update-confirmation.ftl` (`emailUpdateConfirmationSubject`): the `update-email`
/// link, sent to the NEW address (`{1}`).
pub fn update_email_confirmation(to: &str, realm_name: &str, link: &str, lifespan: i64) -> Mail {
    let exp = link_expiration(lifespan);
    Mail {
        to: to.into(),
        subject: "Verify new email".into(),
        text: format!(
            "To update your {realm_name} account with email address {to}, click the link below\n\n{link}\n\nThis link will expire within {exp}.\n\nIf you don't want to proceed with this modification, just ignore this message."
        ),
        html: page(&format!(
            "<p>To update your {} account with email address {}, click the link below</p><p><a href=\"{l}\">{l}</a></p><p>This link will expire within {exp}.</p><p>If you don't want to proceed with this modification, just ignore this message.</p>",
            esc(realm_name),
            esc(to),
            l = esc(link)
        )),
    }
}

/// `password-reset.ftl` (`passwordResetSubject`): the mail of the "Forgot password?" flow.
pub fn password_reset(to: &str, realm_name: &str, link: &str, lifespan: i64) -> Mail {
    let exp = link_expiration(lifespan);
    Mail {
        to: to.into(),
        subject: "Reset password".into(),
        text: format!(
            "Someone just requested to change your {realm_name} account's credentials. If this was you, click on the link below to reset them.\n\n{link}\n\nThis link and code will expire within {exp}.\n\nIf you don't want to reset your credentials, just ignore this message and nothing will be changed."
        ),
        html: page(&format!(
            "<p>Someone just requested to change your {} account's credentials. If this was you, click on the link below to reset them.</p><p><a href=\"{}\">Link to reset credentials</a></p><p>This link will expire within {exp}.</p><p>If you don't want to reset your credentials, just ignore this message and nothing will be changed.</p>",
            esc(realm_name),
            esc(link)
        )),
    }
}

/// `executeActions.ftl` (`executeActionsSubject`): the actions by their display names.
pub fn execute_actions(
    to: &str,
    realm_name: &str,
    link: &str,
    lifespan: i64,
    actions: &[String],
) -> Mail {
    let exp = link_expiration(lifespan);
    let list = actions
        .iter()
        .map(|a| required_action_text(a))
        .collect::<Vec<_>>()
        .join(", ");
    Mail {
        to: to.into(),
        subject: "Update Your Account".into(),
        text: format!(
            "Your administrator has just requested that you update your {realm_name} account by performing the following action(s): {list}. Click on the link below to start this process.\n\n{link}\n\nThis link will expire within {exp}.\n\nIf you are unaware that your administrator has requested this, just ignore this message and nothing will be changed."
        ),
        html: page(&format!(
            "<p>Your administrator has just requested that you update your {} account by performing the following action(s): {}. Click on the link below to start this process.</p><p><a href=\"{}\">Link to account update</a></p><p>This link will expire within {exp}.</p><p>If you are unaware that your administrator has requested this, just ignore this message and nothing will be changed.</p>",
            esc(realm_name),
            esc(&list),
            esc(link)
        )),
    }
}

/// `org-invite.ftl` (`orgInviteSubject`; the personalized body when a first or last name is
/// known).
pub fn org_invite(
    to: &str,
    org_name: &str,
    link: &str,
    lifespan: i64,
    names: Option<(&str, &str)>,
) -> Mail {
    let exp = link_expiration(lifespan);
    let (text_hi, html_hi) = match names {
        Some((first, last)) => (
            format!("Hi, \"{first}\" \"{last}\".\n\n "),
            format!("<p>Hi, {} {}.</p>", esc(first), esc(last)),
        ),
        None => (String::new(), String::new()),
    };
    Mail {
        to: to.into(),
        subject: format!("Invitation to join the {org_name} organization"),
        text: format!(
            "{text_hi}You were invited to join the \"{org_name}\" organization. Click the link below to join.\n\n{link}\n\nThis link will expire within {exp}.\n\nIf you don't want to join the organization, just ignore this message."
        ),
        html: page(&format!(
            "{html_hi}<p>You were invited to join the {} organization. Click the link below to join. </p><p><a href=\"{}\">Link to join the organization</a></p><p>This link will expire within {exp}.</p><p>If you don't want to join the organization, just ignore this message.</p>",
            esc(org_name),
            esc(link)
        )),
    }
}

/// `identity-provider-link.ftl` (`identityProviderLinkSubject` / `identityProviderLinkBody`):
/// the `idp-verify-account-via-email` link of the first broker login, to the existing user.
/// The subject and text name the provider by its alias, the HTML part by its display name (as
/// Keycloak's two templates do).
pub fn identity_provider_link(
    to: &str,
    realm_name: &str,
    (alias, display_name): (&str, &str),
    idp_username: &str,
    link: &str,
    lifespan: i64,
) -> Mail {
    let exp = link_expiration(lifespan);
    Mail {
        to: to.into(),
        subject: format!("Link {alias}"),
        text: format!(
            "Someone wants to link your \"{realm_name}\" account with \"{alias}\" account of user {idp_username} . If this was you, click the link below to link accounts\n\n{link}\n\nThis link will expire within {exp}.\n\nIf you don't want to link account, just ignore this message. If you link accounts, you will be able to login to {realm_name} through {alias}."
        ),
        html: page(&format!(
            "<p>Someone wants to link your <b>{r}</b> account with <b>{d}</b> account of user {u}. If this was you, click the link below to link accounts</p><p><a href=\"{l}\">Link to confirm account linking</a></p><p>This link will expire within {exp}.</p><p>If you don't want to link account, just ignore this message. If you link accounts, you will be able to login to {r} through {d}.</p>",
            r = esc(realm_name),
            d = esc(display_name),
            u = esc(idp_username),
            l = esc(link)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_link_expiration_as_keycloak() {
        assert_eq!(link_expiration(43_200), "12 hours");
        assert_eq!(link_expiration(300), "5 minutes");
        assert_eq!(link_expiration(60), "1 minute");
        assert_eq!(link_expiration(86_400), "1 day");
        assert_eq!(link_expiration(172_800), "2 days");
        assert_eq!(link_expiration(90), "1 minute");
        assert_eq!(link_expiration(30), "0 seconds");
    }

    #[test]
    fn execute_actions_lists_display_names_and_escapes_html() {
        let m = execute_actions(
            "a@b.c",
            "R&D",
            "http://x/?key=1&b=2",
            43_200,
            &["UPDATE_PASSWORD".into(), "VERIFY_EMAIL".into()],
        );
        assert_eq!(m.subject, "Update Your Account");
        assert!(m
            .text
            .contains("performing the following action(s): Update Password, Verify Email."));
        assert!(m.text.contains("http://x/?key=1&b=2"));
        assert!(m.text.contains("expire within 12 hours"));
        assert!(m.html.contains("R&amp;D account"));
        assert!(m.html.contains("href=\"http://x/?key=1&amp;b=2\""));
    }

    #[test]
    fn identity_provider_link_names_the_provider_and_escapes_html() {
        let m = identity_provider_link(
            "a@b.c",
            "R&D",
            ("up", "<Upstream>"),
            "dave",
            "http://x/?key=1",
            300,
        );
        assert_eq!(m.subject, "Link up");
        assert!(m.text.starts_with(
            "Someone wants to link your \"R&D\" account with \"up\" account of user dave . If this was you"
        ));
        assert!(m
            .text
            .contains("\n\nhttp://x/?key=1\n\nThis link will expire within 5 minutes."));
        assert!(m
            .text
            .ends_with("you will be able to login to R&D through up."));
        assert!(m
            .html
            .contains("<b>R&amp;D</b> account with <b>&lt;Upstream&gt;</b>"));
    }

    #[test]
    fn org_invite_subject_and_personal_greeting() {
        let m = org_invite("a@b.c", "Music", "L", 300, Some(("Ann", "Lee")));
        assert_eq!(m.subject, "Invitation to join the Music organization");
        assert!(m.text.starts_with("Hi, \"Ann\" \"Lee\"."));
        assert!(m.html.contains("<p>Hi, Ann Lee.</p>"));
        let m = org_invite("a@b.c", "Music", "L", 300, None);
        assert!(m
            .text
            .starts_with("You were invited to join the \"Music\" organization."));
    }
}

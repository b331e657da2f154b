//! The authentication providers Portcullis knows, with Keycloak's metadata for each
//! (`ConfigurableAuthenticatorFactory`: display type, help text, requirement choices,
//! configurable, config properties). Display names and descriptions are Keycloak 26's, as its
//! admin test `ProvidersTest` lists them; only ids Portcullis knows are listed, so the admin
//! console offers nothing it cannot store. Which of them Portcullis executes today is [`Provider::runs`].

use serde_json::{json, Value};

/// The SPI a provider belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Authenticator` (`authenticator-providers`; basic flows).
    Authenticator,
    /// `FormAuthenticator` (`form-providers`; the page of a form flow).
    Form,
    /// `FormAction` (`form-action-providers`; executions of a form flow).
    FormAction,
    /// `ClientAuthenticator` (`client-authenticator-providers`; client flows).
    Client,
}

/// One provider.
#[derive(Debug)]
pub struct Provider {
    /// Provider id.
    pub id: &'static str,
    /// SPI.
    pub kind: Kind,
    /// `getDisplayType`.
    pub display: &'static str,
    /// `getHelpText`.
    pub help: &'static str,
    /// `getRequirementChoices`.
    pub choices: &'static [&'static str],
    /// `isConfigurable`.
    pub configurable: bool,
    /// `getConfigProperties` (`ConfigPropertyRepresentation`s): (name, label, help, type).
    pub properties: &'static [Prop],
    /// Client authenticators: `supportsSecret`.
    pub supports_secret: bool,
    /// Whether Portcullis performs what this provider does today (its fixed login, password
    /// grant and client authentication); the others are stored and listed only, until the
    /// flow engine runs the realm's flows.
    pub runs: bool,
}

/// A config property: name, label, help text, type, default value (a number where Keycloak's
/// is one).
#[derive(Debug)]
pub struct Prop(
    pub &'static str,
    pub &'static str,
    pub &'static str,
    pub &'static str,
    pub Option<i64>,
);

impl Prop {
    /// `ConfigPropertyRepresentation` (Keycloak writes the three flags always, nulls never).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.0,
            "label": self.1,
            "helpText": self.2,
            "type": self.3,
            "secret": false,
            "required": false,
            "readOnly": false,
        });
        if let Some(d) = self.4 {
            v["defaultValue"] = json!(d);
        }
        v
    }
}

const DEFAULT: &[&str] = &["REQUIRED", "ALTERNATIVE", "DISABLED"];
const REQUIRED_ONLY: &[&str] = &["REQUIRED"];
const REQUIRED_DISABLED: &[&str] = &["REQUIRED", "DISABLED"];
const ALTERNATIVE_DISABLED: &[&str] = &["ALTERNATIVE", "DISABLED"];

const fn p(
    id: &'static str,
    kind: Kind,
    display: &'static str,
    help: &'static str,
    choices: &'static [&'static str],
) -> Provider {
    Provider {
        id,
        kind,
        display,
        help,
        choices,
        configurable: false,
        properties: &[],
        supports_secret: false,
        runs: false,
    }
}

const fn configurable(mut x: Provider, properties: &'static [Prop]) -> Provider {
    x.configurable = true;
    x.properties = properties;
    x
}

const fn runs(mut x: Provider) -> Provider {
    x.runs = true;
    x
}

const fn secret(mut x: Provider) -> Provider {
    x.supports_secret = true;
    x
}

use Kind::{Authenticator as A, Client as C, Form as F, FormAction as FA};

/// Every provider Portcullis knows.
pub static PROVIDERS: &[Provider] = &[
    // Browser.
    runs(p("auth-cookie", A, "Cookie", "Validates the SSO cookie set by the auth server.", ALTERNATIVE_DISABLED)),
    p("auth-spnego", A, "Kerberos", "Initiates the SPNEGO protocol.  Most often used with Kerberos.", &["ALTERNATIVE", "REQUIRED", "DISABLED"]),
    configurable(
        p("identity-provider-redirector", A, "Identity Provider Redirector", "Redirects to default Identity Provider or Identity Provider specified with kc_idp_hint query parameter", ALTERNATIVE_DISABLED),
        &[Prop("defaultProvider", "Default Identity Provider", "To automatically redirect to an identity provider set to the alias of the identity provider", "String", None)],
    ),
    runs(p("auth-username-password-form", A, "Username Password Form", "Validates a username and password from login form.", REQUIRED_ONLY)),
    p("auth-username-form", A, "Username Form", "Selects a user from his username.", REQUIRED_ONLY),
    p("auth-password-form", A, "Password Form", "Validates a password from login form.", DEFAULT),
    p("auth-otp-form", A, "OTP Form", "Validates a OTP on a separate OTP form.", DEFAULT),
    p("auth-conditional-otp-form", A, "Conditional OTP Form", "Validates a OTP on a separate OTP form. Only shown if required based on the configured conditions.", &["REQUIRED", "ALTERNATIVE", "DISABLED"]),
    p("webauthn-authenticator", A, "WebAuthn Authenticator", "Authenticator for WebAuthn. Usually used for WebAuthn two-factor authentication", DEFAULT),
    p("webauthn-authenticator-passwordless", A, "WebAuthn Passwordless Authenticator", "Authenticator for Passwordless WebAuthn authentication", DEFAULT),
    p("auth-recovery-authn-code-form", A, "Recovery Authentication Code Form", "Validates a Recovery Authentication Code", DEFAULT),
    // Conditions and access.
    p("conditional-user-configured", A, "Condition - user configured", "Executes the current flow only if authenticators are configured", REQUIRED_DISABLED),
    configurable(
        p("conditional-user-role", A, "Condition - user role", "Flow is executed only if user has the given role.", REQUIRED_DISABLED),
        &[Prop("condUserRole", "User role", "Role the user should have to execute this flow. Click 'Select Role' button to browse roles, or just type it in the textbox. To reference a client role the syntax is clientname.clientrole, i.e. myclient.myrole", "Role", None)],
    ),
    configurable(
        p("conditional-level-of-authentication", A, "Condition - Level of Authentication", "Flow is executed only if the configured LOA or a higher one has been requested but not yet satisfied. After the flow is successfully finished, the LOA in the session will be updated to value prescribed by this condition.", REQUIRED_DISABLED),
        &[
            Prop("loa-condition-level", "loa-condition-level", "loa-condition-level.tooltip", "String", None),
            Prop("loa-max-age", "loa-max-age", "loa-max-age.tooltip", "String", Some(36000)),
        ],
    ),
    configurable(
        p("conditional-credential", A, "Condition - credential", "Condition to evaluate if a specific credential type has been used (or not used) by the user during the authentication process", REQUIRED_DISABLED),
        &[],
    ),
    p("allow-access-authenticator", A, "Allow access", "Authenticator will always successfully authenticate. Useful for example in the conditional flows to be used after satisfying the previous conditions", REQUIRED_DISABLED),
    configurable(
        p("deny-access-authenticator", A, "Deny access", "Access will be always denied. Useful for example in the conditional flows to be used after satisfying the previous conditions", REQUIRED_DISABLED),
        &[Prop("denyErrorMessage", "Error message", "Error message which will be shown to the user. You can directly define particular message or property, which will be used for mapping the error message f.e `deny-access-role1`. If the field is blank, default property 'access-denied' is used.", "String", None)],
    ),
    // Direct grant.
    runs(p("direct-grant-validate-username", A, "Username Validation", "Validates the username supplied as a 'username' form parameter in direct grant request", REQUIRED_ONLY)),
    runs(p("direct-grant-validate-password", A, "Password", "Validates the password supplied as a 'password' form parameter in direct grant request", REQUIRED_ONLY)),
    p("direct-grant-validate-otp", A, "OTP", "Validates the one time password supplied as a 'totp' form parameter in direct grant request", DEFAULT),
    // Reset credentials.
    p("reset-credentials-choose-user", A, "Choose User", "Choose a user to reset credentials for", REQUIRED_ONLY),
    p("reset-credential-email", A, "Send Reset Email", "Send email to user and wait for response.", REQUIRED_ONLY),
    p("reset-password", A, "Reset Password", "Sets the Update Password required action if execution is REQUIRED.  Will also set it if execution is OPTIONAL and the password is currently configured for it.", DEFAULT),
    p("reset-otp", A, "Reset OTP", "Removes existing OTP configurations (if chosen) and sets the 'Configure OTP' required action.", DEFAULT),
    // First broker login.
    runs(configurable(
        p("idp-review-profile", A, "Review Profile", "User reviews and updates profile data retrieved from Identity Provider in the displayed form", DEFAULT),
        &[Prop("update.profile.on.first.login", "Update profile on first login", "Define conditions under which a user has to review and update his profile after first-time login. Value 'On' means that page for reviewing profile will be displayed and user can review and update his profile. Value 'off' means that page won't be displayed. Value 'missing' means that page is displayed just when some required attribute is missing (wasn't downloaded from identity provider). Value 'missing' is the default one.", "List", None)],
    )),
    runs(configurable(
        p("idp-create-user-if-unique", A, "Create User If Unique", "Detect if there is existing Keycloak account with same email like identity provider. If no, create new user", DEFAULT),
        &[Prop("require.password.update.after.registration", "Require Password Update After Registration", "If this option is true and new user is successfully imported from Identity Provider to Keycloak (there is no duplicated email or username detected in Keycloak DB), then this user is required to update his password", "boolean", None)],
    )),
    runs(p("idp-detect-existing-broker-user", A, "Detect existing broker user", "Detect if there is an existing Keycloak account with same email like identity provider. If no, throw an error.", REQUIRED_ONLY)),
    runs(p("idp-confirm-link", A, "Confirm link existing account", "Show the form where user confirms if he wants to link identity provider with existing account or rather edit user profile data retrieved from identity provider to avoid conflict", DEFAULT)),
    p("idp-email-verification", A, "Verify existing account by Email", "Email verification of existing Keycloak user, that wants to link his user account with identity provider", DEFAULT),
    runs(p("idp-username-password-form", A, "Username Password Form for identity provider reauthentication", "Validates a password from login form. Username may be already known from identity provider authentication", REQUIRED_ONLY)),
    runs(p("idp-auto-link", A, "Automatically set existing user", "Automatically set existing user to authentication context without any verification", DEFAULT)),
    // Organizations.
    p("organization", A, "Organization Identity-First Login", "If organizations are enabled, automatically redirects users to the corresponding identity provider.", DEFAULT),
    p("idp-add-organization-member", A, "Organization Member Onboard", "Adds a federated user as a member of an organization", DEFAULT),
    // HTTP challenge and docker.
    p("http-basic-authenticator", A, "HTTP Basic Authentication", "Validates username and password from Authorization HTTP header", DEFAULT),
    p("docker-http-basic-authenticator", A, "Docker Authenticator", "Uses HTTP Basic authentication to validate docker users, returning a docker error token on auth failure", REQUIRED_ONLY),
    // Registration form.
    p("registration-page-form", F, "Registration Page", "This is the controller for the registration page", REQUIRED_ONLY),
    p("registration-user-creation", FA, "Registration User Profile Creation", "This action must always be first! Validates the username and user profile of the user in validation phase.  In success phase, this will create the user in the database including his user profile.", REQUIRED_ONLY),
    p("registration-password-action", FA, "Password Validation", "Validates that password matches password confirmation field.  It also will store password in user's credential store.", REQUIRED_DISABLED),
    configurable(
        p("registration-recaptcha-action", FA, "reCAPTCHA", "Adds Google reCAPTCHA to the form.", REQUIRED_DISABLED),
        &[],
    ),
    p("registration-terms-and-conditions", FA, "Terms and conditions", "Asks the user to accept terms and conditions before submitting its registration form.", REQUIRED_DISABLED),
    // Client authentication.
    runs(secret(p("client-secret", C, "Client Id and Secret", "Validates client based on 'client_id' and 'client_secret' sent either in request parameters or in 'Authorization: Basic' header", DEFAULT))),
    runs(p("client-jwt", C, "Signed JWT", "Validates client based on signed JWT issued by client and signed with the Client private key", DEFAULT)),
    runs(secret(p("client-secret-jwt", C, "Signed JWT with Client Secret", "Validates client based on signed JWT issued by client and signed with the Client Secret", DEFAULT))),
    p("client-x509", C, "X509 Certificate", "Validates client based on a X509 Certificate", DEFAULT),
    p("federated-jwt", C, "Signed JWT - Federated", "Validates client based on signed JWT issued and signed by an external identity provider", DEFAULT),
];

/// A provider of `kind` by id.
pub fn of_kind(kind: Kind, id: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.kind == kind && p.id == id)
}

/// The provider an execution names (`CredentialHelper.getConfigurableAuthenticatorFactory`:
/// authenticators, then form actions, then client authenticators).
pub fn configurable_factory(id: &str) -> Option<&'static Provider> {
    [Kind::Authenticator, Kind::FormAction, Kind::Client]
        .into_iter()
        .find_map(|k| of_kind(k, id))
}

/// The provider an execution added to a flow of `flow_provider` may name
/// (`AuthenticationManagementResource.getProviderFactory`).
pub fn for_flow(flow_provider: &str, id: &str) -> Option<&'static Provider> {
    match flow_provider {
        "client-flow" => of_kind(Kind::Client, id),
        "form-flow" => of_kind(Kind::FormAction, id),
        _ => of_kind(Kind::Authenticator, id),
    }
}

/// The listing of one SPI (`id`, `displayName`, `description`, and `supportsSecret` for client
/// authenticators).
pub fn listing(kind: Kind) -> Vec<Value> {
    PROVIDERS
        .iter()
        .filter(|p| p.kind == kind)
        .map(|p| {
            let mut v = json!({"id": p.id, "displayName": p.display, "description": p.help});
            if kind == Kind::Client {
                v["supportsSecret"] = json!(p.supports_secret);
            }
            v
        })
        .collect()
}

/// Keycloak 26's built-in required actions (`RequiredActionFactory` id and display text).
pub static REQUIRED_ACTIONS: &[(&str, &str)] = &[
    ("CONFIGURE_TOTP", "Configure OTP"),
    ("TERMS_AND_CONDITIONS", "Terms and Conditions"),
    ("UPDATE_PASSWORD", "Update Password"),
    ("UPDATE_PROFILE", "Update Profile"),
    ("VERIFY_EMAIL", "Verify Email"),
    ("delete_account", "Delete Account"),
    ("UPDATE_EMAIL", "Update Email"),
    ("webauthn-register", "Webauthn Register"),
    (
        "webauthn-register-passwordless",
        "Webauthn Register Passwordless",
    ),
    ("VERIFY_PROFILE", "Verify Profile"),
    ("delete_credential", "Delete Credential"),
    ("idp_link", "Linking Identity Provider"),
    (
        "CONFIGURE_RECOVERY_AUTHN_CODES",
        "Recovery Authentication Codes",
    ),
    ("update_user_locale", "Update User Locale"),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_authenticator_of_the_default_flows_is_known() {
        let tpl: Value =
            serde_json::from_str(include_str!("../../realm/defaults/new-realm.json")).unwrap();
        for f in tpl["authenticationFlows"].as_array().unwrap() {
            let flow_provider = f["providerId"].as_str().unwrap();
            for e in f["authenticationExecutions"].as_array().unwrap() {
                let Some(a) = e["authenticator"].as_str() else {
                    continue;
                };
                if e["authenticatorFlow"] == json!(true) {
                    assert!(of_kind(Kind::Form, a).is_some(), "form {a}");
                } else {
                    assert!(
                        for_flow(flow_provider, a).is_some(),
                        "{a} in {}",
                        f["alias"]
                    );
                }
            }
        }
    }

    #[test]
    fn ids_are_unique_and_choices_are_requirements() {
        let mut seen = std::collections::HashSet::new();
        for p in PROVIDERS {
            assert!(seen.insert((p.id, p.kind == Kind::Client)), "{}", p.id);
            for c in p.choices {
                assert!(["REQUIRED", "ALTERNATIVE", "DISABLED", "CONDITIONAL"].contains(c));
            }
        }
        assert_eq!(
            configurable_factory("auth-cookie").unwrap().display,
            "Cookie"
        );
        assert!(configurable_factory("registration-page-form").is_none());
        assert_eq!(
            for_flow("form-flow", "registration-user-creation")
                .unwrap()
                .kind,
            Kind::FormAction
        );
        assert!(for_flow("basic-flow", "registration-user-creation").is_none());
    }
}

"""python-keycloak's KeycloakOpenID against Portcullis, exactly as against Keycloak."""

import os

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

SERVER = os.environ["PORTCULLIS_URL"]


def oidc(client_id="compat-api", secret="compat-api-secret"):
    return KeycloakOpenID(server_url=SERVER, realm_name="compat", client_id=client_id, client_secret_key=secret)


def test_well_known_and_certs():
    kc = oidc()
    wk = kc.well_known()
    assert wk["issuer"] == f"{SERVER}/realms/compat"
    assert wk["token_endpoint"].endswith("/realms/compat/protocol/openid-connect/token")
    certs = kc.certs()
    assert any(k["alg"] == "RS256" and k["use"] == "sig" for k in certs["keys"])
    assert kc.public_key().startswith("MII")


def test_password_grant_userinfo_decode_introspect_refresh_logout():
    kc = oidc()
    token = kc.token("alice", "alice-pw", scope="openid")
    assert token["token_type"] == "Bearer"
    assert "id_token" in token
    claims = kc.decode_token(token["access_token"], validate=True)
    assert claims["preferred_username"] == "alice"
    assert "reader" in claims["realm_access"]["roles"]
    assert claims["azp"] == "compat-api"
    info = kc.userinfo(token["access_token"])
    assert info["email"] == "alice@example.com"
    assert info["sub"] == claims["sub"]
    intro = kc.introspect(token["access_token"])
    assert intro["active"] is True
    refreshed = kc.refresh_token(token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    kc.logout(refreshed["refresh_token"])
    assert kc.introspect(refreshed["access_token"])["active"] is False
    with pytest.raises(KeycloakPostError):
        kc.refresh_token(refreshed["refresh_token"])


def test_client_credentials():
    kc = oidc()
    token = kc.token(grant_type="client_credentials")
    claims = kc.decode_token(token["access_token"], validate=True)
    assert claims["preferred_username"] == "service-account-compat-api"
    assert "refresh_token" not in token


def test_public_client_and_bad_credentials():
    kc = oidc("compat-cli", None)
    assert kc.token("alice", "alice-pw")["access_token"]
    with pytest.raises(KeycloakAuthenticationError):
        kc.token("alice", "wrong")
    with pytest.raises(KeycloakAuthenticationError):
        oidc(secret="wrong").token("alice", "alice-pw")

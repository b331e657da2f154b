"""python-keycloak's KeycloakAdmin against Portcullis' Admin REST API, driven as against Keycloak 26.

Every test makes its own realm (``py-<uuid8>``) and deletes it, so the tests are independent and
re-runnable. Status codes and error bodies are Keycloak's (services/.../resources/admin/*.java and
python-keycloak's own integration tests against Keycloak ``latest``); see
/work/notes/admin-api-spec.md. python-keycloak raises KeycloakGetError / PostError / PutError /
DeleteError carrying ``response_code`` and ``response_body``, except 401 which becomes
KeycloakAuthenticationError.
"""

import json
import os
import uuid

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakDeleteError,
    KeycloakGetError,
    KeycloakPostError,
    KeycloakPutError,
)

SERVER = os.environ["PORTCULLIS_URL"]
DEFAULT_CLIENTS = {"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"}


def unique(prefix="py"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def master_admin():
    """The master admin exactly as users build it; the token is fetched up front (against master),
    as python-keycloak's own test fixture does, so that change_current_realm only moves the API paths."""
    kc = KeycloakAdmin(server_url=SERVER, username="admin", password="admin", realm_name="master")
    kc.connection.get_token()
    return kc


def fails(exc_type, status, fn, *args, **kwargs):
    """Call fn, expect exc_type with response_code == status, return the decoded JSON body (or raw bytes)."""
    with pytest.raises(exc_type) as err:
        fn(*args, **kwargs)
    assert err.value.response_code == status, (err.value.response_code, err.value.response_body)
    body = err.value.response_body
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def text(body):
    return body.decode() if isinstance(body, bytes) else json.dumps(body)


def drop_realm(admin, name):
    try:
        admin.delete_realm(realm_name=name)
    except KeycloakDeleteError as e:
        if e.response_code != 404:
            raise


@pytest.fixture
def admin():
    return master_admin()


@pytest.fixture
def realm(admin):
    name = unique()
    assert admin.create_realm(payload={"realm": name, "enabled": True}) == b""
    admin.change_current_realm(name)
    yield name
    admin.change_current_realm("master")
    drop_realm(admin, name)


def person(username, **extra):
    # Keycloak 24+ user profile: without email/firstName/lastName a password grant answers
    # "Account is not fully set up" (VERIFY_PROFILE), so every user that logs in gets all three.
    return {
        "username": username,
        "enabled": True,
        "email": f"{username}@example.com",
        "firstName": username.capitalize(),
        "lastName": "Tester",
        **extra,
    }


def login_client(admin, client_id="py-login"):
    """A public client with direct access grants, the way users test password logins."""
    return admin.create_client(
        payload={"clientId": client_id, "publicClient": True, "directAccessGrantsEnabled": True},
    )


def oidc(realm, client_id="py-login", secret=None):
    return KeycloakOpenID(server_url=SERVER, realm_name=realm, client_id=client_id, client_secret_key=secret)


def claims_for(realm, username, password, client_id="py-login", secret=None):
    kc = oidc(realm, client_id, secret)
    return kc.decode_token(kc.token(username, password)["access_token"], validate=True)


def names(items, key="name"):
    return {x[key] for x in items}


# ---------------------------------------------------------------------------------------------
# Realms (RealmsAdminResource.java, RealmAdminResource.java)


def test_realm_create_nested_get_update_delete(admin):
    name = unique()
    payload = {
        "realm": name,
        "enabled": True,
        "displayName": "Py Nested",
        "roles": {
            "realm": [{"name": "nested-role", "description": "from import"}],
            "client": {"nested-app": [{"name": "nested-client-role"}]},
        },
        "groups": [{"name": "nested-group", "subGroups": [{"name": "child"}]}],
        "clients": [
            {
                "clientId": "nested-app",
                "enabled": True,
                "publicClient": False,
                "secret": "nested-secret",
                "directAccessGrantsEnabled": True,
                "redirectUris": ["http://localhost/*"],
            },
        ],
        "users": [
            person(
                "nested-user",
                credentials=[{"type": "password", "value": "nested-pw", "temporary": False}],
                realmRoles=["nested-role"],
                clientRoles={"nested-app": ["nested-client-role"]},
                groups=["/nested-group/child"],
            ),
        ],
    }
    try:
        # POST /admin/realms -> 201 + Location, empty body.
        assert admin.create_realm(payload=payload) == b""

        # Duplicate: 409 {"errorMessage": "Conflict detected. See logs for details"} in
        # RealmsAdminResource.importRealm (some versions say "Realm <name> already exists").
        body = fails(KeycloakPostError, 409, admin.create_realm, payload={"realm": name})
        assert body["errorMessage"] in ("Conflict detected. See logs for details", f"Realm {name} already exists")

        listed = {r["realm"]: r for r in admin.get_realms()}
        assert {"master", name} <= set(listed)
        assert listed[name]["enabled"] is True

        got = admin.get_realm(realm_name=name)
        assert got["realm"] == name
        assert got["id"]
        assert got["enabled"] is True
        assert got["displayName"] == "Py Nested"

        # The nested parts were imported.
        admin.change_current_realm(name)
        assert DEFAULT_CLIENTS <= names(admin.get_clients(), "clientId")
        app = admin.get_client_id(client_id="nested-app")
        assert app is not None
        assert admin.get_client_secrets(client_id=app) == {"type": "secret", "value": "nested-secret"}
        assert admin.get_realm_role(role_name="nested-role")["description"] == "from import"
        assert "nested-client-role" in names(admin.get_client_roles(client_id=app))
        groups = admin.get_groups()
        assert [g["name"] for g in groups] == ["nested-group"]
        assert [g["path"] for g in groups[0]["subGroups"]] == ["/nested-group/child"]
        uid = admin.get_user_id(username="nested-user")
        assert uid is not None
        assert "nested-role" in names(admin.get_realm_roles_of_user(user_id=uid))
        assert names(admin.get_client_roles_of_user(user_id=uid, client_id=app)) == {"nested-client-role"}
        assert [g["path"] for g in admin.get_user_groups(user_id=uid)] == ["/nested-group/child"]
        claims = claims_for(name, "nested-user", "nested-pw", "nested-app", "nested-secret")
        assert "nested-role" in claims["realm_access"]["roles"]
        assert "nested-client-role" in claims["resource_access"]["nested-app"]["roles"]
        admin.change_current_realm("master")

        # PUT /admin/realms/{realm} is a partial update: absent fields keep their values.
        before = admin.get_realm(realm_name=name)
        assert admin.update_realm(realm_name=name, payload={"displayName": "Py Renamed", "accessTokenLifespan": 600}) == {}
        after = admin.get_realm(realm_name=name)
        assert after["displayName"] == "Py Renamed"
        assert after["accessTokenLifespan"] == 600
        for key in (
            "id", "realm", "enabled", "sslRequired", "ssoSessionIdleTimeout", "ssoSessionMaxLifespan",
            "registrationAllowed", "loginWithEmailAllowed", "duplicateEmailsAllowed", "resetPasswordAllowed",
            "editUsernameAllowed", "bruteForceProtected", "accessCodeLifespan", "refreshTokenMaxReuse",
            "revokeRefreshToken", "defaultSignatureAlgorithm",
        ):
            if key in before:
                assert after.get(key) == before[key], key

        # Unknown property -> 400 from Jackson, body mentions "Unrecognized field".
        body = fails(KeycloakPutError, 400, admin.update_realm, realm_name=name, payload={"wrong": "payload"})
        assert "Unrecognized field" in text(body)

        # DELETE -> 204, then the realm is gone: 404 {"error": "Realm not found."}
        assert admin.delete_realm(realm_name=name) == {}
        body = fails(KeycloakGetError, 404, admin.get_realm, realm_name=name)
        assert body["error"] == "Realm not found."
        assert name not in names(admin.get_realms(), "realm")
        body = fails(KeycloakDeleteError, 404, admin.delete_realm, realm_name=name)
        assert body["error"] == "Realm not found."
    finally:
        admin.change_current_realm("master")
        drop_realm(admin, name)


# ---------------------------------------------------------------------------------------------
# Clients (ClientsResource.java, ClientResource.java)


def test_clients(admin, realm):
    assert DEFAULT_CLIENTS <= names(admin.get_clients(), "clientId")

    cid = admin.create_client(
        payload={
            "clientId": "py-app",
            "name": "Py App",
            "publicClient": False,
            "directAccessGrantsEnabled": True,
            "redirectUris": ["http://localhost:3000/*"],
        },
    )
    assert cid

    # ClientsResource.createClient: ErrorResponse.exists("Client " + clientId + " already exists")
    body = fails(KeycloakPostError, 409, admin.create_client, payload={"clientId": "py-app"})
    assert body == {"errorMessage": "Client py-app already exists"}

    # GET /clients?clientId=py-app is an exact filter.
    assert admin.get_client_id(client_id="py-app") == cid
    assert admin.get_client_id(client_id="py-ap") is None
    filtered = admin.connection.raw_get(f"admin/realms/{realm}/clients", clientId="py-app")
    assert filtered.status_code == 200
    assert [c["id"] for c in filtered.json()] == [cid]

    got = admin.get_client(client_id=cid)
    assert got["id"] == cid
    assert got["clientId"] == "py-app"
    assert got["name"] == "Py App"
    assert got["publicClient"] is False
    assert got["directAccessGrantsEnabled"] is True
    assert got["redirectUris"] == ["http://localhost:3000/*"]
    body = fails(KeycloakGetError, 404, admin.get_client, client_id="does-not-exist")
    assert body["error"] == "Could not find client"

    # Partial update.
    assert admin.update_client(client_id=cid, payload={"name": "Py App 2"}) == {}
    got = admin.get_client(client_id=cid)
    assert got["name"] == "Py App 2"
    assert got["clientId"] == "py-app"
    assert got["redirectUris"] == ["http://localhost:3000/*"]
    assert got["directAccessGrantsEnabled"] is True
    body = fails(KeycloakPutError, 404, admin.update_client, client_id="does-not-exist", payload={"name": "x"})
    assert body["error"] == "Could not find client"

    # Secret: GET and regenerate (POST) /clients/{id}/client-secret -> CredentialRepresentation.
    secret = admin.get_client_secrets(client_id=cid)
    assert set(secret) == {"type", "value"}
    assert secret["type"] == "secret"
    assert secret["value"]
    regenerated = admin.generate_client_secrets(client_id=cid)
    assert regenerated["type"] == "secret"
    assert regenerated["value"] and regenerated["value"] != secret["value"]
    assert admin.get_client_secrets(client_id=cid) == regenerated
    # ... and the regenerated secret is the one the token endpoint accepts.
    assert admin.create_user(payload=person("app-user")) is not None
    admin.set_user_password(user_id=admin.get_user_id("app-user"), password="app-pw", temporary=False)
    assert claims_for(realm, "app-user", "app-pw", "py-app", regenerated["value"])["azp"] == "py-app"
    with pytest.raises(KeycloakAuthenticationError):
        oidc(realm, "py-app", secret["value"]).token("app-user", "app-pw")

    # A client created with an explicit secret keeps it.
    conf = admin.create_client(payload={"clientId": "py-conf", "publicClient": False, "secret": "py-secret"})
    assert admin.get_client_secrets(client_id=conf) == {"type": "secret", "value": "py-secret"}

    # Service account user.
    svc = admin.create_client(
        payload={"clientId": "py-svc", "publicClient": False, "serviceAccountsEnabled": True, "secret": "svc-secret"},
    )
    sa = admin.get_client_service_account_user(client_id=svc)
    assert sa["username"] == "service-account-py-svc"
    assert sa["id"]
    token = oidc(realm, "py-svc", "svc-secret").token(grant_type="client_credentials")
    assert oidc(realm, "py-svc", "svc-secret").decode_token(token["access_token"], validate=True)["sub"] == sa["id"]

    # Client roles CRUD.
    assert admin.get_client_roles(client_id=cid) == []
    assert admin.create_client_role(client_role_id=cid, payload={"name": "py-reader", "description": "reads"}) == "py-reader"
    body = fails(KeycloakPostError, 409, admin.create_client_role, client_role_id=cid, payload={"name": "py-reader"})
    assert body == {"errorMessage": "Role with name py-reader already exists"}
    assert names(admin.get_client_roles(client_id=cid)) == {"py-reader"}
    role = admin.get_client_role(client_id=cid, role_name="py-reader")
    assert role["name"] == "py-reader"
    assert role["description"] == "reads"
    assert role["clientRole"] is True
    assert role["containerId"] == cid
    assert admin.update_client_role(client_id=cid, role_name="py-reader", payload={"name": "py-reader", "description": "changed"}) == {}
    assert admin.get_client_role(client_id=cid, role_name="py-reader")["description"] == "changed"
    assert admin.delete_client_role(client_role_id=cid, role_name="py-reader") == {}
    body = fails(KeycloakGetError, 404, admin.get_client_role, client_id=cid, role_name="py-reader")
    assert body["error"] == "Could not find role"

    # Protocol mapper add + list.
    assert admin.get_mappers_from_client(client_id=cid) == []
    mapper = {
        "name": "py-dept",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": "dept",
            "claim.name": "dept",
            "jsonType.label": "String",
            "access.token.claim": "true",
            "id.token.claim": "true",
            "userinfo.token.claim": "true",
        },
    }
    assert admin.add_mapper_to_client(client_id=cid, payload=mapper) == b""
    mappers = admin.get_mappers_from_client(client_id=cid)
    assert len(mappers) == 1
    assert mappers[0]["id"]
    assert mappers[0]["name"] == "py-dept"
    assert mappers[0]["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    assert mappers[0]["config"]["claim.name"] == "dept"
    # ProtocolMappersResource.createMapper: ErrorResponse.exists("Protocol mapper exists with same name")
    body = fails(KeycloakPostError, 409, admin.add_mapper_to_client, client_id=cid, payload=mapper)
    assert body == {"errorMessage": "Protocol mapper exists with same name"}
    body = fails(KeycloakPostError, 404, admin.add_mapper_to_client, client_id="does-not-exist", payload=mapper)
    assert body["error"] == "Could not find client"

    # Default client scopes of the client: add / list / remove.
    defaults = admin.get_client_default_client_scopes(client_id=cid)
    assert {"profile", "email", "roles", "web-origins"} <= names(defaults)
    assert all(set(s) >= {"id", "name"} for s in defaults)
    sid = admin.create_client_scope(payload={"name": "py-extra", "protocol": "openid-connect"})
    assert "py-extra" not in names(defaults)
    assert admin.add_client_default_client_scope(
        client_id=cid, client_scope_id=sid, payload={"realm": realm, "client": cid, "clientScopeId": sid},
    ) == {}
    assert {"id": sid, "name": "py-extra"} in [{"id": s["id"], "name": s["name"]} for s in admin.get_client_default_client_scopes(client_id=cid)]
    assert "py-extra" in admin.get_client(client_id=cid)["defaultClientScopes"]
    assert admin.delete_client_default_client_scope(client_id=cid, client_scope_id=sid) == {}
    assert "py-extra" not in names(admin.get_client_default_client_scopes(client_id=cid))
    body = fails(
        KeycloakPutError, 404, admin.add_client_default_client_scope,
        client_id=cid, client_scope_id="does-not-exist", payload={},
    )
    assert body["error"] == "Client scope not found"

    # Installation provider (ClientResource.getInstallationProvider; KeycloakOIDCClientInstallation).
    installation = admin.get_client_installation_provider(client_id=cid, provider_id="keycloak-oidc-keycloak-json")
    assert set(installation) == {"auth-server-url", "confidential-port", "credentials", "realm", "resource", "ssl-required"}
    assert installation["realm"] == realm
    assert installation["resource"] == "py-app"
    assert installation["credentials"] == {"secret": regenerated["value"]}
    assert installation["auth-server-url"].rstrip("/") == SERVER
    body = fails(KeycloakGetError, 404, admin.get_client_installation_provider, client_id=cid, provider_id="bad")
    assert body["error"] == "Unknown Provider"

    # Delete.
    assert admin.delete_client(client_id=cid) == {}
    body = fails(KeycloakGetError, 404, admin.get_client, client_id=cid)
    assert body["error"] == "Could not find client"
    body = fails(KeycloakDeleteError, 404, admin.delete_client, client_id=cid)
    assert body["error"] == "Could not find client"


# ---------------------------------------------------------------------------------------------
# Users (UsersResource.java, UserResource.java)


def test_users_crud_search_paging(admin, realm):
    assert admin.get_users() == []
    ann = admin.create_user(payload=person("ann", firstName="Ann", lastName="Archer"))
    anna = admin.create_user(payload=person("anna", email="anna@example.org", firstName="Anna", lastName="Bell"))
    bob = admin.create_user(payload=person("bob", firstName="Bob", lastName="Cole"))
    assert len({ann, anna, bob}) == 3

    # UsersResource.createUser: ErrorResponse.exists("User exists with same username" / "... email")
    body = fails(KeycloakPostError, 409, admin.create_user, payload=person("ann"))
    assert body == {"errorMessage": "User exists with same username"}
    body = fails(KeycloakPostError, 409, admin.create_user, payload=person("other", email="bob@example.com"))
    assert body == {"errorMessage": "User exists with same email"}

    # search: prefix over username, email, first and last name; *x* infix (Keycloak 22+).
    assert names(admin.get_users(query={"search": "ann"}), "username") == {"ann", "anna"}
    assert names(admin.get_users(query={"search": "bob"}), "username") == {"bob"}
    assert names(admin.get_users(query={"search": "Bell"}), "username") == {"anna"}
    assert admin.get_users(query={"search": "nn"}) == []
    assert names(admin.get_users(query={"search": "*nn*"}), "username") == {"ann", "anna"}
    # username + exact (python-keycloak sends exact=True, i.e. the string "True").
    assert [u["id"] for u in admin.get_users(query={"username": "ann", "exact": True})] == [ann]
    assert admin.get_user_id(username="anna") == anna
    assert admin.get_user_id(username="nobody") is None
    assert [u["id"] for u in admin.get_users(query={"email": "bob@example.com"})] == [bob]
    # first / max paging, users ordered by username.
    assert [u["username"] for u in admin.get_users(query={"first": 0, "max": 2})] == ["ann", "anna"]
    assert [u["username"] for u in admin.get_users(query={"first": 2, "max": 2})] == ["bob"]
    assert [u["username"] for u in admin.get_users(query={"first": 1, "max": 1})] == ["anna"]

    # GET /users/count answers a bare number.
    assert admin.users_count() == 3
    assert admin.users_count(query={"search": "ann"}) == 2
    assert admin.users_count(query={"username": "nobody"}) == 0

    user = admin.get_user(user_id=ann)
    assert user["id"] == ann
    assert user["username"] == "ann"
    assert user["email"] == "ann@example.com"
    assert user["firstName"] == "Ann"
    assert user["lastName"] == "Archer"
    assert user["enabled"] is True
    assert isinstance(user["createdTimestamp"], int)
    body = fails(KeycloakGetError, 404, admin.get_user, user_id="does-not-exist")
    assert body["error"] == "User not found"

    # Partial update keeps the other fields.
    assert admin.update_user(user_id=ann, payload={"firstName": "Annie"}) == {}
    user = admin.get_user(user_id=ann)
    assert user["firstName"] == "Annie"
    assert user["lastName"] == "Archer"
    assert user["email"] == "ann@example.com"
    assert user["enabled"] is True
    assert admin.update_user(user_id=ann, payload={"enabled": False}) == {}
    assert admin.get_user(user_id=ann)["enabled"] is False
    body = fails(KeycloakPutError, 400, admin.update_user, user_id=ann, payload={"wrong": "payload"})
    assert "Unrecognized field" in text(body)
    body = fails(KeycloakPutError, 404, admin.update_user, user_id="does-not-exist", payload={"firstName": "x"})
    assert body["error"] == "User not found"

    assert admin.delete_user(user_id=bob) == {}
    body = fails(KeycloakGetError, 404, admin.get_user, user_id=bob)
    assert body["error"] == "User not found"
    body = fails(KeycloakDeleteError, 404, admin.delete_user, user_id=bob)
    assert body["error"] == "User not found"
    assert admin.users_count() == 2


def test_user_password_role_mappings_and_groups(admin, realm):
    login_client(admin)
    carol = admin.create_user(payload=person("carol"))

    # Temporary password: UPDATE_PASSWORD required action; the password grant then answers
    # 400 {"error":"invalid_grant","error_description":"Account is not fully set up"}.
    assert admin.set_user_password(user_id=carol, password="first-pw", temporary=True) == {}
    assert "UPDATE_PASSWORD" in admin.get_user(user_id=carol)["requiredActions"]
    body = fails(KeycloakPostError, 400, oidc(realm).token, "carol", "first-pw")
    assert body["error"] == "invalid_grant"
    assert body["error_description"] == "Account is not fully set up"

    # Non-temporary password: the required action is dropped (UserResource.resetPassword) and
    # the new password logs in; the old one does not.
    assert admin.set_user_password(user_id=carol, password="second-pw", temporary=False) == {}
    assert "UPDATE_PASSWORD" not in admin.get_user(user_id=carol)["requiredActions"]
    assert claims_for(realm, "carol", "second-pw")["preferred_username"] == "carol"
    with pytest.raises(KeycloakAuthenticationError):
        oidc(realm).token("carol", "first-pw")

    # Realm role mappings.
    assert admin.create_realm_role(payload={"name": "py-editor"}) == "py-editor"
    editor = admin.get_realm_role(role_name="py-editor")
    direct = names(admin.get_realm_roles_of_user(user_id=carol))
    assert f"default-roles-{realm}" in direct
    assert "py-editor" not in direct
    assert admin.assign_realm_roles(user_id=carol, roles=[editor]) == {}
    assert "py-editor" in names(admin.get_realm_roles_of_user(user_id=carol))
    assert {"py-editor", "offline_access", "uma_authorization"} <= names(admin.get_composite_realm_roles_of_user(user_id=carol))
    assert admin.delete_realm_roles_of_user(user_id=carol, roles=[editor]) == {}
    assert "py-editor" not in names(admin.get_realm_roles_of_user(user_id=carol))
    body = fails(KeycloakGetError, 404, admin.get_realm_roles_of_user, user_id="does-not-exist")
    assert body["error"] == "User not found"

    # Client role mappings.
    api = admin.create_client(payload={"clientId": "py-api", "publicClient": False})
    admin.create_client_role(client_role_id=api, payload={"name": "py-api-role"})
    api_role = admin.get_client_role(client_id=api, role_name="py-api-role")
    assert admin.get_client_roles_of_user(user_id=carol, client_id=api) == []
    assert admin.assign_client_role(user_id=carol, client_id=api, roles=[api_role]) == {}
    assert names(admin.get_client_roles_of_user(user_id=carol, client_id=api)) == {"py-api-role"}
    claims = claims_for(realm, "carol", "second-pw")
    assert claims["resource_access"]["py-api"]["roles"] == ["py-api-role"]
    assert admin.delete_client_roles_of_user(user_id=carol, client_id=api, roles=[api_role]) == {}
    assert admin.get_client_roles_of_user(user_id=carol, client_id=api) == []
    assert "py-api" not in claims_for(realm, "carol", "second-pw").get("resource_access", {})

    # Groups: join, list, leave.
    team = admin.create_group(payload={"name": "py-team"})
    assert admin.get_user_groups(user_id=carol) == []
    assert admin.group_user_add(user_id=carol, group_id=team) == {}
    joined = admin.get_user_groups(user_id=carol)
    assert [(g["id"], g["name"], g["path"]) for g in joined] == [(team, "py-team", "/py-team")]
    assert [u["id"] for u in admin.get_group_members(group_id=team)] == [carol]
    assert admin.group_user_remove(user_id=carol, group_id=team) == {}
    assert admin.get_user_groups(user_id=carol) == []
    assert admin.get_group_members(group_id=team) == []

    assert admin.delete_user(user_id=carol) == {}
    # An unknown user at the password grant is 400 invalid_grant in Keycloak (a wrong password
    # is 401): ../shared/reference/keycloak-wire-details.md §4.4.
    body = fails(KeycloakPostError, 400, oidc(realm).token, "carol", "second-pw")
    assert body == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_role_change_is_visible_in_the_next_token(admin, realm):
    login_client(admin)
    uid = admin.create_user(payload=person("tina"))
    admin.set_user_password(user_id=uid, password="tina-pw", temporary=False)
    admin.create_realm_role(payload={"name": "py-approver"})
    admin.create_realm_role(payload={"name": "py-via-group"})

    before = claims_for(realm, "tina", "tina-pw")
    assert "py-approver" not in before["realm_access"]["roles"]
    assert f"default-roles-{realm}" in before["realm_access"]["roles"]

    admin.assign_realm_roles(user_id=uid, roles=[admin.get_realm_role(role_name="py-approver")])
    assert "py-approver" in claims_for(realm, "tina", "tina-pw")["realm_access"]["roles"]

    # A realm role reaches the token through a group as well.
    gid = admin.create_group(payload={"name": "py-approvers"})
    admin.assign_group_realm_roles(group_id=gid, roles=[admin.get_realm_role(role_name="py-via-group")])
    admin.group_user_add(user_id=uid, group_id=gid)
    roles = claims_for(realm, "tina", "tina-pw")["realm_access"]["roles"]
    assert {"py-approver", "py-via-group"} <= set(roles)

    admin.delete_realm_roles_of_user(user_id=uid, roles=[admin.get_realm_role(role_name="py-approver")])
    admin.group_user_remove(user_id=uid, group_id=gid)
    roles = claims_for(realm, "tina", "tina-pw")["realm_access"]["roles"]
    assert "py-approver" not in roles
    assert "py-via-group" not in roles


# ---------------------------------------------------------------------------------------------
# Realm roles (RoleContainerResource.java, RoleByIdResource.java)


def test_realm_roles(admin, realm):
    assert {"offline_access", "uma_authorization", f"default-roles-{realm}"} <= names(admin.get_realm_roles())

    assert admin.create_realm_role(payload={"name": "py-base", "description": "base"}) == "py-base"
    # RoleContainerResource.createRole: ErrorResponse.exists("Role with name " + name + " already exists")
    body = fails(KeycloakPostError, 409, admin.create_realm_role, payload={"name": "py-base"})
    assert body == {"errorMessage": "Role with name py-base already exists"}
    assert "py-base" in names(admin.get_realm_roles(search_text="py-"))
    assert "offline_access" not in names(admin.get_realm_roles(search_text="py-"))

    base = admin.get_realm_role(role_name="py-base")
    assert base["id"]
    assert base["name"] == "py-base"
    assert base["description"] == "base"
    assert base["composite"] is False
    assert base["clientRole"] is False
    assert admin.get_realm_role_by_id(role_id=base["id"])["name"] == "py-base"

    assert admin.update_realm_role(role_name="py-base", payload={"name": "py-base", "description": "changed"}) == {}
    assert admin.get_realm_role(role_name="py-base")["description"] == "changed"

    # Composites.
    assert admin.create_realm_role(payload={"name": "py-admin"}) == "py-admin"
    assert admin.add_composite_realm_roles_to_role(role_name="py-admin", roles=[admin.get_realm_role(role_name="py-base")]) == {}
    assert names(admin.get_composite_realm_roles_of_role(role_name="py-admin")) == {"py-base"}
    assert admin.get_realm_role(role_name="py-admin")["composite"] is True
    body = fails(KeycloakGetError, 404, admin.get_composite_realm_roles_of_role, role_name="nope")
    assert body["error"] == "Could not find role"

    # Role members are direct holders only; effective roles expand composites.
    dave = admin.create_user(payload=person("dave"))
    admin.assign_realm_roles(user_id=dave, roles=[admin.get_realm_role(role_name="py-admin")])
    assert [u["username"] for u in admin.get_realm_role_members(role_name="py-admin")] == ["dave"]
    assert admin.get_realm_role_members(role_name="py-base") == []
    assert {"py-admin", "py-base"} <= names(admin.get_composite_realm_roles_of_user(user_id=dave))
    body = fails(KeycloakGetError, 404, admin.get_realm_role_members, role_name="nope")
    assert body["error"] == "Could not find role"

    assert admin.remove_composite_realm_roles_to_role(role_name="py-admin", roles=[admin.get_realm_role(role_name="py-base")]) == {}
    assert admin.get_composite_realm_roles_of_role(role_name="py-admin") == []

    assert admin.delete_realm_role(role_name="py-base") == {}
    body = fails(KeycloakGetError, 404, admin.get_realm_role, role_name="py-base")
    assert body["error"] == "Could not find role"
    body = fails(KeycloakDeleteError, 404, admin.delete_realm_role, role_name="py-base")
    assert body["error"] == "Could not find role"
    body = fails(KeycloakPutError, 404, admin.update_realm_role, role_name="py-base", payload={"name": "py-base"})
    assert body["error"] == "Could not find role"


# ---------------------------------------------------------------------------------------------
# Groups (GroupsResource.java, GroupResource.java)


def test_groups(admin, realm):
    assert admin.get_groups() == []
    parent = admin.create_group(payload={"name": "py-parent"})
    assert parent
    # GroupsResource.addTopLevelGroup: ErrorResponse.exists("Top level group named '" + name + "' already exists.")
    body = fails(KeycloakPostError, 409, admin.create_group, payload={"name": "py-parent"})
    assert body == {"errorMessage": "Top level group named 'py-parent' already exists."}

    child = admin.create_group(payload={"name": "py-child"}, parent=parent)
    assert child and child != parent
    # GroupResource.addChild: ErrorResponse.exists("Sibling group named '" + name + "' already exists.")
    body = fails(KeycloakPostError, 409, admin.create_group, payload={"name": "py-child"}, parent=parent)
    assert body == {"errorMessage": "Sibling group named 'py-child' already exists."}

    got = admin.get_group(group_id=child)
    assert got["id"] == child
    assert got["name"] == "py-child"
    assert got["path"] == "/py-parent/py-child"
    assert got["parentId"] == parent
    body = fails(KeycloakGetError, 404, admin.get_group, group_id="does-not-exist")
    assert body["error"] == "Could not find group by id"

    # GET /groups lists top-level groups only (with subGroupCount since Keycloak 23);
    # python-keycloak fills subGroups from /groups/{id}/children.
    raw = admin.connection.raw_get(f"admin/realms/{realm}/groups")
    assert raw.status_code == 200
    assert [(g["name"], g["path"], g["subGroupCount"]) for g in raw.json()] == [("py-parent", "/py-parent", 1)]
    tree = admin.get_groups()
    assert [g["id"] for g in tree] == [parent]
    assert [(g["id"], g["path"]) for g in tree[0]["subGroups"]] == [(child, "/py-parent/py-child")]
    assert [g["id"] for g in admin.get_group_children(group_id=parent)] == [child]

    # Members are direct only.
    eve = admin.create_user(payload=person("eve"))
    admin.group_user_add(user_id=eve, group_id=child)
    assert [u["username"] for u in admin.get_group_members(group_id=child)] == ["eve"]
    assert admin.get_group_members(group_id=parent) == []
    assert [g["path"] for g in admin.get_user_groups(user_id=eve)] == ["/py-parent/py-child"]
    body = fails(KeycloakGetError, 404, admin.get_group_members, group_id="does-not-exist")
    assert body["error"] == "Could not find group by id"

    # Group realm role mapping.
    admin.create_realm_role(payload={"name": "py-grp-role"})
    role = admin.get_realm_role(role_name="py-grp-role")
    assert admin.assign_group_realm_roles(group_id=child, roles=[role]) == {}
    assert names(admin.get_group_realm_roles(group_id=child)) == {"py-grp-role"}
    assert "py-grp-role" in names(admin.get_composite_realm_roles_of_user(user_id=eve))
    assert "py-grp-role" not in names(admin.get_realm_roles_of_user(user_id=eve))
    assert admin.delete_group_realm_roles(group_id=child, roles=[role]) == {}
    assert admin.get_group_realm_roles(group_id=child) == []

    # Rename moves the path.
    assert admin.update_group(group_id=child, payload={"name": "py-child2"}) == {}
    assert admin.get_group(group_id=child)["path"] == "/py-parent/py-child2"

    # Deleting the parent deletes the subtree.
    assert admin.delete_group(group_id=parent) == {}
    body = fails(KeycloakGetError, 404, admin.get_group, group_id=child)
    assert body["error"] == "Could not find group by id"
    assert admin.get_groups() == []
    assert admin.get_user_groups(user_id=eve) == []


# ---------------------------------------------------------------------------------------------
# Client scopes (ClientScopesResource.java, ClientScopeResource.java, RealmAdminResource.java)


def test_client_scopes(admin, realm):
    builtin = names(admin.get_client_scopes())
    assert {"profile", "email", "roles", "web-origins", "offline_access"} <= builtin

    sid = admin.create_client_scope(
        payload={
            "name": "py-claims",
            "description": "py scope",
            "protocol": "openid-connect",
            "attributes": {"include.in.token.scope": "true"},
        },
    )
    assert sid
    # ClientScopesResource.createClientScope: ErrorResponse.exists("Client Scope " + name + " already exists")
    body = fails(KeycloakPostError, 409, admin.create_client_scope, payload={"name": "py-claims", "protocol": "openid-connect"})
    assert body == {"errorMessage": "Client Scope py-claims already exists"}
    assert "py-claims" in names(admin.get_client_scopes())

    scope = admin.get_client_scope(client_scope_id=sid)
    assert scope["id"] == sid
    assert scope["name"] == "py-claims"
    assert scope["description"] == "py scope"
    assert scope["protocol"] == "openid-connect"
    assert scope["attributes"]["include.in.token.scope"] == "true"
    body = fails(KeycloakGetError, 404, admin.get_client_scope, client_scope_id="does-not-exist")
    assert body["error"] == "Could not find client scope"

    # Mapper on the scope.
    assert admin.get_mappers_from_client_scope(client_scope_id=sid) == []
    mapper = {
        "name": "py-team",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "team", "claim.value": "py", "jsonType.label": "String", "access.token.claim": "true"},
    }
    assert admin.add_mapper_to_client_scope(client_scope_id=sid, payload=mapper) == b""
    mappers = admin.get_mappers_from_client_scope(client_scope_id=sid)
    assert [(m["name"], m["protocolMapper"]) for m in mappers] == [("py-team", "oidc-hardcoded-claim-mapper")]
    body = fails(KeycloakPostError, 404, admin.add_mapper_to_client_scope, client_scope_id=sid, payload={})
    assert body["error"] == "ProtocolMapper provider not found"

    # Realm default-default client scopes: clients created afterwards get the scope.
    defaults = admin.get_default_default_client_scopes()
    assert {"profile", "email"} <= names(defaults)
    assert "py-claims" not in names(defaults)
    assert admin.add_default_default_client_scope(scope_id=sid) == {}
    assert {"id": sid, "name": "py-claims"} in [{"id": s["id"], "name": s["name"]} for s in admin.get_default_default_client_scopes()]
    late = admin.create_client(payload={"clientId": "py-late", "publicClient": True, "directAccessGrantsEnabled": True})
    assert "py-claims" in names(admin.get_client_default_client_scopes(client_id=late))
    # ... and the scope's mapper shows up in that client's tokens.
    uid = admin.create_user(payload=person("sam"))
    admin.set_user_password(user_id=uid, password="sam-pw", temporary=False)
    assert claims_for(realm, "sam", "sam-pw", "py-late")["team"] == "py"
    assert admin.delete_default_default_client_scope(scope_id=sid) == {}
    assert "py-claims" not in names(admin.get_default_default_client_scopes())
    body = fails(KeycloakPutError, 404, admin.add_default_default_client_scope, scope_id="does-not-exist")
    assert body["error"] == "Client scope not found"
    body = fails(KeycloakDeleteError, 404, admin.delete_default_default_client_scope, scope_id="does-not-exist")
    assert body["error"] == "Client scope not found"

    # Delete (the client using it goes first: Keycloak refuses to delete a scope in use).
    admin.delete_client(client_id=late)
    assert admin.delete_client_scope(client_scope_id=sid) == {}
    body = fails(KeycloakGetError, 404, admin.get_client_scope, client_scope_id=sid)
    assert body["error"] == "Could not find client scope"


# ---------------------------------------------------------------------------------------------
# Initial access tokens (ClientInitialAccessResource.java)


def test_initial_access_tokens(admin, realm):
    created = admin.create_initial_access_token(count=2, expiration=3600)  # POST answers 200, not 201
    assert created["token"]
    assert created["id"]
    assert created["count"] == 2
    assert created["expiration"] == 3600
    assert created["remainingCount"] == 2
    assert isinstance(created["timestamp"], int)

    path = f"admin/realms/{realm}/clients-initial-access"
    listed = admin.connection.raw_get(path)
    assert listed.status_code == 200
    [entry] = listed.json()
    assert entry["id"] == created["id"]
    assert "token" not in entry
    assert entry["count"] == 2
    assert entry["remainingCount"] == 2
    assert entry["expiration"] == 3600

    deleted = admin.connection.raw_delete(f"{path}/{created['id']}")
    assert deleted.status_code == 204
    assert admin.connection.raw_get(path).json() == []


# ---------------------------------------------------------------------------------------------
# Keys (KeyResource.java)


def test_keys(admin, realm):
    keys = admin.get_keys()
    assert "RS256" in keys["active"]
    rs256 = [k for k in keys["keys"] if k["algorithm"] == "RS256" and k["status"] == "ACTIVE"]
    assert rs256
    active = next(k for k in rs256 if k["kid"] == keys["active"]["RS256"])
    assert active["type"] == "RSA"
    assert active["use"] == "SIG"
    assert active["publicKey"]
    assert active["certificate"]
    assert active["providerId"]
    assert isinstance(active["providerPriority"], int)
    certs = oidc(realm, "admin-cli").certs()
    assert keys["active"]["RS256"] in {k["kid"] for k in certs["keys"]}


# ---------------------------------------------------------------------------------------------
# Permission boundaries (AdminRoot.java, RealmsAdminResource.java, permissions/*)


def realm_user_with_client_role(admin, realm, username, password, role):
    admin.change_current_realm(realm)
    uid = admin.create_user(payload=person(username))
    admin.set_user_password(user_id=uid, password=password, temporary=False)
    rm = admin.get_client_id(client_id="realm-management")
    admin.assign_client_role(user_id=uid, client_id=rm, roles=[admin.get_client_role(client_id=rm, role_name=role)])
    admin.change_current_realm("master")
    return uid


def realm_admin_client(realm, username, password):
    # Token from the realm's own admin-cli (public, direct grants on in every new realm).
    return KeycloakAdmin(
        server_url=SERVER, username=username, password=password, realm_name=realm, user_realm_name=realm,
    )


def test_realm_admin_is_confined_to_its_realm(admin):
    a, b = unique("py-tenant-a"), unique("py-tenant-b")
    try:
        for name in (a, b):
            admin.create_realm(payload={"realm": name, "enabled": True})
        realm_user_with_client_role(admin, a, "boss", "boss-pw", "realm-admin")
        admin.change_current_realm(b)
        b_user = admin.create_user(payload=person("b-user"))
        admin.change_current_realm("master")

        tenant = realm_admin_client(a, "boss", "boss-pw")
        assert "boss" in names(tenant.get_users(), "username")
        assert tenant.create_user(payload=person("hired")) is not None
        # GET /admin/realms is filtered to the realms the caller may view.
        assert names(tenant.get_realms(), "realm") == {a}

        # RealmsAdminResource.getRealmAdmin: a token whose realm is neither master nor the target
        # realm -> ForbiddenException -> 403 {"error":"HTTP 403 Forbidden"} (not 401: the token is valid).
        tenant.change_current_realm(b)
        body = fails(KeycloakGetError, 403, tenant.get_users)
        assert body["error"] == "HTTP 403 Forbidden"
        body = fails(KeycloakGetError, 403, tenant.get_user, user_id=b_user)
        assert body["error"] == "HTTP 403 Forbidden"
        fails(KeycloakPostError, 403, tenant.create_user, payload=person("intruder"))
        fails(KeycloakGetError, 403, tenant.get_realm, realm_name=b)
        # Creating realms needs the master realm's create-realm/admin role.
        fails(KeycloakPostError, 403, tenant.create_realm, payload={"realm": unique()})
        # An unknown realm is still 404 (the realm is looked up first).
        body = fails(KeycloakGetError, 404, tenant.get_realm, realm_name=unique("py-nowhere"))
        assert body["error"] == "Realm not found."

        # Without a token, or with a garbage one: 401 (AdminRoot.authenticateRealmAdminRequest).
        assert requests.get(f"{SERVER}/admin/realms/{a}/users", timeout=10).status_code == 401
        bogus = {"Authorization": "Bearer not-a-jwt"}
        assert requests.get(f"{SERVER}/admin/realms/{a}/users", headers=bogus, timeout=10).status_code == 401
    finally:
        admin.change_current_realm("master")
        drop_realm(admin, a)
        drop_realm(admin, b)


def test_view_users_role_reads_but_cannot_write(admin, realm):
    admin.change_current_realm("master")
    realm_user_with_client_role(admin, realm, "viewer", "viewer-pw", "view-users")
    admin.change_current_realm(realm)
    target = admin.create_user(payload=person("target"))

    viewer = realm_admin_client(realm, "viewer", "viewer-pw")
    assert {"viewer", "target"} <= names(viewer.get_users(), "username")
    assert viewer.get_user(user_id=target)["username"] == "target"
    assert viewer.users_count() >= 2

    # manage-users is missing: AdminPermissions ... requireManage -> 403 {"error":"HTTP 403 Forbidden"}
    body = fails(KeycloakPostError, 403, viewer.create_user, payload=person("sneaky"))
    assert body["error"] == "HTTP 403 Forbidden"
    body = fails(KeycloakPutError, 403, viewer.update_user, user_id=target, payload={"firstName": "Changed"})
    assert body["error"] == "HTTP 403 Forbidden"
    fails(KeycloakDeleteError, 403, viewer.delete_user, user_id=target)
    fails(KeycloakPutError, 403, viewer.set_user_password, user_id=target, password="x", temporary=False)
    # view-users does not include view-clients.
    fails(KeycloakGetError, 403, viewer.get_clients)

    assert admin.get_user(user_id=target)["firstName"] == "Target"
    assert admin.get_user_id(username="sneaky") is None

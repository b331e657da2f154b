#!/usr/bin/env python3
"""Writes a realm file with N users, each with an argon2 password hash in Keycloak's
secretData/credentialData format (one precomputed hash; import cost does not depend on it)."""
import json, sys, uuid

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
out = sys.argv[2] if len(sys.argv) > 2 else "users-realm.json"
secret = json.dumps({"value": "/TYJK1xTEhVVvMmtRdlq1wOnd4Yl5rS5Oi4PYKHbqcU=", "salt": "BKUMaHaDE18IlOAlhJ77bQ==", "additionalParameters": {}})
cred = json.dumps({"hashIterations": 5, "algorithm": "argon2", "additionalParameters": {"hashLength": ["32"], "memory": ["7168"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}})
with open(out, "w") as f:
    f.write('{"realm": "bulk", "enabled": true, "users": [')
    for i in range(n):
        if i:
            f.write(",")
        f.write(json.dumps({
            "id": str(uuid.uuid4()), "username": f"user{i:06d}", "email": f"user{i:06d}@example.com",
            "firstName": "User", "lastName": str(i), "enabled": True, "emailVerified": True,
            "attributes": {"tenant": ["t%d" % (i % 50)]},
            "credentials": [{"id": str(uuid.uuid4()), "type": "password", "createdDate": 1700000000000, "secretData": secret, "credentialData": cred}],
            "requiredActions": [], "realmRoles": ["default-roles-bulk"], "groups": []
        }))
    f.write("]}")

// Test data the TLS unit tests share (not built into dist: tsconfig.build.json).

/** A self-signed CA certificate (PEM), for parsing only. */
export const CA = `-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUTkgoch0ZNYZYplHcK3CH1RRgweAwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSTnVkZ2UgdW5pdCB0ZXN0IENBMB4XDTI2MTIwNzAxMjUyMVoX
DTI2MTIwODAxMjUyMVowHTEbMBkGA1UEAwwSTnVkZ2UgdW5pdCB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETuWvRZNkFsFlKYsNHbsRcLFZS+ZqNojD
g4R9UFSA6bd/n6CXD6yiv0wYfJ2YGm6L+aBBRBImmBxPujAp1q74rqNTMFEwHQYD
VR0OBBYEFPSILy/eLuXFqwf8zHREIFByhTxNMB8GA1UdIwQYMBaAFPSILy/eLuXF
qwf8zHREIFByhTxNMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
ANQX7oJJQntNhVRgDghSgPyu2yMnurDeUJWXPORMTGleAiAbP9IgZKMswxi8nyM+
aeA0aYKes0vYykTZ+oPfi1qrgA==
-----END CERTIFICATE-----
`;

/** The same certificate, DER. */
export const DER = Buffer.from(CA.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');

/** A Supabase direct connection string. */
export const SUPABASE = 'postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres';
